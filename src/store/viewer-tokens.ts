import type { Db } from './database.js'

export interface ViewerToken {
  id: string
  tenant: string
  issuedBy: string
  issuerName: string
  type: string | null
  entityKey: string | null
  expiresAt: string
}

export async function insertViewerToken (
  db: Db, token: { id: string, tenant: string, secretHash: string, issuedBy: string, type: string | null, entityKey: string | null, expiresAt: Date }
): Promise<{ expiresAt: string }> {
  const row = await db.insertInto('viewer_tokens').values({
    id: token.id, tenant: token.tenant, secret_hash: token.secretHash, issued_by: token.issuedBy,
    type: token.type, entity_key: token.entityKey, expires_at: token.expiresAt
  }).returning('expires_at').executeTakeFirstOrThrow()
  return { expiresAt: new Date(row.expires_at).toISOString() }
}

/** The unexpired token whose secret has this hash, issued by a key that is not revoked. */
export async function findLiveViewerToken (db: Db, hash: string): Promise<ViewerToken | undefined> {
  const row = await db.selectFrom('viewer_tokens as v').innerJoin('api_keys as k', 'k.id', 'v.issued_by')
    .select(['v.id', 'v.tenant', 'v.issued_by', 'k.name', 'v.type', 'v.entity_key', 'v.expires_at'])
    .where('v.secret_hash', '=', hash).where('k.revoked_at', 'is', null).whereRef('k.tenant', '=', 'v.tenant')
    .where('v.expires_at', '>', new Date())
    .executeTakeFirst()
  return row === undefined
    ? undefined
    : { id: row.id, tenant: row.tenant, issuedBy: row.issued_by, issuerName: row.name, type: row.type, entityKey: row.entity_key, expiresAt: new Date(row.expires_at).toISOString() }
}

/** Forgets tokens that expired before `before` (they can never be used again). */
export async function deleteExpiredViewerTokens (db: Db, before: Date): Promise<number> {
  const result = await db.deleteFrom('viewer_tokens').where('expires_at', '<', before).executeTakeFirst()
  return Number(result.numDeletedRows)
}
