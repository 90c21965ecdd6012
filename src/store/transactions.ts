import type { JsonObject } from '../versioning/json.js'
import type { Db } from './database.js'
import { toTransaction, type RecordedBy, type Transaction, type TransactionRow } from './rows.js'

export interface NewTransaction {
  issuedAt?: string | undefined
  actor?: string | undefined
  meta?: JsonObject | undefined
  revertOf?: JsonObject | undefined
  /** The API key (or capture source) that recorded it, set by the service. */
  recordedBy?: RecordedBy | undefined
}

const columns = ['id', 'issued_at', 'recorded_at', 'actor', 'meta', 'recorded_by', 'revert_of'] as const

export async function getTransaction (db: Db, tenant: string, id: number): Promise<Transaction | undefined> {
  const row = await db.selectFrom('transactions').select(columns)
    .where('tenant', '=', tenant).where('id', '=', String(id) as never).executeTakeFirst()
  return row === undefined ? undefined : toTransaction(row as TransactionRow)
}

export interface TransactionFilter {
  actor?: string | undefined
  type?: string | undefined
  /** With `type`: only transactions that changed this entity (its key). */
  entityKey?: string | undefined
  since?: string | undefined
  until?: string | undefined
  before?: number | undefined
  limit: number
}

/** The first of `ids` that is not a transaction of the tenant, if any. */
export async function firstMissingTransaction (db: Db, tenant: string, ids: readonly number[]): Promise<number | undefined> {
  const wanted = [...new Set(ids)]
  if (wanted.length === 0) return undefined
  const rows = await db.selectFrom('transactions').select('id')
    .where('tenant', '=', tenant).where('id', 'in', wanted.map(String) as never[]).execute()
  const found = new Set(rows.map((r) => Number(r.id)))
  return ids.find((id) => !found.has(id))
}

/** Transactions newest first, at most `filter.limit`. */
export async function listTransactions (db: Db, tenant: string, filter: TransactionFilter): Promise<Transaction[]> {
  let query = db.selectFrom('transactions as t').select(columns.map((c) => `t.${c}` as const)).where('t.tenant', '=', tenant)
  if (filter.actor !== undefined) query = query.where('t.actor', '=', filter.actor)
  if (filter.since !== undefined) query = query.where('t.issued_at', '>=', filter.since as never)
  if (filter.until !== undefined) query = query.where('t.issued_at', '<', filter.until as never)
  if (filter.before !== undefined) query = query.where('t.id', '<', String(filter.before) as never)
  if (filter.type !== undefined && filter.entityKey !== undefined) {
    const { type, entityKey } = filter
    // One entity's transactions: its few versions, found by the entity's index, not a scan of all transactions.
    query = query.where('t.id', 'in', ({ selectFrom }) => selectFrom('versions as v').select('v.transaction_id')
      .where('v.tenant', '=', tenant).where('v.type', '=', type).where('v.entity_key', '=', entityKey))
  } else if (filter.type !== undefined) {
    const type = filter.type
    query = query.where(({ exists, selectFrom }) => exists(
      selectFrom('versions as v').select('v.seq')
        .whereRef('v.transaction_id', '=', 't.id').where('v.tenant', '=', tenant).where('v.type', '=', type)
    ))
  }
  const rows = await query.orderBy('t.id', 'desc').limit(filter.limit).execute()
  return rows.map((r) => toTransaction(r as TransactionRow))
}
