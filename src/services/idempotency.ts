import type { Version } from '../versioning/version.js'
import { createHmac } from 'node:crypto'
import { canonicalJson } from '../integrity/canonical.js'
import { conflict, keyReused } from '../versioning/errors.js'
import { inTransaction, type Trx } from '../store/database.js'
import { findIdempotencyKey, saveIdempotencyKey } from '../store/idempotency.js'
import { tryLockName } from '../store/locks.js'
import type { ServiceContext } from './context.js'

export interface WriteResponse { statusCode: number, body: unknown }
export interface WriteOutcome extends WriteResponse { replayed: boolean }

/** An Idempotency-Key and the fingerprint of the request it came with. */
export interface IdempotentRequest { key: string, fingerprint: string }

/** 201 when the write recorded a transaction, 200 when it recorded nothing (or was a dry run). */
export const writeResponse = (result: { transaction: unknown, versions?: readonly Version[] }): WriteResponse => ({
  statusCode: result.transaction === null ? 200 : 201,
  // A recorded version's revision is internal (see Version).
  body: result.versions === undefined ? result : { ...result, versions: result.versions.map(({ revision: _revision, ...version }) => version) }
})

/**
 * The fingerprint of a request: an HMAC (keyed by a secret the database does not hold) of
 * its canonical JSON, so that the stored fingerprint cannot be used to test guesses of a
 * value the request carried once that value is erased.
 */
export const requestFingerprint = (secret: Uint8Array, method: string, path: string, body: unknown): string =>
  createHmac('sha256', secret).update(`${method} ${path}\n${canonicalJson(body ?? null)}`).digest('hex')

/**
 * The idempotency of a write: none without a key, else the key with the fingerprint of
 * the request (`route` names it, e.g. "POST /transactions").
 */
export function idempotentRequest (ctx: ServiceContext, key: string | undefined, route: string, body: unknown): IdempotentRequest | undefined {
  return key === undefined ? undefined : { key, fingerprint: requestFingerprint(ctx.signer.fingerprintSecret, 'POST', route, body) }
}

/**
 * Runs a write in one database transaction (retried on deadlocks). With an idempotency
 * key, the key, the request's fingerprint and the response are stored in that same
 * transaction: a retry gets the first response back, another request with the key is
 * rejected (422), and a retry while the first is still running is a conflict (409).
 */
export async function runWrite (
  ctx: ServiceContext, idempotency: IdempotentRequest | undefined, write: (trx: Trx) => Promise<WriteResponse>
): Promise<WriteOutcome> {
  return await inTransaction(ctx.db, async (trx) => {
    if (idempotency === undefined) return { ...await write(trx), replayed: false }
    // Idempotency keys belong to the API key that sent them: another key's are another namespace.
    const name = { tenant: ctx.tenant, apiKeyId: ctx.caller?.keyId ?? '', key: idempotency.key }
    if (!await tryLockName(trx, ctx.tenant, `\u0000idempotency\u0000${name.apiKeyId}\u0000${idempotency.key}`)) {
      throw conflict('a request with this Idempotency-Key is still being processed; retry later')
    }
    const stored = await findIdempotencyKey(trx, name)
    if (stored !== undefined) {
      if (stored.requestHash !== idempotency.fingerprint) throw keyReused('this Idempotency-Key was used with another request')
      return { statusCode: stored.statusCode, body: stored.body, replayed: true }
    }
    const response = await write(trx)
    await saveIdempotencyKey(trx, name, { requestHash: idempotency.fingerprint, ...response })
    return { ...response, replayed: false }
  })
}
