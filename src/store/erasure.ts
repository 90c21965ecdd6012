import { sql } from 'kysely'
import type { Erased } from '../integrity/commitments.js'
import { toJsonText, type JsonObject } from '../versioning/json.js'
import type { Trx } from './database.js'
import type { EntityName } from './versions.js'

/**
 * Erases fields of an entity's versions through the audited function `rewind_redact`
 * (owned by the database owner: the runtime role cannot change history otherwise): values
 * become `{"$redacted": id}`, their salts go, and `erased` keeps each version's commitments.
 * Each version's entry names its fields (as that version has them), or `fields` applies.
 * Answers the number of versions changed.
 */
export async function redactVersions (
  trx: Trx, tenant: string, entity: EntityName, redaction: string, fields: readonly string[],
  erased: ReadonlyArray<{ seq: number, erased: Erased, fields?: readonly string[] }>
): Promise<number> {
  const { rows } = await sql<{ n: number }>`select rewind_redact(${tenant}, ${entity.type}, ${entity.key}, ${redaction},
    ${[...fields]}::text[], ${JSON.stringify(erased)}::jsonb) as n`.execute(trx)
  return rows[0]?.n ?? 0
}

/** A stored idempotent answer (the first response of a write, replayed on retries). */
export interface StoredAnswer { apiKeyId: string, key: string, response: JsonObject }

/** The tenant's stored answers that show a version or change of the entity. */
export async function answersShowing (trx: Trx, tenant: string, entity: EntityName): Promise<StoredAnswer[]> {
  const probe = toJsonText({ type: entity.type, id: entity.key })
  const { rows } = await sql<{ api_key_id: string, key: string, response: JsonObject }>`
    select api_key_id, key, response from idempotency_keys
    where tenant = ${tenant} and response is not null
      and (response->'versions' @> jsonb_build_array(${probe}::jsonb) or response->'changes' @> jsonb_build_array(${probe}::jsonb))
    for update`.execute(trx)
  return rows.map((r) => ({ apiKeyId: r.api_key_id, key: r.key, response: r.response }))
}

export async function replaceAnswer (trx: Trx, tenant: string, answer: StoredAnswer): Promise<void> {
  await sql`update idempotency_keys set response = ${toJsonText(answer.response)}::jsonb
    where tenant = ${tenant} and api_key_id = ${answer.apiKeyId} and key = ${answer.key}`.execute(trx)
}
