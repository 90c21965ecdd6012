import { sql } from 'kysely'
import { toJsonText } from '../versioning/json.js'
import type { Db, Trx } from './database.js'

/** A source table's mapping to an entity type. */
export interface TableMapping { type: string, idFields?: string[], exclude?: string[] }

/** What a capture source is configured with (PUT /capture/sources/{name}). */
export interface SourceConfig {
  connection: string
  tables: Record<string, TableMapping>
  publication: string
  slot: string
}

export type SourceState = 'starting' | 'streaming' | 'reconnecting' | 'blocked' | 'stopped'

export interface StoredSource {
  tenant: string
  name: string
  config: SourceConfig
  /** The source position up to which its transactions are recorded (null: from the slot's start). */
  confirmedLsn: string | null
  lastCommitAt: string | null
  state: SourceState
  reason: string | null
  createdAt: string
  updatedAt: string
}

interface SourceRow {
  tenant: string, name: string, config: SourceConfig, confirmed_lsn: string | null, last_commit_at: Date | string | null,
  state: SourceState, reason: string | null, created_at: Date | string, updated_at: Date | string
}

const iso = (value: Date | string): string => new Date(value).toISOString()
const toSource = (r: SourceRow): StoredSource => ({
  tenant: r.tenant,
  name: r.name,
  config: r.config,
  confirmedLsn: r.confirmed_lsn,
  lastCommitAt: r.last_commit_at === null ? null : iso(r.last_commit_at),
  state: r.state,
  reason: r.reason,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at)
})

/**
 * Creates or replaces a source's configuration; its position is kept when the slot stays the same.
 * The update takes its time from the insert's values: Citus refuses `now()` in the `do update set`
 * of an upsert on a distributed table (docs/SCALE.md).
 */
export async function saveSource (db: Db, tenant: string, name: string, config: SourceConfig, confirmedLsn: string | null): Promise<{ source: StoredSource, created: boolean }> {
  const { rows } = await sql<SourceRow & { created: boolean }>`
    insert into capture_sources (tenant, name, config, confirmed_lsn, state, updated_at)
    values (${tenant}, ${name}, ${toJsonText(config)}::jsonb, ${confirmedLsn}, 'starting', now())
    on conflict (tenant, name) do update set config = excluded.config, updated_at = excluded.updated_at, state = 'starting', reason = null,
      confirmed_lsn = case when capture_sources.config->>'slot' = excluded.config->>'slot' then capture_sources.confirmed_lsn else excluded.confirmed_lsn end
    returning *, (xmax = 0) as created`.execute(db)
  return { source: toSource(rows[0]!), created: rows[0]!.created }
}

export async function getSource (db: Db, tenant: string, name: string): Promise<StoredSource | undefined> {
  const { rows } = await sql<SourceRow>`select * from capture_sources where tenant = ${tenant} and name = ${name}`.execute(db)
  return rows[0] === undefined ? undefined : toSource(rows[0])
}

/** Every source of every tenant (the capture workers' list). */
export async function allSources (db: Db): Promise<StoredSource[]> {
  const { rows } = await sql<SourceRow>`select * from capture_sources order by tenant, name`.execute(db)
  return rows.map(toSource)
}

export async function listSources (db: Db, tenant: string, after: string | undefined, limit: number): Promise<StoredSource[]> {
  const { rows } = await sql<SourceRow>`select * from capture_sources where tenant = ${tenant}
    ${after === undefined ? sql`` : sql`and name > ${after}`} order by name limit ${limit}`.execute(db)
  return rows.map(toSource)
}

export async function deleteSource (db: Db, tenant: string, name: string): Promise<StoredSource | undefined> {
  const { rows } = await sql<SourceRow>`delete from capture_sources where tenant = ${tenant} and name = ${name} returning *`.execute(db)
  return rows[0] === undefined ? undefined : toSource(rows[0])
}

/**
 * Moves a source's position from `from` to `to`, in the transaction that records what lies
 * between: false (nothing changed) when its position is no longer `from` (another worker
 * recorded it) or its configuration is no longer `config` (reconfigured: a table added to the
 * publication must not be passed over by a worker that does not map it), or it was deleted.
 */
export async function advanceSource (
  trx: Trx, tenant: string, name: string, config: SourceConfig, from: string | null, to: string, commitAt: string | null
): Promise<boolean> {
  const { rows } = await sql<{ name: string }>`
    update capture_sources set confirmed_lsn = ${to}, last_commit_at = coalesce(${commitAt}::timestamptz, last_commit_at), updated_at = now()
    where tenant = ${tenant} and name = ${name} and confirmed_lsn is not distinct from ${from} and config = ${toJsonText(config)}::jsonb
    returning name`.execute(trx)
  return rows.length === 1
}

export async function setSourceState (db: Db, tenant: string, name: string, state: SourceState, reason: string | null): Promise<void> {
  await sql`update capture_sources set state = ${state}, reason = ${reason}, updated_at = now()
    where tenant = ${tenant} and name = ${name} and (state, coalesce(reason, '')) is distinct from (${state}, coalesce(${reason}, ''))`.execute(db)
}
