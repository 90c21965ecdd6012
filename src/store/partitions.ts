import { sql } from 'kysely'
import type { Db, Trx } from './database.js'

/** One range of transaction ids of `versions`: attached (read and written) or archived (detached). */
export interface HistoryPartition {
  name: string
  /** The first transaction id it holds (0 for the first partition, which starts at the lowest). */
  fromId: number
  /** The first transaction id it no longer holds. */
  toId: number
  state: 'attached' | 'archived'
  changedAt: string
  /** Archived: how many versions it held, and the SHA-256 of the archive file written of it. */
  archivedRows: number | null
  archiveSha256: string | null
  /** When it was last rewritten in primary-key order (rewind_compact_partition), if ever. */
  compactedAt: string | null
}

interface PartitionRow {
  name: string, from_id: string, to_id: string, state: 'attached' | 'archived', changed_at: Date | string,
  archived_rows: string | null, archive_sha256: string | null, compacted_at: Date | string | null
}

const toPartition = (r: PartitionRow): HistoryPartition => ({
  name: r.name,
  fromId: Number(r.from_id),
  toId: Number(r.to_id),
  state: r.state,
  changedAt: new Date(r.changed_at).toISOString(),
  archivedRows: r.archived_rows === null ? null : Number(r.archived_rows),
  archiveSha256: r.archive_sha256,
  compactedAt: r.compacted_at === null ? null : new Date(r.compacted_at).toISOString()
})

/** Every partition, oldest first (process-wide: partitions hold every tenant's versions). */
export async function listPartitions (db: Db): Promise<HistoryPartition[]> {
  const { rows } = await sql<PartitionRow>`select name, from_id, to_id, state, changed_at, archived_rows, archive_sha256, compacted_at
    from version_partitions order by from_id`.execute(db)
  return rows.map(toPartition)
}

/**
 * Creates the partitions the next `ahead × size` transaction ids need, `size` ids each
 * (the owner's function, rewind_ensure_partitions): answers how many it made.
 */
export async function ensurePartitions (db: Db, size: number, ahead: number): Promise<number> {
  const { rows } = await sql<{ made: number }>`select rewind_ensure_partitions(${size}, ${ahead}) as made`.execute(db)
  return rows[0]?.made ?? 0
}

/** The next transaction id the sequence will give. */
export async function nextTransactionId (db: Db): Promise<number> {
  const { rows } = await sql<{ next: string }>`select case when is_called then last_value + 1 else last_value end as next from transactions_id_seq`.execute(db)
  return Number(rows[0]!.next)
}

/** Detaches a partition whose ids have all been drawn (the owner only): answers how many versions it holds. */
export async function detachPartition (owner: Db, name: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select rewind_detach_partition(${name}) as n`.execute(owner)
  return Number(rows[0]!.n)
}

/** Attaches an archived partition again, its table restored (the owner only): answers how many versions it holds. */
export async function attachPartition (owner: Db, name: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select rewind_attach_partition(${name}) as n`.execute(owner)
  return Number(rows[0]!.n)
}

/**
 * Rewrites an attached partition whose ids have all been drawn in primary-key order and swaps
 * the rewrite in (the owner only, rewind_compact_partition): answers how many versions it holds.
 */
