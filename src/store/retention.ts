import { sql } from 'kysely'
import type { Retention } from '../versioning/entity-type.js'
import type { Db, Trx } from './database.js'

/** An entity whose versions before index `keepFrom` may be pruned. */
export interface PruneCandidate { key: string, keepFrom: number, first: number }

/**
 * Entities of a type with versions the retention rule lets go: a version is pruned when it
 * is not among its entity's newest `keepVersions` and, with `keepDays`, was recorded before
 * the cutoff; never the latest, and only a prefix (the chain restarts from the first kept).
 * Entities under a legal hold are left out.
 */
export async function pruneCandidates (db: Db, tenant: string, type: string, retention: Retention, now: Date, limit: number): Promise<PruneCandidate[]> {
  const keep = retention.keepVersions ?? 1
  const cutoff = retention.keepDays === undefined ? null : new Date(now.getTime() - retention.keepDays * 86_400_000).toISOString()
  const { rows } = await sql<{ entity_key: string, keep_from: number, first: number }>`
    select entity_key, min(seq) filter (where not prunable) as keep_from, min(seq) as first from (
      select v.entity_key, v.seq,
        v.seq <= max(v.seq) over (partition by v.entity_key) - ${keep}
          and (${cutoff}::timestamptz is null or t.recorded_at < ${cutoff}::timestamptz) as prunable
      from versions v join transactions t on t.tenant = v.tenant and t.id = v.transaction_id
      where v.tenant = ${tenant} and v.type = ${type}
        and not exists (select 1 from legal_holds h where h.tenant = v.tenant and h.type = v.type and (h.entity_key is null or h.entity_key = v.entity_key))
    ) s
    group by entity_key
    having min(seq) filter (where not prunable) > min(seq)
    order by entity_key limit ${limit}`.execute(db)
  return rows.map((r) => ({ key: r.entity_key, keepFrom: r.keep_from, first: r.first }))
}

/** Prunes an entity's versions before `keepFrom` through the audited function `rewind_prune`; answers how many. */
export async function pruneEntity (trx: Trx, tenant: string, type: string, key: string, keepFrom: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`select rewind_prune(${tenant}, ${type}, ${key}, ${keepFrom}) as n`.execute(trx)
  return rows[0]?.n ?? 0
}

/** True when a legal hold covers the entity (or its whole type). */
export async function isHeld (db: Db, tenant: string, type: string, key: string): Promise<boolean> {
  const { rows } = await sql<{ held: boolean }>`select exists (select 1 from legal_holds
    where tenant = ${tenant} and type = ${type} and (entity_key is null or entity_key = ${key})) as held`.execute(db)
  return rows[0]?.held === true
}

export interface LegalHold { id: string, type: string, entityId: string | null, reason: string | null, createdAt: string }

interface HoldRow { id: string, type: string, entity_key: string | null, reason: string | null, created_at: Date | string }
const toHold = (r: HoldRow): LegalHold => ({ id: r.id, type: r.type, entityId: r.entity_key, reason: r.reason, createdAt: new Date(r.created_at).toISOString() })

export async function insertHold (db: Db, tenant: string, hold: Omit<LegalHold, 'createdAt'>): Promise<LegalHold> {
  const { rows } = await sql<HoldRow>`insert into legal_holds (id, tenant, type, entity_key, reason)
    values (${hold.id}, ${tenant}, ${hold.type}, ${hold.entityId}, ${hold.reason}) returning id, type, entity_key, reason, created_at`.execute(db)
  return toHold(rows[0]!)
}

export async function deleteHold (db: Db, tenant: string, id: string): Promise<boolean> {
  const result = await sql`delete from legal_holds where tenant = ${tenant} and id = ${id}`.execute(db)
  return Number(result.numAffectedRows ?? 0) > 0
}

export async function listHolds (db: Db, tenant: string, after: string | undefined, limit: number): Promise<LegalHold[]> {
  const { rows } = await sql<HoldRow>`select id, type, entity_key, reason, created_at from legal_holds where tenant = ${tenant}
    ${after === undefined ? sql`` : sql`and id > ${after}`} order by id limit ${limit}`.execute(db)
  return rows.map(toHold)
}
