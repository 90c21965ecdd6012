import { sql } from 'kysely'
import { NO_RECORDS, recordChainHash, type ChainedRecord, type IntegrityRecord, type RecordKind } from '../integrity/records.js'
import { toJsonText } from '../versioning/json.js'
import type { Db, Trx } from './database.js'
import { lockNames } from './locks.js'

const RECORDS_LOCK = '\u0000integrity-records'

export type StoredRecord = ChainedRecord

interface RecordRow { sequence: number, kind: RecordKind, body: Record<string, unknown>, created_at: Date | string, chain_hash: string }

const toRecord = (row: RecordRow): StoredRecord => ({
  sequence: row.sequence,
  kind: row.kind,
  createdAt: new Date(row.created_at).toISOString(),
  body: row.body,
  chainHash: row.chain_hash
})

/** The newest record of the tenant (its chain hash is what a checkpoint's `records` is), if any. */
export async function lastRecord (db: Db, tenant: string): Promise<StoredRecord | undefined> {
  const { rows } = await sql<RecordRow>`select sequence, kind, body, created_at, chain_hash from integrity_records
    where tenant = ${tenant} order by sequence desc limit 1`.execute(db)
  return rows[0] === undefined ? undefined : toRecord(rows[0])
}

/** Appends a record to the tenant's chain (one writer at a time) inside the caller's transaction. */
export async function appendRecord (trx: Trx, tenant: string, kind: RecordKind, body: Record<string, unknown>): Promise<StoredRecord> {
  return (await appendRecords(trx, tenant, kind, [body]))[0]!
}

/** Appends records to the tenant's chain in one statement, in order (one writer at a time), inside the caller's transaction. */
export async function appendRecords (trx: Trx, tenant: string, kind: RecordKind, bodies: ReadonlyArray<Record<string, unknown>>): Promise<StoredRecord[]> {
  if (bodies.length === 0) return []
  await lockNames(trx, tenant, [RECORDS_LOCK])
  const last = await lastRecord(trx, tenant)
  const createdAt = new Date().toISOString()
  let sequence = last?.sequence ?? 0
  let previous = last?.chainHash ?? NO_RECORDS
  const stored = bodies.map((body): StoredRecord => {
    const record: IntegrityRecord = { sequence: ++sequence, kind, createdAt, body: JSON.parse(toJsonText(body)) as Record<string, unknown> }
    previous = recordChainHash(previous, record)
    return { ...record, chainHash: previous }
  })
  await sql`insert into integrity_records (tenant, sequence, kind, body, created_at, chain_hash)
    select ${tenant}, r.sequence, ${kind}, r.body, ${createdAt}::timestamptz, r.chain_hash
    from jsonb_to_recordset(${toJsonText(stored.map((r) => ({ sequence: r.sequence, body: r.body, chain_hash: r.chainHash })))}::jsonb)
      as r(sequence integer, body jsonb, chain_hash text)`.execute(trx)
  return stored
}

/** Records in order, after `after` (a sequence), at most `limit`; of one kind when named. */
export async function listRecords (db: Db, tenant: string, page: { kind?: RecordKind, after?: number | undefined, limit: number, order?: 'asc' | 'desc' }): Promise<StoredRecord[]> {
  const desc = page.order === 'desc'
  const { rows } = await sql<RecordRow>`select sequence, kind, body, created_at, chain_hash from integrity_records
    where tenant = ${tenant} ${page.kind === undefined ? sql`` : sql`and kind = ${page.kind}`}
      ${page.after === undefined ? sql`` : desc ? sql`and sequence < ${page.after}` : sql`and sequence > ${page.after}`}
    order by sequence ${desc ? sql`desc` : sql`asc`} limit ${page.limit}`.execute(db)
  return rows.map(toRecord)
}

/** One record by its redaction id (records of kind redaction carry `body.id`). */
export async function findRedaction (db: Db, tenant: string, id: string): Promise<StoredRecord | undefined> {
  const { rows } = await sql<RecordRow>`select sequence, kind, body, created_at, chain_hash from integrity_records
    where tenant = ${tenant} and kind = 'redaction' and body->>'id' = ${id}`.execute(db)
  return rows[0] === undefined ? undefined : toRecord(rows[0])
}