export async function compactPartition (owner: Db, name: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select rewind_compact_partition(${name}) as n`.execute(owner)
  // Outside the function's transaction (VACUUM cannot run in one): its rows are marked visible to
  // all and frozen once, so that the first readers do not write every page again (hint bits) and
  // its indexes answer key-only lookups without the table; it never changes again but for redaction.
  await sql`vacuum (freeze) ${sql.table(name)}`.execute(owner)
  return Number(rows[0]!.n)
}

/** Notes the archive written of a detached partition (the owner only). */
export async function recordArchive (owner: Db, name: string, sha256: string): Promise<void> {
  await sql`update version_partitions set archive_sha256 = ${sha256}, changed_at = now() where name = ${name} and state = 'archived'`.execute(owner)
}

/** True when the table of a (detached) partition exists in this schema. */
export async function partitionTableExists (db: Db, name: string): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`select to_regclass(${name}) is not null as found`.execute(db)
  return rows[0]?.found === true
}

/** A detached partition's rows as JSON objects, in primary-key order, `limit` after the key `after`. */
export async function detachedRows (owner: Db, name: string, after: readonly [string, string, string, string] | undefined, limit: number): Promise<Array<{ row: string, key: [string, string, string, string] }>> {
  const table = sql.table(name)
  const { rows } = await sql<{ row: string, tenant: string, type: string, entity_key: string, transaction_id: string }>`
    select row_to_json(p)::text as row, tenant, type, entity_key, transaction_id::text from ${table} p
    ${after === undefined ? sql`` : sql`where (tenant, type, entity_key, transaction_id) > (${after[0]}, ${after[1]}, ${after[2]}, ${after[3]}::bigint)`}
    order by tenant, type, entity_key, transaction_id limit ${limit}`.execute(owner)
  return rows.map((r) => ({ row: r.row, key: [r.tenant, r.type, r.entity_key, r.transaction_id] }))
}

/** Drops the table of a detached partition whose archive has been written and checked (the owner only). */
export async function dropDetachedTable (owner: Db, name: string): Promise<void> {
  await sql`drop table ${sql.table(name)}`.execute(owner)
}

/** Creates the empty table of an archived partition, shaped as `versions` (the owner only). */
export async function createDetachedTable (trx: Trx | Db, name: string): Promise<void> {
  await sql`create table ${sql.table(name)} (like versions including defaults including constraints)`.execute(trx)
  // As rewind_ensure_partitions makes a partition (migration 0010: long histories, for the planner).
  await sql`alter table ${sql.table(name)} alter column entity_key set (n_distinct = -0.01)`.execute(trx)
}

/** Loads rows (row_to_json objects of `versions`) into a detached partition's table (the owner only). */
export async function loadDetachedRows (trx: Trx | Db, name: string, rows: readonly string[]): Promise<void> {
  if (rows.length === 0) return
  await sql`insert into ${sql.table(name)} select * from jsonb_populate_recordset(null::versions, ${`[${rows.join(',')}]`}::jsonb)`.execute(trx)
}

/** Retention may not drop the partition (not the oldest, ids still to come, or versions it keeps). */
export class PartitionKept extends Error {
  override readonly name = 'PartitionKept'
}

/**
 * Starts dropping the oldest partition inside the caller's transaction: checks that its every
 * version is one retention lets go at `now` and keeps writers out of it until the transaction
 * ends (rewind_begin_partition_drop); throws PartitionKept when it stays.
 */
export async function beginPartitionDrop (trx: Trx, name: string, now: Date): Promise<void> {
  try {
    await sql`select rewind_begin_partition_drop(${name}, ${now.toISOString()}::timestamptz)`.execute(trx)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'RW003') throw new PartitionKept((error as Error).message)
    throw error
  }
}

/** Each entity of a partition's range: its last version there and how many it has there; by tenant and entity, after `after`. */
export interface PartitionEntity { tenant: string, type: string, key: string, seq: number, transactionId: number, hash: string, versions: number }

export async function partitionEntities (
  trx: Trx, range: { fromId: number, toId: number }, after: PartitionEntity | undefined, limit: number
): Promise<PartitionEntity[]> {
  // The page's entities grouped along the primary key, which stops at the page's end (a page
  // costs its own rows, not the rest of the partition's), then each one's last version there.
  const { rows } = await sql<{ tenant: string, type: string, entity_key: string, seq: number, transaction_id: string, hash: string, n: string }>`
    select g.tenant, g.type, g.entity_key, l.seq, l.transaction_id, l.hash, g.n
    from (
      select tenant, type, entity_key, count(*) as n, max(transaction_id) as last from versions
      where transaction_id >= ${range.fromId} and transaction_id < ${range.toId}
        ${after === undefined ? sql`` : sql`and (tenant, type, entity_key) > (${after.tenant}, ${after.type}, ${after.key})`}
      group by tenant, type, entity_key order by tenant, type, entity_key limit ${limit}
    ) g
    join versions l on l.tenant = g.tenant and l.type = g.type and l.entity_key = g.entity_key and l.transaction_id = g.last
    order by g.tenant, g.type, g.entity_key`.execute(trx)
  return rows.map((r) => ({ tenant: r.tenant, type: r.type, key: r.entity_key, seq: r.seq, transactionId: Number(r.transaction_id), hash: r.hash, versions: Number(r.n) }))
}

/** Writes the anchors of the entities the partition cuts and drops it (after beginPartitionDrop): answers how many versions went. */
export async function finishPartitionDrop (trx: Trx, name: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select rewind_finish_partition_drop(${name}) as n`.execute(trx)
  return Number(rows[0]!.n)
}

/** The first transaction id after every archived partition (0 when none is archived): history before it is archived. */
export async function archivedBefore (db: Db): Promise<number> {
  const { rows } = await sql<{ before: string | null }>`select max(to_id) as before from version_partitions where state = 'archived'`.execute(db)
  return Number(rows[0]?.before ?? 0)
}
