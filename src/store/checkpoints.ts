import { sql } from 'kysely'
import type { Checkpoint } from '../integrity/checkpoint.js'
import type { Head } from '../integrity/verify.js'
import { inIndexOrder } from './index-order.js'
import type { Db, Trx } from './database.js'
import { toId } from './rows.js'

export interface StoredCheckpoint { checkpoint: Checkpoint, recordsSequence: number }

interface CheckpointRow { checkpoint: Checkpoint, records_sequence: number }

/** The tenant's newest checkpoint, if any. */
export async function lastCheckpoint (db: Db, tenant: string): Promise<StoredCheckpoint | undefined> {
  const { rows } = await sql<CheckpointRow>`select checkpoint, records_sequence from checkpoints
    where tenant = ${tenant} order by sequence desc limit 1`.execute(db)
  return rows[0] === undefined ? undefined : { checkpoint: rows[0].checkpoint, recordsSequence: rows[0].records_sequence }
}

/** Checkpoints by sequence (newest first unless `order` is asc), after `after`, at most `limit`. */
export async function listCheckpoints (db: Db, tenant: string, page: { after?: number | undefined, limit: number, order?: 'asc' | 'desc' }): Promise<Checkpoint[]> {
  const asc = page.order === 'asc'
  const { rows } = await sql<CheckpointRow>`select checkpoint from checkpoints where tenant = ${tenant}
    ${page.after === undefined ? sql`` : asc ? sql`and sequence > ${page.after}` : sql`and sequence < ${page.after}`}
    order by sequence ${asc ? sql`asc` : sql`desc`} limit ${page.limit}`.execute(db)
  return rows.map((r) => r.checkpoint)
}

export async function getCheckpoint (db: Db, tenant: string, sequence: number): Promise<Checkpoint | undefined> {
  const { rows } = await sql<CheckpointRow>`select checkpoint from checkpoints where tenant = ${tenant} and sequence = ${sequence}`.execute(db)
  return rows[0]?.checkpoint
}

/** The newest checkpoint that covers transaction `transactionId`, if any. */
export async function checkpointCovering (db: Db, tenant: string, transactionId: number): Promise<Checkpoint | undefined> {
  const { rows } = await sql<CheckpointRow>`select checkpoint from checkpoints
    where tenant = ${tenant} and up_to_transaction_id >= ${transactionId} order by sequence desc limit 1`.execute(db)
  return rows[0]?.checkpoint
}

export async function insertCheckpoint (trx: Trx, checkpoint: Checkpoint, recordsSequence: number): Promise<void> {
  await sql`insert into checkpoints (tenant, sequence, checkpoint, up_to_transaction_id, records_sequence, created_at)
    values (${checkpoint.tenant}, ${checkpoint.sequence}, ${JSON.stringify(checkpoint)}::jsonb, ${checkpoint.upToTransactionId},
      ${recordsSequence}, ${checkpoint.createdAt}::timestamptz)`.execute(trx)
}

/** The tenant's newest transaction id (0 when none). */
export async function newestTransactionId (db: Db, tenant: string): Promise<number> {
  const { rows } = await sql<{ id: string | null }>`select max(id) as id from transactions where tenant = ${tenant}`.execute(db)
  return rows[0]?.id === null || rows[0] === undefined ? 0 : toId(rows[0].id)
}

/** Stores, as heads of checkpoint `sequence`, each entity's newest version in transactions (after, upTo]. */
export async function storeChangedHeads (trx: Trx, tenant: string, sequence: number, after: number, upTo: number): Promise<void> {
  await sql`insert into checkpoint_heads (tenant, type, entity_key, sequence, transaction_id, hash)
    select distinct on (type, entity_key) tenant, type, entity_key, ${sequence}, transaction_id, hash from versions
    where tenant = ${tenant} and transaction_id > ${after} and transaction_id <= ${upTo}
    order by type, entity_key, transaction_id desc`.execute(trx)
}


/** Heads as of checkpoint `sequence` (every entity's newest at or before it), by type then id, after `after`. */
export async function headsAt (db: Db, tenant: string, sequence: number, after: { type: string, id: string } | undefined, limit: number): Promise<Head[]> {
  const rows = await inIndexOrder(db, sql<{ type: string, entity_key: string, hash: string, transaction_id: string }>`
    select h.type, h.entity_key, h.hash, h.transaction_id from checkpoint_heads h
    where h.tenant = ${tenant} and h.sequence <= ${sequence}
      ${after === undefined ? sql`` : sql`and (h.type, h.entity_key) > (${after.type}, ${after.id})`}
      -- the entity's newest head up to that checkpoint: a probe of the key per row, no sort
      and not exists (select 1 from checkpoint_heads n where n.tenant = h.tenant and n.type = h.type and n.entity_key = h.entity_key
        and n.sequence > h.sequence and n.sequence <= ${sequence})
    order by h.type, h.entity_key limit ${limit}`)
  return rows.map((r) => ({ type: r.type, id: r.entity_key, hash: r.hash, transactionId: toId(r.transaction_id) }))
}

/** The number of stored versions of the tenant up to a transaction. */
export async function countVersions (db: Db, tenant: string, upTo: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from versions where tenant = ${tenant} and transaction_id <= ${upTo}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/** An entity's head as of checkpoint `sequence`, if the checkpoint covers the entity. */
export async function headOf (db: Db, tenant: string, sequence: number, entity: { type: string, key: string }): Promise<{ hash: string, transactionId: number } | undefined> {
  const { rows } = await sql<{ hash: string, transaction_id: string }>`select hash, transaction_id from checkpoint_heads
    where tenant = ${tenant} and type = ${entity.type} and entity_key = ${entity.key} and sequence <= ${sequence}
    order by sequence desc limit 1`.execute(db)
  return rows[0] === undefined ? undefined : { hash: rows[0].hash, transactionId: toId(rows[0].transaction_id) }
}
