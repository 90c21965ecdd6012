import { checkpointJson } from '../integrity/checkpoint.js'
import { toJsonText } from '../versioning/json.js'
import { anchorOf, listAnchors } from '../store/anchors.js'
import { headsAt, lastCheckpoint, listCheckpoints } from '../store/checkpoints.js'
import { exportPage, previousHashes, type ExportFilter } from '../store/export.js'
import { lastRecord, listRecords } from '../store/integrity-records.js'
import { committedUpTo } from './checkpoints.js'
import type { ServiceContext } from './context.js'
import { withoutExcluded } from './excluded-values.js'

const PAGE = 500

/**
 * The tenant's history as NDJSON lines, enough for `rewind verify` to check it without the
 * service: the anchors of pruned entities, each transaction with its versions (values,
 * salts, kept commitments, hashes) in id order, the integrity records, the checkpoints,
 * the heads of the newest one, and an `end` line with the counts (a cut export is seen).
 * A filtered export (`after`, `since`, `until`, `type`) instead carries, before each
 * entity's first exported version, the hash that version chains to. Values of fields a
 * type excludes leave as their commitments only (as erased values do).
 */
export async function * exportLines (ctx: ServiceContext, filter: ExportFilter, cursorOf: (transactionId: number) => string): AsyncGenerator<string> {
  const { db, tenant } = ctx
  const definitions = await ctx.definitions.get(db)
  const filtered = filter.after !== undefined || filter.since !== undefined || filter.until !== undefined || filter.type !== undefined
  const line = (value: unknown): string => `${toJsonText(value)}\n`
  // The history as of the start: the transactions up to one before which all had committed,
  // and the records and checkpoints made so far (those made while it runs are the next export's).
  const upTo = await committedUpTo(db, tenant)
  const latest = await lastCheckpoint(db, tenant)
  const lastRecordSequence = (await lastRecord(db, tenant))?.sequence ?? 0 // read after it: every record it names is exported
  yield line({ kind: 'export', tenant, exportedAt: new Date().toISOString(), filtered, filter })
  if (!filtered) {
    for (let after: { type: string, id: string } | undefined; ;) {
      const anchors = await listAnchors(db, tenant, after, PAGE)
      for (const a of anchors) yield line({ kind: 'anchor', ...a })
      if (anchors.length < PAGE) break
      after = anchors[anchors.length - 1]
    }
  }
  const seen = new Set<string>()
  let transactions = 0
  let versions = 0
  for (let after = filter.after; ;) {
    const page = await exportPage(db, tenant, { ...filter, after, upTo }, PAGE)
    if (filtered) {
      // Each entity's first version in the export (one per entity), when it is not the entity's first ever.
      const first = new Map<string, (typeof page)[number]['versions'][number]>()
      for (const v of page.flatMap((p) => p.versions)) {
        const ref = `${v.type}\u0000${v.id}`
        if (!seen.has(ref) && !first.has(ref)) first.set(ref, v)
      }
      const previous = await previousHashes(db, tenant, [...first.values()].filter((v) => v.index > 0))
      for (const [ref, v] of first) {
        seen.add(ref)
        if (v.index === 0) continue
        // The version before it is stored, or pruned: then the entity's anchor holds its hash.
        const hash = previous.get(ref) ?? (await anchorOf(db, tenant, { type: v.type, key: v.id }))?.hash
        if (hash !== undefined) yield line({ kind: 'anchor', type: v.type, id: v.id, index: v.index, transactionId: null, hash })
      }
    }
    for (const { transaction, versions: list } of page) {
      transactions++
      versions += list.length
      yield line({ kind: 'transaction', cursor: cursorOf(transaction.id), transaction, versions: list.map((v) => withoutExcluded(definitions, v)) })
    }
    if (page.length < PAGE) break
    after = page[page.length - 1]!.transaction.id
  }
  for (let after: number | undefined; ;) {
    const records = (await listRecords(db, tenant, { after, limit: PAGE })).filter((r) => r.sequence <= lastRecordSequence)
    for (const r of records) yield line({ kind: 'record', record: r })
    if (records.length < PAGE) break
    after = records[records.length - 1]!.sequence
  }
  for (let after: number | undefined; ;) {
    const checkpoints = (await listCheckpoints(db, tenant, { after, limit: PAGE, order: 'asc' })).filter((c) => c.sequence <= (latest?.checkpoint.sequence ?? 0))
    for (const c of checkpoints) yield line({ kind: 'checkpoint', checkpoint: checkpointJson(c) })
    if (checkpoints.length < PAGE) break
    after = checkpoints[checkpoints.length - 1]!.sequence
  }
  if (!filtered && latest !== undefined) {
    for (let after: { type: string, id: string } | undefined; ;) {
      const heads = await headsAt(db, tenant, latest.checkpoint.sequence, after, PAGE)
      for (const h of heads) yield line({ kind: 'head', sequence: latest.checkpoint.sequence, ...h })
      if (heads.length < PAGE) break
      after = heads[heads.length - 1]
    }
  }
  yield line({ kind: 'end', transactions, versions })
}
