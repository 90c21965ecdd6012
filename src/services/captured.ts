import type { ChangeInput } from '../versioning/unit-of-work.js'
import type { JsonObject } from '../versioning/json.js'
import { entityRef } from '../versioning/keys.js'
import { isLive } from '../versioning/version.js'
import { advanceSource, type SourceConfig } from '../store/capture-sources.js'
import { inTransaction, type Trx } from '../store/database.js'
import { lockEntities, lockTenantWriters } from '../store/locks.js'
import { latestVersions, liveEntityKeys } from '../store/versions.js'
import type { ServiceContext } from './context.js'
import { withCurrentDefinitions, type Definitions } from './definitions.js'
import { recordChanges, type RecordResult } from './record.js'
import { stateInCurrentSchema } from './schema.js'

/** A source row change, as capture hands it over (see src/capture/decode.ts). */
export type CapturedChange =
  | { op: 'upsert', type: string, key: string, row: JsonObject, unchanged: readonly string[] }
  | { op: 'delete', type: string, key: string }
  | { op: 'truncate', type: string }

/** One source transaction to record, and the source position it moves to. */
export interface CapturedTransaction {
  source: string
  xid: number
  commitTime: string
  endLsn: string
  actor?: string | undefined
  meta?: JsonObject | undefined
  changes: readonly CapturedChange[]
}

/**
 * Records captured source transactions, each as one Rewind transaction (the same recording
 * as POST /transactions, without its size limit), in one database transaction (one commit
 * for a batch), moving the source's position from `from` to the end of the last in the
 * same database transaction: recorded exactly once. Not recorded (nothing is) when the
 * position had moved meanwhile (another worker recorded them) or the source was
 * reconfigured since `config` (its worker starts again on the new one).
 *
 * Rows are full states: an entity the history does not know yet (or no longer: deleted) is
 * inserted; a known one is replaced (delete and insert in one unit of work: one update
 * whose changeset is the difference, columns dropped at the source included); values the
 * source did not send (unchanged TOASTed ones) are taken from the last version. A delete of
 * an entity history never knew records nothing; a truncate deletes every live entity.
 */
export async function recordCaptured (
  ctx: ServiceContext, batch: readonly CapturedTransaction[], from: string | null, config: SourceConfig
): Promise<{ recorded: boolean, results: RecordResult[] }> {
  const last = batch[batch.length - 1]
  if (last === undefined) return { recorded: true, results: [] }
  const types = [...new Set(batch.flatMap((tx) => tx.changes.map((c) => c.type)))]
  const commitAt = [...batch].reverse().find((tx) => tx.changes.length > 0)?.commitTime ?? null
  try {
    return await withCurrentDefinitions(ctx.definitions, async () => await inTransaction(ctx.db, async (trx) => await recordBatch(trx, ctx, batch, types, async () => {
      // Last: the database transaction writes nothing before the entities' locks (see the stream's cursor).
      if (!await advanceSource(trx, ctx.tenant, last.source, config, from, last.endLsn, commitAt)) throw new PositionMoved()
    })))
  } catch (error) {
    if (error instanceof PositionMoved) return { recorded: false, results: [] }
    throw error
  }
}

/** The source's position was not where the batch started: it is rolled back. */
class PositionMoved extends Error {}

async function recordBatch (
  trx: Trx, ctx: ServiceContext, batch: readonly CapturedTransaction[], types: readonly string[], advance: () => Promise<void>
): Promise<{ recorded: boolean, results: RecordResult[] }> {
  const definitions = await ctx.definitions.get(trx, types)
  // Every lock before any write: the database transaction's id then orders it after every
  // writer it waited for (the stream's cursor relies on it). A truncate touches entities found
  // only as it runs: the batch then writes alone in its tenant.
  const changes = batch.flatMap((tx) => tx.changes)
  if (changes.some((c) => c.op === 'truncate')) await lockTenantWriters(trx, ctx.tenant)
  else await lockEntities(trx, ctx.tenant, changes.map((c) => entityRef(c.type, (c as { key: string }).key)))
  const results: RecordResult[] = []
  for (const tx of batch) {
    const changes = await entityChanges(trx, ctx.tenant, definitions, tx.changes)
    if (changes.length === 0) continue
    results.push(await recordChanges(trx, ctx.tenant, definitions, {
      actor: tx.actor,
      meta: { ...tx.meta, source: { name: tx.source, xid: tx.xid, lsn: tx.endLsn } },
      issuedAt: tx.commitTime,
      recordedBy: { keyId: null, source: tx.source },
      changes
    }))
  }
  await advance()
  return { recorded: true, results }
}

async function entityChanges (trx: Trx, tenant: string, definitions: Definitions, captured: readonly CapturedChange[]): Promise<ChangeInput[]> {
  const named = captured.flatMap((c) => c.op === 'truncate' ? [] : [{ type: c.type, key: c.key }])
  const stored = await latestVersions(trx, tenant, named)
  // Each entity's state as the changes so far leave it: null when not live.
  const states = new Map<string, JsonObject | null>()
  const stateOf = (type: string, key: string): JsonObject | null => {
    const ref = entityRef(type, key)
    if (states.has(ref)) return states.get(ref)!
    const latest = stored.get(ref)
    return latest !== undefined && isLive(latest) ? stateInCurrentSchema(definitions, type, latest.revision, latest.data) : null
  }
  const changes: ChangeInput[] = []
  for (const c of captured) {
    if (c.op === 'truncate') {
      const live = new Set(await liveEntityKeys(trx, tenant, c.type))
      for (const [ref, state] of states) if (ref.startsWith(`${c.type}\u0000`)) { if (state === null) live.delete(ref.slice(c.type.length + 1)); else live.add(ref.slice(c.type.length + 1)) }
      for (const key of live) {
        changes.push({ type: c.type, op: 'delete', id: key })
        states.set(entityRef(c.type, key), null)
      }
      continue
    }
    const before = stateOf(c.type, c.key)
    if (c.op === 'delete') {
      if (before !== null) changes.push({ type: c.type, op: 'delete', id: c.key })
      states.set(entityRef(c.type, c.key), null)
      continue
    }
    const row: JsonObject = before === null ? c.row : { ...c.row, ...unchangedValues(before, c.unchanged) }
    if (before !== null) changes.push({ type: c.type, op: 'delete', id: c.key })
    changes.push({ type: c.type, op: 'insert', data: row })
    states.set(entityRef(c.type, c.key), row)
  }
  return changes
}

/** The values the source did not send (unchanged TOASTed columns), from the entity's last state. */
function unchangedValues (before: JsonObject, columns: readonly string[]): JsonObject {
  const out: JsonObject = {}
  for (const column of columns) if (Object.hasOwn(before, column)) Object.defineProperty(out, column, { value: before[column], enumerable: true, writable: true, configurable: true })
  return out
}
