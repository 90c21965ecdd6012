import { createHash } from 'node:crypto'
import { conflict, keyReused } from '../versioning/errors.js'
import { inTransaction, type Db } from '../store/database.js'
import { findIdempotencyKey, saveIdempotencyKey } from '../store/idempotency.js'
import { tryLockName } from '../store/locks.js'

export interface WriteResponse { statusCode: number, body: unknown }
export interface WriteOutcome extends WriteResponse { replayed: boolean }

/** JSON with object keys sorted, so that the same body always hashes the same. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export const requestFingerprint = (method: string, path: string, body: unknown): string =>
  createHash('sha256').update(`${method} ${path}\n${canonical(body)}`).digest('hex')

/**
 * Runs a write in one database transaction. With an idempotency key, the key, the
 * request's fingerprint and the response are stored in that same transaction: a retry
 * gets the first response back, another request with the key is rejected (422), and a
 * retry while the first is still running is a conflict (409).
 */
export async function runWrite (
  db: Db, tenant: string, idempotency: { key: string, fingerprint: string } | undefined,
  write: (trx: Db) => Promise<WriteResponse>
): Promise<WriteOutcome> {
  return await inTransaction(db, async (trx) => {
    if (idempotency === undefined) return { ...await write(trx), replayed: false }
    if (!await tryLockName(trx, tenant, `\u0000idempotency\u0000${idempotency.key}`)) {
      throw conflict('a request with this Idempotency-Key is still being processed; retry later')
    }
    const stored = await findIdempotencyKey(trx, tenant, idempotency.key)
    if (stored !== undefined) {
      if (stored.requestHash !== idempotency.fingerprint) throw keyReused('this Idempotency-Key was used with another request')
      return { statusCode: stored.statusCode, body: stored.body, replayed: true }
    }
    const response = await write(trx)
    await saveIdempotencyKey(trx, tenant, idempotency.key, { requestHash: idempotency.fingerprint, ...response })
    return { ...response, replayed: false }
  })
}
