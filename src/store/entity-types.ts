import type { EntityType, EntityTypeDefinition, FieldOperation, SchemaMigration } from '../versioning/entity-type.js'
import { sql } from 'kysely'
import type { Db, Trx } from './database.js'
import { toJsonText } from '../versioning/json.js'
import { appendRecord } from './integrity-records.js'

interface EntityTypeRow {
  type: string
  revision: number
  definition: unknown
  created_at: Date
  updated_at: Date
}

const toEntityType = (row: EntityTypeRow): EntityType => ({
  type: row.type,
  revision: row.revision,
  definition: row.definition as EntityTypeDefinition,
  createdAt: new Date(row.created_at).toISOString(),
  updatedAt: new Date(row.updated_at).toISOString()
})

const columns = ['type', 'revision', 'definition', 'created_at', 'updated_at'] as const

export async function listEntityTypes (db: Db, tenant: string, after: string | undefined, limit: number): Promise<EntityType[]> {
  let query = db.selectFrom('entity_types').select(columns).where('tenant', '=', tenant)
  if (after !== undefined) query = query.where('type', '>', after)
  const rows = await query.orderBy('type').limit(limit).execute()
  return rows.map(toEntityType)
}

/** All definitions of a tenant, by type name. */
export async function loadDefinitions (db: Db, tenant: string): Promise<Map<string, EntityTypeDefinition>> {
  return (await loadDefinitionsAndRedactions(db, tenant)).definitions
}

/**
 * All definitions of a tenant, and in the same statement the sequence of its newest
 * redaction record (0: none), so that a process learns of erasures when it reloads them.
 */
export async function loadDefinitionsAndRedactions (db: Db, tenant: string): Promise<{ definitions: Map<string, EntityTypeDefinition>, redactions: number }> {
  const { rows } = await sql<{ type: string, revision: number, definition: EntityTypeDefinition, migrations: SchemaMigration[] | null, redactions: number | null }>`
    select t.type, t.revision, t.definition,
      (select jsonb_agg(jsonb_build_object('revision', m.revision, 'operations', m.operations) order by m.revision)
        from entity_type_revisions m where m.tenant = t.tenant and m.type = t.type and m.operations is not null) as migrations,
      (select max(sequence) from integrity_records r where r.tenant = ${tenant} and r.kind = 'redaction') as redactions
    from entity_types t where t.tenant = ${tenant}`.execute(db)
  return {
    definitions: new Map(rows.map((r) => [r.type, { ...r.definition, schema: { revision: r.revision, migrations: r.migrations ?? [] } }])),
    redactions: rows[0]?.redactions ?? 0
  }
}

export async function getEntityType (db: Db, tenant: string, type: string): Promise<EntityType | undefined> {
  const row = await db.selectFrom('entity_types').select(columns)
    .where('tenant', '=', tenant).where('type', '=', type).executeTakeFirst()
  return row === undefined ? undefined : toEntityType(row)
}

/**
 * Writes a new revision of a type (the first one creates it), keeps it in the history, and
 * records it in the integrity records (how history is read is covered by checkpoints too).
 */
export async function saveEntityType (
  db: Trx, tenant: string, type: string, revision: number, definition: EntityTypeDefinition, operations?: readonly FieldOperation[]
): Promise<EntityType> {
  const { schema: _loaded, ...stored } = definition
  definition = stored
  const json = toJsonText(definition)
  const now = new Date()
  const row = revision === 1
    ? await db.insertInto('entity_types')
      .values({ tenant, type, revision, definition: json, created_at: now, updated_at: now })
      .returning(columns).executeTakeFirstOrThrow()
    : await db.updateTable('entity_types').set({ revision, definition: json, updated_at: now })
      .where('tenant', '=', tenant).where('type', '=', type)
      .returning(columns).executeTakeFirstOrThrow()
  await db.insertInto('entity_type_revisions')
    .values({ tenant, type, revision, definition: json, operations: operations === undefined ? null : toJsonText(operations), created_at: now }).execute()
  await appendRecord(db, tenant, 'entityType', { type, revision, definition, ...(operations === undefined ? {} : { operations }) })
  return toEntityType(row)
}

export interface EntityTypeRevision { revision: number, definition: EntityTypeDefinition, operations?: FieldOperation[], createdAt: string }

export async function listRevisions (db: Db, tenant: string, type: string, after: number | undefined, limit: number): Promise<EntityTypeRevision[]> {
  let query = db.selectFrom('entity_type_revisions').select(['revision', 'definition', 'operations', 'created_at'])
    .where('tenant', '=', tenant).where('type', '=', type)
  if (after !== undefined) query = query.where('revision', '>', after)
  const rows = await query.orderBy('revision').limit(limit).execute()
  return rows.map((r) => ({
    revision: r.revision,
    definition: r.definition as EntityTypeDefinition,
    ...(r.operations === null ? {} : { operations: r.operations as FieldOperation[] }),
    createdAt: new Date(r.created_at).toISOString()
  }))
}

/** True when at least one version of the type is stored. */
export async function typeHasVersions (db: Db, tenant: string, type: string): Promise<boolean> {
  const row = await db.selectFrom('versions').select('seq').where('tenant', '=', tenant).where('type', '=', type).limit(1).executeTakeFirst()
  return row !== undefined
}

/**
 * The field names stored in the type's versions, by the revision each was recorded under
 * (0: before revisions were kept with versions). Reads every version of the type: for
 * schema migrations, which are rare.
 */
export async function storedFieldNames (db: Db, tenant: string, type: string): Promise<Array<{ revision: number, field: string }>> {
  const { rows } = await sql<{ revision: number, field: string }>`
    select distinct coalesce(v.revision, 0) as revision, k.field
    from versions v, jsonb_object_keys(v.data) as k(field)
    where v.tenant = ${tenant} and v.type = ${type}`.execute(db)
  return rows
}
