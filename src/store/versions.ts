import { sql, type RawBuilder } from 'kysely'
import type { LatestVersion, Version } from '../versioning/version.js'
import { entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import type { Db } from './database.js'
import { toId, toVersion, type VersionRow } from './rows.js'

export interface EntityName { type: string, key: string }

/** The transaction of an entity's first or newest version, from its head (migration 0011). */
const headOf = (end: 'first' | 'last', tenant: unknown, type: unknown, key: unknown): RawBuilder<unknown> =>
  sql`(select h.${sql.raw(`${end}_transaction_id`)} from entity_heads h where h.tenant = ${tenant} and h.type = ${type} and h.entity_key = ${key})`

/**
 * Columns of a version row plus its end transaction (the next version's): none for the
 * entity's newest version (its head says which, so the partitions after it are not read);
 * else the primary key read forwards from this version, partition after partition, stopping
 * at the first row (the partitions tell the planner that histories are long, migration 0010,
 * so it reads them in order rather than gathering and sorting an entity's versions;
 * test/explain.test.ts). Bounds are one-sided: with a range on both sides, PostgreSQL
 * expects a few rows and sorts them.
 */
export const versionColumns = (alias: string): RawBuilder<unknown> => sql`
  ${sql.ref(alias)}.type, ${sql.ref(alias)}.entity_key, ${sql.ref(alias)}.transaction_id, ${sql.ref(alias)}.seq,
  ${sql.ref(alias)}.operation, ${sql.ref(alias)}.data, ${sql.ref(alias)}.changeset, ${sql.ref(alias)}.hash,
  coalesce(${sql.ref(alias)}.revision, 0) as revision,
  case when ${sql.ref(alias)}.transaction_id = ${headOf('last', sql.ref(`${alias}.tenant`), sql.ref(`${alias}.type`), sql.ref(`${alias}.entity_key`))} then null else
    (select n.transaction_id from versions n
      where n.tenant = ${sql.ref(alias)}.tenant and n.type = ${sql.ref(alias)}.type and n.entity_key = ${sql.ref(alias)}.entity_key
        and n.transaction_id > ${sql.ref(alias)}.transaction_id
      order by n.transaction_id limit 1) end as end_transaction_id`

/**
 * A lateral subquery's body: the version row (`v`) of the entity whose head is `h` that was
 * its newest at transaction `at` (or now). When the head's newest version is no later than
 * `at`, that is one probe of the one partition holding it; otherwise the key is read
 * backwards from `at`, stopping at the first row. No row: the entity had no version then
 * (or its versions are pruned or archived).
 */
function newestVersionAt (tenant: string, at: number | undefined): RawBuilder<unknown> {
  const entity = sql`v.tenant = ${tenant} and v.type = h.type and v.entity_key = h.entity_key`
  const newest = sql`select v.* from versions v where ${entity} and v.transaction_id = h.last_transaction_id`
  if (at === undefined) return sql`${newest} limit 1`
  return sql`${newest} and h.last_transaction_id <= ${at}
    union all
    (select v.* from versions v where ${entity} and h.last_transaction_id > ${at} and v.transaction_id <= ${at}
      order by v.transaction_id desc limit 1)`
}

/**
 * Joins to each head `h` of the query its newest version as `v` (none when it is archived):
 * one probe per head, by its whole key (see entityVersionAt).
 */
const headVersion = (tenant: string): RawBuilder<unknown> => sql`cross join lateral (${newestVersionAt(tenant, undefined)}) v`

/**
 * A lateral subquery's body: the version row of entity (`type`, `key`) that was its newest at
 * transaction `at` (or now), found from its head (newestVersionAt). At most one row, and said
 * so (`limit 1`): PostgreSQL then looks each entity up by its whole key, rather than folding
 * the lookup into the outer join, where a misjudged row count (a table not analyzed since it
 * grew) can make it read every head of the type for each entity.
 */
export function entityVersionAt (tenant: string, type: unknown, key: unknown, at: number | undefined): RawBuilder<unknown> {
  return sql`select v.* from entity_heads h cross join lateral (${newestVersionAt(tenant, at)}) v
    where h.tenant = ${tenant} and h.type = ${type} and h.entity_key = ${key} limit 1`
}

/**
 * The latest version at or before `at` (or overall) of each named entity, with the
 * transaction of the version after it. Several entities: one statement, one primary-key
 * probe per entity (see newestVersionAt); its set-up, shared by the entities, grows with
 * the number of partitions. One entity: `rewind_version_at` (migration 0012), which reads
 * only the partitions that hold what it looks for, whatever their number.
 */
export async function versionsAt (db: Db, tenant: string, entities: readonly EntityName[], at?: number): Promise<Map<string, Version>> {
  if (entities.length === 0) return new Map()
  const { rows } = entities.length === 1
    ? await sql<VersionRow>`select v.* from rewind_version_at(${tenant}, ${entities[0]!.type}, ${entities[0]!.key}, ${at ?? null}::bigint) v`.execute(db)
    : await sql<VersionRow>`
      select ${versionColumns('v')}
      from unnest(${entities.map((e) => e.type)}::text[], ${entities.map((e) => e.key)}::text[]) as e(type, key)
      cross join lateral (${entityVersionAt(tenant, sql.ref('e.type'), sql.ref('e.key'), at)}) v`.execute(db)
  return new Map(rows.map((r) => [entityRef(r.type, r.entity_key), toVersion(r)]))
}

/**
 * The latest versions as the unit of work needs them (state, operation, position), in
 * one statement: one primary-key probe per entity (at its head's transaction), no
 * changeset, no end transaction.
 */
export async function latestVersions (db: Db, tenant: string, entities: readonly EntityName[]): Promise<Map<string, LatestVersion>> {
  if (entities.length === 0) return new Map()
  const { rows } = await sql<{ type: string, entity_key: string, transaction_id: string, seq: number, operation: LatestVersion['operation'], data: JsonObject, hash: string, revision: number }>`
    select e.type, e.key as entity_key, v.transaction_id, v.seq, v.operation, v.data, v.hash, coalesce(v.revision, 0) as revision
    from unnest(${entities.map((e) => e.type)}::text[], ${entities.map((e) => e.key)}::text[]) as e(type, key)
    cross join lateral (${entityVersionAt(tenant, sql.ref('e.type'), sql.ref('e.key'), undefined)}) v`.execute(db)
  return new Map(rows.map((r) => [entityRef(r.type, r.entity_key), { transactionId: toId(r.transaction_id), index: r.seq, operation: r.operation, data: r.data, hash: r.hash, revision: r.revision }]))
}

export interface VersionPage { order: 'asc' | 'desc', after?: number | undefined, limit: number }

/** At most `limit` of an entity's versions by transaction id, after `after` in the given order. */
export async function listVersions (db: Db, tenant: string, entity: EntityName, page: VersionPage): Promise<Version[]> {
  const asc = page.order === 'asc'
  // From a cursor, or else from the entity's first or newest version (its head): one bound, see versionColumns.
  const after = page.after !== undefined
    ? asc ? sql`and v.transaction_id > ${page.after}` : sql`and v.transaction_id < ${page.after}`
    : asc ? sql`and v.transaction_id >= ${headOf('first', tenant, entity.type, entity.key)}` : sql`and v.transaction_id <= ${headOf('last', tenant, entity.type, entity.key)}`
  const { rows } = await sql<VersionRow>`
    select ${versionColumns('v')} from versions v
    where v.tenant = ${tenant} and v.type = ${entity.type} and v.entity_key = ${entity.key} ${after}
    order by v.transaction_id ${asc ? sql`asc` : sql`desc`} limit ${page.limit}`.execute(db)
  return rows.map(toVersion)
}

/** True when the entity has at least one version (its newest: history goes oldest first). */
export async function entityHasVersions (db: Db, tenant: string, entity: EntityName): Promise<boolean> {
  const { rows } = await sql`
    select 1 from entity_heads h
    ${headVersion(tenant)}
    where h.tenant = ${tenant} and h.type = ${entity.type} and h.entity_key = ${entity.key}`.execute(db)
  return rows.length > 0
}

export interface VersionDetailRow extends Version {
  previous: number | null
}

/** One version with the transaction ids of its neighbours, in one statement. */
export async function getVersion (db: Db, tenant: string, entity: EntityName, transactionId: number): Promise<VersionDetailRow | undefined> {
  const { rows } = await sql<VersionRow & { previous: string | null }>`
    select ${versionColumns('v')},
      case when v.transaction_id = ${headOf('first', sql.ref('v.tenant'), sql.ref('v.type'), sql.ref('v.entity_key'))} then null else
      (select p.transaction_id from versions p
        where p.tenant = v.tenant and p.type = v.type and p.entity_key = v.entity_key and p.transaction_id < v.transaction_id
        order by p.transaction_id desc limit 1) end as previous
    from versions v
    where v.tenant = ${tenant} and v.type = ${entity.type} and v.entity_key = ${entity.key} and v.transaction_id = ${transactionId}`.execute(db)
  const row = rows[0]
  if (row === undefined) return undefined
  return { ...toVersion(row), previous: row.previous === null ? null : toId(row.previous) }
}

/**
 * The versions a transaction created, in the order its entities were first touched
 * (their `position`): after position `after`, at most `limit` (default: all).
 */
export async function versionsOfTransaction (
  db: Db, tenant: string, transactionId: number,
  page: { after?: number | undefined, limit?: number, only?: { type: string, id?: string | undefined } | undefined } = {}
): Promise<Array<Version & { position: number }>> {
  const only = page.only
  const { rows } = await sql<VersionRow & { position: number }>`
    select ${versionColumns('v')}, v.position from versions v
    where v.transaction_id = ${transactionId} and v.tenant = ${tenant}
      ${page.after === undefined ? sql`` : sql`and v.position > ${page.after}`}
      ${only === undefined ? sql`` : sql`and v.type = ${only.type}`}
      ${only?.id === undefined ? sql`` : sql`and v.entity_key = ${only.id}`}
    order by v.position ${page.limit === undefined ? sql`` : sql`limit ${page.limit}`}`.execute(db)
  return rows.map((r) => ({ ...toVersion(r), position: r.position }))
}

/** The entities a transaction changed, in the order they were first touched (keys only). */
export async function entitiesOfTransaction (db: Db, tenant: string, transactionId: number): Promise<EntityName[]> {
  const rows = await db.selectFrom('versions').select(['type', 'entity_key'])
    .where('tenant', '=', tenant).where('transaction_id', '=', String(transactionId) as never).orderBy('position').execute()
  return rows.map((r) => ({ type: r.type, key: r.entity_key }))
}

/** An entity changed by transactions after a given one: their ids (the first `perEntity`) and whether more exist. */
export interface LaterChanges { type: string, key: string, transactionIds: number[], more: boolean }

/**
 * Of the named entities, the first `maxEntities + 1` (in the given order) that have
 * versions after transaction `after`, each with the ids of its first `perEntity + 1` such
 * versions at most: one index range per entity, never the whole later history.
 */
export async function laterChanges (
  db: Db, tenant: string, entities: readonly EntityName[], after: number, maxEntities: number, perEntity: number
): Promise<LaterChanges[]> {
  if (entities.length === 0) return []
  const { rows } = await sql<{ type: string, key: string, ord: string, ids: string[] }>`
    select e.type, e.key, e.ord, l.ids
    from unnest(${entities.map((e) => e.type)}::text[], ${entities.map((e) => e.key)}::text[]) with ordinality as e(type, key, ord)
    cross join lateral (
      select array_agg(x.transaction_id::text order by x.transaction_id) as ids from (
        select v.transaction_id from versions v
        where v.tenant = ${tenant} and v.type = e.type and v.entity_key = e.key and v.transaction_id > ${after}
        order by v.transaction_id limit ${perEntity + 1}
      ) x
    ) l
    where l.ids is not null
    limit ${maxEntities + 1}`.execute(db)
  return rows.sort((a, b) => Number(a.ord) - Number(b.ord)).map((r) => ({
    type: r.type, key: r.key, transactionIds: r.ids.slice(0, perEntity).map(toId), more: r.ids.length > perEntity
  }))
}

/** The keys of the type's entities that are live now (latest version not a delete). */
export async function liveEntityKeys (db: Db, tenant: string, type: string): Promise<string[]> {
  const { rows } = await sql<{ entity_key: string }>`
    select h.entity_key from entity_heads h
    ${headVersion(tenant)}
    where h.tenant = ${tenant} and h.type = ${type} and v.operation <> 'delete'`.execute(db)
  return rows.map((r) => r.entity_key)
}

/** The versions of several transactions, by transaction id, each in position order. */
export async function versionsOfTransactions (db: Db, tenant: string, transactionIds: readonly number[]): Promise<Map<number, Version[]>> {
  const out = new Map<number, Version[]>(transactionIds.map((id) => [id, []]))
  if (transactionIds.length === 0) return out
  const { rows } = await sql<VersionRow>`
    select ${versionColumns('v')} from versions v
    where v.tenant = ${tenant} and v.transaction_id = any(${transactionIds.map(String)}::bigint[])
    order by v.transaction_id, v.position`.execute(db)
  for (const r of rows) out.get(toId(r.transaction_id))?.push(toVersion(r))
  return out
}

/** One entity of a type and its latest version: what the entity list shows. */
export interface EntitySummary { type: string, id: string, transactionId: number, operation: Version['operation'], issuedAt: string }

/**
 * The entities of a type with a version (deleted ones too), by key, after `after`, at most
 * `limit`, each with its latest version's operation and transaction: the keys come from
 * the entities' heads in order, then one probe per listed entity.
 */
export async function listEntities (
  db: Db, tenant: string, type: string, page: { after?: string | undefined, limit: number, key?: string | undefined }
): Promise<EntitySummary[]> {
  const { rows } = await sql<{ entity_key: string, transaction_id: string | number, operation: Version['operation'], issued_at: Date | string }>`
    select k.entity_key, k.transaction_id, k.operation, t.issued_at
    from (
      select h.entity_key, v.transaction_id, v.operation from entity_heads h
      ${headVersion(tenant)}
      where h.tenant = ${tenant} and h.type = ${type}
        ${page.after === undefined ? sql`` : sql`and h.entity_key > ${page.after}`}
        ${page.key === undefined ? sql`` : sql`and h.entity_key = ${page.key}`}
      order by h.entity_key limit ${page.limit}
    ) k
    join transactions t on t.tenant = ${tenant} and t.id = k.transaction_id
    order by k.entity_key`.execute(db)
  return rows.map((r) => ({ type, id: r.entity_key, transactionId: toId(r.transaction_id), operation: r.operation, issuedAt: new Date(r.issued_at).toISOString() }))
}
