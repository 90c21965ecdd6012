import { sql } from 'kysely'
import type { Anchor, PruningRecord, StoredVersion } from '../integrity/verify.js'
import { hashedTransaction } from '../integrity/version-hash.js'
import type { Erased, Salts } from '../integrity/commitments.js'
import type { JsonObject } from '../versioning/json.js'
import type { Operation } from '../versioning/version.js'
import type { Db } from './database.js'
import { inIndexOrder } from './index-order.js'
import { toId, toTransaction, type TransactionRow } from './rows.js'

/** A stored version as verification reads it, with its transaction and, on a pruned entity's oldest kept version, its anchor. */
export interface ScannedVersion extends StoredVersion {
  anchor: Anchor | undefined
  pruning: PruningRecord | undefined
  /** The type revision it was recorded under (0: before migrations existed). */
  revision: number
}

interface ScanRow {
  type: string, entity_key: string, seq: number, transaction_id: string, operation: Operation, data: JsonObject, changeset: JsonObject,
  salts: Salts, erased: Erased | null, hash: string, revision: number,
  t_id: string | null, issued_at: Date | null, recorded_at: Date | null, actor: string | null, meta: unknown, recorded_by: unknown, revert_of: unknown,
  anchor_seq: number | null, anchor_tx: string | null, anchor_hash: string | null, pruning: { keptFromIndex: number, anchorHash: string, anchorTransactionId: number } | null
}

export interface ScanPosition { type: string, id: string, index: number }

/**
 * The tenant's versions in entity order (type, id, index), after `after`, at most `limit`:
 * one range of the versions' unique index per page, whatever the size of the history.
 */
export async function scanVersions (
  db: Db, tenant: string, after: ScanPosition | undefined, limit: number, only?: { type: string, id: string, from: number, to: number }
): Promise<ScannedVersion[]> {
  const entity = only === undefined
    ? sql``
    : sql`and v.type = ${only.type} and v.entity_key = ${only.id} and v.transaction_id between ${only.from} and ${only.to}`
  const query = sql<ScanRow>`
    select v.type, v.entity_key, v.seq, v.transaction_id, v.operation, v.data, v.changeset, v.salts, v.erased, v.hash, coalesce(v.revision, 0) as revision,
      t.id as t_id, t.issued_at, t.recorded_at, t.actor, t.meta, t.recorded_by, t.revert_of,
      a.seq as anchor_seq, a.transaction_id as anchor_tx, a.hash as anchor_hash, p.body as pruning
    from versions v
    left join transactions t on t.id = v.transaction_id and t.tenant = v.tenant
    left join entity_anchors a on a.tenant = v.tenant and a.type = v.type and a.entity_key = v.entity_key
    -- The newest pruning record of an entity whose chain restarts at this row (one index probe, on that row only).
    left join lateral (select r.body from integrity_records r
      where a.seq = v.seq and r.tenant = v.tenant and r.kind = 'pruning' and r.body->>'type' = v.type and r.body->>'id' = v.entity_key
      order by r.sequence desc limit 1) p on true
    where v.tenant = ${tenant} ${after === undefined ? sql`` : sql`and (v.type, v.entity_key, v.seq) > (${after.type}, ${after.id}, ${after.index})`} ${entity}
    order by v.type, v.entity_key, v.seq limit ${limit}`
  const rows = await inIndexOrder(db, query)
  // Versions of one transaction share its hashed members (and so the canonical text made of them).
  const transactions = new Map<string, ScannedVersion['transaction']>()
  const transactionOf = (r: ScanRow): ScannedVersion['transaction'] => {
    if (r.t_id === null) return null
    let found = transactions.get(r.t_id)
    if (found === undefined) {
      found = hashedTransaction(toTransaction({ ...r, id: r.t_id } as unknown as TransactionRow))
      transactions.set(r.t_id, found)
    }
    return found
  }
  return rows.map((r) => ({
    type: r.type,
    id: r.entity_key,
    index: r.seq,
    transactionId: toId(r.transaction_id),
    operation: r.operation,
    data: r.data,
    changeset: r.changeset,
    salts: r.salts,
    erased: r.erased,
    hash: r.hash,
    revision: r.revision,
    transaction: transactionOf(r),
    anchor: r.anchor_seq === null ? undefined : { index: r.anchor_seq, transactionId: toId(r.anchor_tx!), hash: r.anchor_hash! },
    pruning: r.pruning === null ? undefined : r.pruning
  }))
}

/** One entity's versions with transaction ids in [from, to], in order, with their transactions (for proofs). */
export async function entityChain (db: Db, tenant: string, type: string, id: string, from: number, to: number): Promise<ScannedVersion[]> {
  return await scanVersions(db, tenant, undefined, 100_000, { type, id, from, to })
}
