import type { Changeset } from '../versioning/changeset.js'
import type { JsonObject } from '../versioning/json.js'
import type { Operation, Version } from '../versioning/version.js'

/** A version row as the read queries select it. */
export interface VersionRow {
  type: string
  entity_key: string
  transaction_id: string
  end_transaction_id: string | null
  seq: number
  operation: Operation
  data: unknown
  changeset: unknown
  hash: string
  revision: number
}

/** Who recorded a transaction: the API key that sent it (null before keys existed), or a capture source. */
export interface RecordedBy { keyId: string | null, keyName?: string, source?: string }

export interface Transaction {
  id: number
  issuedAt: string
  recordedAt: string
  actor: string | null
  meta: JsonObject
  recordedBy: RecordedBy | null
  revertOf?: JsonObject
}

export interface TransactionRow {
  id: string
  issued_at: Date | string
  recorded_at: Date | string
  actor: string | null
  meta: unknown
  recorded_by: unknown
  revert_of: unknown
}

/** bigint columns arrive as strings from both drivers; ids stay far below 2^53. */
export const toId = (value: string | number): number => Number(value)

const iso = (value: Date | string): string => (value instanceof Date ? value : new Date(value)).toISOString()

export function toVersion (row: VersionRow): Version {
  return {
    type: row.type,
    id: row.entity_key,
    transactionId: toId(row.transaction_id),
    endTransactionId: row.end_transaction_id === null ? null : toId(row.end_transaction_id),
    operation: row.operation,
    index: row.seq,
    data: row.data as JsonObject,
    changeset: row.changeset as Changeset,
    hash: row.hash,
    revision: row.revision
  }
}

export function toTransaction (row: TransactionRow): Transaction {
  const tx: Transaction = {
    id: toId(row.id),
    issuedAt: iso(row.issued_at),
    recordedAt: iso(row.recorded_at),
    actor: row.actor,
    meta: (row.meta ?? {}) as JsonObject,
    recordedBy: (row.recorded_by ?? null) as RecordedBy | null
  }
  if (row.revert_of !== null && row.revert_of !== undefined) tx.revertOf = row.revert_of as JsonObject
  return tx
}
