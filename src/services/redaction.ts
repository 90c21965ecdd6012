import { randomUUID } from 'node:crypto'
import { commitmentsOf, defineField, type Erased } from '../integrity/commitments.js'
import { redactedMarker } from '../integrity/seal.js'
import { invalid, notFound } from '../versioning/errors.js'
import { isJsonObject, setField, type JsonObject, type JsonValue } from '../versioning/json.js'
import { entityRef } from '../versioning/keys.js'
import { inTransaction } from '../store/database.js'
import { answersShowing, redactVersions, replaceAnswer } from '../store/erasure.js'
import { entityChain } from '../store/history-scan.js'
import { appendRecord, listRecords, type StoredRecord } from '../store/integrity-records.js'
import { lockEntities } from '../store/locks.js'
import type { ServiceContext } from './context.js'
import { definitionsWith } from './history.js'
import { readPage, type Page } from './page.js'
import { recordedNames, schemaMappings } from './schema.js'

/** A redaction as the API shows it. */
export interface Redaction {
  id: string
  type: string
  entityId: string
  fields: string[]
  reason: string | null
  versions: number
  recordedBy: { keyId: string | null, keyName?: string } | null
  createdAt: string
}

const toRedaction = (record: StoredRecord): Redaction => ({ ...(record.body as unknown as Omit<Redaction, 'createdAt'>), createdAt: record.createdAt })

/**
 * Erases the fields' values from every version of the entity (data and changeset) and from
 * every stored idempotent answer that shows them, and records the redaction. Each erased
 * value's commitment is kept in place of its salt, so the chain still verifies, every other
 * value still verifies against its own salt, and nothing kept can be tried against
 * candidate values. The entity is locked meanwhile; this process forgets its latest state.
 */
export async function redactEntity (ctx: ServiceContext, type: string, key: string, fields: readonly string[], reason: string | undefined): Promise<Redaction> {
  const definitions = await definitionsWith(ctx, type)
  const idField = definitions.get(type)!.idFields.find((f) => fields.includes(f))
  if (idField !== undefined) throw invalid(`fields: "${idField}" is an id field of "${type}": it names the entity and cannot be redacted`)
  const unique = [...new Set(fields)]
  const id = `red_${randomUUID().replaceAll('-', '')}`
  const redaction = await inTransaction(ctx.db, async (trx) => {
    await lockEntities(trx, ctx.tenant, [entityRef(type, key)])
    const versions = await entityChain(trx, ctx.tenant, type, key, 0, Number.MAX_SAFE_INTEGER)
    if (versions.length === 0) throw notFound(`${type} "${key}" has no versions`)
    const erased: Array<{ seq: number, erased: Erased, fields: string[] }> = []
    for (const v of versions) {
      // The fields under the names this version was recorded with (a renamed field has its old name in older versions).
      const names = recordedNames(definitions, type, v.revision, unique)
      const present = names.filter((f) => (Object.hasOwn(v.data, f) || Object.hasOwn(v.changeset, f)) && !isErased(v.erased, f))
      if (present.length === 0) continue
      const { commitments } = commitmentsOf({ data: v.data, changeset: v.changeset }, v.salts, v.erased)
      const kept: Erased = {}
      for (const f of present) if (Object.hasOwn(commitments, f)) defineField(kept, f, commitments[f]!)
      erased.push({ seq: v.index, erased: kept, fields: present })
    }
    const body: Omit<Redaction, 'createdAt'> = {
      id, type, entityId: key, fields: unique, reason: reason ?? null, versions: erased.length,
      recordedBy: ctx.caller === undefined ? null : { keyId: ctx.caller.keyId, keyName: ctx.caller.keyName }
    }
    if (erased.length > 0) await redactVersions(trx, ctx.tenant, { type, key }, id, unique, erased)
    await scrubAnswers(ctx, trx, type, key, [...new Set(unique.flatMap((f) => schemaMappings(definitions, type)?.aliases(f) ?? [f]))], id)
    return toRedaction(await appendRecord(trx, ctx.tenant, 'redaction', body as unknown as Record<string, unknown>))
  })
  ctx.latest?.forget(ctx.tenant, [entityRef(type, key)])
  return redaction
}

const isErased = (erased: Erased | null, field: string): boolean => erased !== null && Object.hasOwn(erased, field)

/** Stored idempotent answers show versions (and a revert's changes) as they were: the erased values go from them too. */
async function scrubAnswers (ctx: ServiceContext, trx: Parameters<typeof answersShowing>[0], type: string, key: string, fields: readonly string[], id: string): Promise<void> {
  const marker = redactedMarker(id)
  const scrub = (item: JsonValue): void => {
    if (!isJsonObject(item) || item.type !== type || item.id !== key) return
    if (isJsonObject(item.data)) for (const f of fields) if (Object.hasOwn(item.data, f)) setField(item.data, f, marker)
    if (isJsonObject(item.changeset)) {
      for (const f of fields) {
        const change = item.changeset[f]
        if (Array.isArray(change)) setField(item.changeset, f, change.map((side) => side === null ? null : marker))
      }
    }
  }
  for (const answer of await answersShowing(trx, ctx.tenant, { type, key })) {
    for (const list of ['versions', 'changes']) {
      const items = answer.response[list]
      if (Array.isArray(items)) items.forEach(scrub)
    }
    await replaceAnswer(trx, ctx.tenant, answer)
  }
}

/** Redactions, oldest first. */
export async function redactions ({ db, tenant }: ServiceContext, after: number | undefined, limit: number): Promise<Page<Redaction & { sequence: number }>> {
  const page = await readPage(limit, async (count) => await listRecords(db, tenant, { kind: 'redaction', after, limit: count }))
  return { items: page.items.map((r) => ({ ...toRedaction(r), sequence: r.sequence })), next: page.next === undefined ? undefined : { ...toRedaction(page.next), sequence: page.next.sequence } }
}
