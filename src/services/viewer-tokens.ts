import { newViewerToken, newViewerTokenId, secretHash } from '../access/index.js'
import { deleteExpiredViewerTokens, insertViewerToken } from '../store/viewer-tokens.js'
import { invalid } from '../versioning/errors.js'
import type { ServiceContext } from './context.js'
import { entityType } from './entity-types.js'

/** The longest a viewer token lives (the contract's 86,400 s). */
export const MAX_VIEWER_TOKEN_SECONDS = 86_400

export interface ViewerTokenRequest { type?: string | undefined, id?: string | undefined, ttlSeconds: number }

/**
 * POST /viewer-tokens: a read-only token of the caller's tenant, limited to one type or
 * one entity when named, that expires after `ttlSeconds`. The secret is in this answer
 * only; it stops working at expiry or when the key that issued it is revoked.
 */
export async function createViewerToken (ctx: ServiceContext, request: ViewerTokenRequest): Promise<{ token: string, expiresAt: string }> {
  if (ctx.caller === undefined) throw invalid('a viewer token is issued by an API key')
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > MAX_VIEWER_TOKEN_SECONDS) {
    throw invalid(`ttlSeconds must be an integer from 1 to ${MAX_VIEWER_TOKEN_SECONDS}`)
  }
  if (request.id !== undefined && request.type === undefined) throw invalid('id names an entity of a type: give type as well')
  // An unknown type is 404, as everywhere; the entity itself may not exist yet (its history is shown once it does).
  if (request.type !== undefined) await entityType(ctx, request.type)
  const token = newViewerToken()
  const now = Date.now()
  const created = await insertViewerToken(ctx.db, {
    id: newViewerTokenId(),
    tenant: ctx.tenant,
    secretHash: secretHash(token),
    issuedBy: ctx.caller.keyId,
    type: request.type ?? null,
    entityKey: request.id ?? null,
    expiresAt: new Date(now + request.ttlSeconds * 1000)
  })
  // Tokens past their expiry can never be used again: forgotten as new ones are made.
  await deleteExpiredViewerTokens(ctx.db, new Date(now - 60_000))
  return { token, expiresAt: created.expiresAt }
}
