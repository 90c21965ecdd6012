import { sql } from 'kysely'
import type { Db } from './database.js'
import { toTransaction, type Transaction, type TransactionRow } from './rows.js'

/** A place in the change stream: the writer's database transaction id (xid8, as text) and the transaction id. */
export interface FeedPosition { xid: string, id: number }

/**
 * The tenant's transactions after `after` in stream order ((xid, id); rows from before the
 * stream existed have xid 0), among those whose writers ended before this statement's
 * snapshot was taken: every writer still running has an xid at or above the snapshot's
 * xmin, so it can only come after what this answers. At most `limit`.
 */
export async function transactionsAfter (db: Db, tenant: string, after: FeedPosition | undefined, limit: number): Promise<Array<{ position: FeedPosition, transaction: Transaction }>> {
  const { rows } = await sql<TransactionRow & { xid_text: string }>`
    select t.id, t.issued_at, t.recorded_at, t.actor, t.meta, t.recorded_by, t.revert_of, coalesce(t.xid, '0'::xid8)::text as xid_text
    from transactions t
    where t.tenant = ${tenant}
      ${after === undefined ? sql`` : sql`and (coalesce(t.xid, '0'::xid8), t.id) > (${after.xid}::xid8, ${after.id})`}
      and coalesce(t.xid, '0'::xid8) < pg_snapshot_xmin(pg_current_snapshot())
    order by coalesce(t.xid, '0'::xid8), t.id
    limit ${limit}`.execute(db)
  return rows.map((r) => ({ position: { xid: r.xid_text, id: Number(r.id) }, transaction: toTransaction(r) }))
}
