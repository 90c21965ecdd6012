import type { AccessScope } from '../access/index.js'
import type { Db } from './database.js'

export interface ApiKey {
  id: string
  tenant: string
  name: string
  scopes: AccessScope[]
  createdAt: string
  revokedAt: string | null
}

const columns = ['id', 'tenant', 'name', 'scopes', 'created_at', 'revoked_at'] as const

const toApiKey = (row: { id: string, tenant: string, name: string, scopes: unknown, created_at: Date, revoked_at: Date | null }): ApiKey => ({
  id: row.id,
  tenant: row.tenant,
  name: row.name,
  scopes: row.scopes as AccessScope[],
  createdAt: new Date(row.created_at).toISOString(),
  revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at).toISOString()
})

export async function insertApiKey (
  db: Db, key: { id: string, tenant: string, name: string, scopes: readonly AccessScope[], secretHash: string }
): Promise<ApiKey> {
  const row = await db.insertInto('api_keys').values({
    id: key.id, tenant: key.tenant, name: key.name, scopes: JSON.stringify(key.scopes), secret_hash: key.secretHash
  }).returning(columns).executeTakeFirstOrThrow()
  return toApiKey(row)
}

/** The live (not revoked) key whose secret has this hash. */
export async function findLiveKeyByHash (db: Db, hash: string): Promise<ApiKey | undefined> {
  const row = await db.selectFrom('api_keys').select(columns).where('secret_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst()
  return row === undefined ? undefined : toApiKey(row)
}

/** A tenant's keys (every tenant's: undefined), revoked ones included, by id; at most `limit`. */
export async function listApiKeys (db: Db, tenant: string | undefined, after: string | undefined, limit: number): Promise<ApiKey[]> {
  let query = db.selectFrom('api_keys').select(columns)
  if (tenant !== undefined) query = query.where('tenant', '=', tenant)
  if (after !== undefined) query = query.where('id', '>', after)
  return (await query.orderBy('id').limit(limit).execute()).map(toApiKey)
}

/** Revokes a tenant's key; answers it, or undefined when the tenant has no such key. */
export async function revokeApiKey (db: Db, tenant: string, id: string): Promise<ApiKey | undefined> {
  const row = await db.updateTable('api_keys').set({ revoked_at: new Date() })
    .where('tenant', '=', tenant).where('id', '=', id).where('revoked_at', 'is', null)
    .returning(columns).executeTakeFirst()
  if (row !== undefined) return toApiKey(row)
  const already = await db.selectFrom('api_keys').select(columns).where('tenant', '=', tenant).where('id', '=', id).executeTakeFirst()
  return already === undefined ? undefined : toApiKey(already)
}

/** True when any key was ever created (revoked ones count). */
export async function anyApiKeyEver (db: Db): Promise<boolean> {
  return (await db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst()) !== undefined
}

/** Revokes a key of any tenant (the operator's command line). */
export async function revokeApiKeyAnyTenant (db: Db, id: string): Promise<ApiKey | undefined> {
  const row = await db.selectFrom('api_keys').select('tenant').where('id', '=', id).executeTakeFirst()
  return row === undefined ? undefined : await revokeApiKey(db, row.tenant, id)
}

/** Every tenant that has (or had) an API key: the tenants that can have history. */
export async function listTenants (db: Db): Promise<string[]> {
  const rows = await db.selectFrom('api_keys').select('tenant').distinct().orderBy('tenant').execute()
  return rows.map((r) => r.tenant)
}
