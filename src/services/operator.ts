import type { Db } from '../store/database.js'
import { listApiKeys, revokeApiKeyAnyTenant, type ApiKey } from '../store/api-keys.js'

/** Every key of one tenant or of all (the operator's command line). */
export async function listAllKeys (db: Db, tenant: string | undefined): Promise<ApiKey[]> {
  return await listApiKeys(db, tenant, undefined, 100_000)
}

/** Revokes a key of whichever tenant (the operator's command line). */
export async function revokeKeyById (db: Db, id: string): Promise<ApiKey | undefined> {
  return await revokeApiKeyAnyTenant(db, id)
}
