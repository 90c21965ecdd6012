import { sql } from 'kysely'
import type { Erased, Salts } from '../integrity/commitments.js'
import type { ExportedVersion } from '../integrity/verify.js'
import type { JsonObject } from '../versioning/json.js'
import type { Operation } from '../versioning/version.js'
import type { Db } from './database.js'
import { toId, toTransaction, type Transaction, type TransactionRow } from './rows.js'

export interface ExportFilter {
  after?: number | undefined
  /** The newest transaction to export (the export is of the history up to it). */
  upTo?: number | undefined
  since?: string | undefined
  until?: string | undefined
  type?: string | undefined
}

/** The next transactions of an export (ascending ids), each with its versions (of `type` only, when filtered). */
export async function exportPage (db: Db, tenant: string, filter: ExportFilter, limit: number): Promise<Array<{ transaction: Transaction, versions: ExportedVersion[] }>> {
  const { rows } = await sql<TransactionRow>`select id, issued_at, recorded_at, actor, meta, recorded_by, revert_of from transactions t
    where tenant = ${tenant}
      ${filter.after === undefined ? sql`` : sql`and id > ${filter.after}`}
      ${filter.upTo === undefined ? sql`` : sql`and id <= ${filter.upTo}`}
      ${filter.since === undefined ? sql`` : sql`and issued_at >= ${filter.since}::timestamptz`}
      ${filter.until === undefined ? sql`` : sql`and issued_at < ${filter.until}::timestamptz`}
      and exists (select 1 from versions v where v.tenant = t.tenant and v.transaction_id = t.id
        ${filter.type === undefined ? sql`` : sql`and v.type = ${filter.type}`})
    order by id limit ${limit}`.execute(db)
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const { rows: versions } = await sql<{
    type: string, entity_key: string, seq: number, transaction_id: string, operation: Operation, data: JsonObject, changeset: JsonObject,
    salts: Salts, erased: Erased | null, hash: string
  }>`select type, entity_key, seq, transaction_id, operation, data, changeset, salts, erased, hash from versions
    where tenant = ${tenant} and transaction_id = any(${ids}::bigint[]) ${filter.type === undefined ? sql`` : sql`and type = ${filter.type}`}
    order by transaction_id, position`.execute(db)
  const byTransaction = new Map<number, ExportedVersion[]>()
  for (const v of versions) {
    const id = toId(v.transaction_id)
    const list = byTransaction.get(id) ?? []
    list.push({ type: v.type, id: v.entity_key, index: v.seq, transactionId: id, operation: v.operation, data: v.data, changeset: v.changeset, salts: v.salts, erased: v.erased, hash: v.hash })
    byTransaction.set(id, list)
  }
  return rows.map((r) => {
    const transaction = toTransaction(r)
    return { transaction, versions: byTransaction.get(transaction.id) ?? [] }
  })
}

/** The hash each version's predecessor has (the hash it chains to), for versions whose predecessor is stored. */
export async function previousHashes (db: Db, tenant: string, versions: ReadonlyArray<{ type: string, id: string, index: number }>): Promise<Map<string, string>> {
  if (versions.length === 0) return new Map()
  const { rows } = await sql<{ type: string, entity_key: string, hash: string }>`
    select v.type, v.entity_key, v.hash from unnest(${versions.map((v) => v.type)}::text[], ${versions.map((v) => v.id)}::text[], ${versions.map((v) => v.index - 1)}::int[]) as e(type, key, seq)
    join versions v on v.tenant = ${tenant} and v.type = e.type and v.entity_key = e.key and v.seq = e.seq`.execute(db)
  return new Map(rows.map((r) => [`${r.type}\u0000${r.entity_key}`, r.hash]))
}
