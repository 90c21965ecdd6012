import { sql } from 'kysely'
import { toJsonText } from '../versioning/json.js'
import type { Db } from './database.js'

export interface StoredResponse { requestHash: string, statusCode: number, body: unknown }

/** An Idempotency-Key as one API key of one tenant sent it. */
export interface IdempotencyKeyName { tenant: string, apiKeyId: string, key: string }

export async function findIdempotencyKey (db: Db, name: IdempotencyKeyName): Promise<StoredResponse | undefined> {
  const row = await db.selectFrom('idempotency_keys').select(['request_hash', 'status_code', 'response'])
    .where('tenant', '=', name.tenant).where('api_key_id', '=', name.apiKeyId).where('key', '=', name.key).executeTakeFirst()
  return row === undefined ? undefined : { requestHash: row.request_hash, statusCode: row.status_code ?? 200, body: row.response }
}

export async function saveIdempotencyKey (db: Db, name: IdempotencyKeyName, stored: StoredResponse): Promise<void> {
  await db.insertInto('idempotency_keys').values({
    tenant: name.tenant, api_key_id: name.apiKeyId, key: name.key, request_hash: stored.requestHash, status_code: stored.statusCode, response: toJsonText(stored.body)
  }).execute()
}

/** Deletes keys older than the retention; returns how many went. */
export async function purgeIdempotencyKeys (db: Db, retentionHours: number): Promise<number> {
  const result = await sql`delete from idempotency_keys where created_at < now() - make_interval(hours => ${retentionHours}::int)`.execute(db)
  return Number(result.numAffectedRows ?? 0)
}
