import { sql } from 'kysely'
import type { Version } from '../versioning/version.js'
import type { Db } from './database.js'
import { toVersion, type VersionRow } from './rows.js'
import { entityVersionAt, versionColumns } from './versions.js'

/** A declared foreign-key value of one version: source entity → target entity. */
export interface Reference {
  targetType: string
  targetKey: string
  sourceType: string
  sourceField: string
  sourceKey: string
}

/**
 * Indexes the foreign-key values of versions stored before the relation was declared,
 * so that a relation added to a type later also sees the older history.
 */
export async function backfillReferences (db: Db, tenant: string, sourceType: string, sourceField: string, targetType: string): Promise<void> {
  await sql`
    insert into version_refs (tenant, target_type, target_key, source_type, source_field, source_key, transaction_id)
    select v.tenant, ${targetType}, v.data->>${sourceField}, v.type, ${sourceField}, v.entity_key, v.transaction_id
    from versions v
    where v.tenant = ${tenant} and v.type = ${sourceType} and jsonb_typeof(v.data->${sourceField}) in ('string', 'number')
    on conflict do nothing`.execute(db)
}

export interface ReferrerQuery {
  sourceType: string
  /** The names the field was recorded under (one, unless it was renamed). */
  sourceFields: readonly string[]
  targetType: string
  targetKeys: readonly string[]
  /** As of this transaction; undefined: now. */
  at?: number | undefined
}

/**
 * The entities of `sourceType` whose `sourceField` points at one of the target keys in
 * their latest version at `at` (live ones only), in one statement: the reference index
 * gives the candidates, one primary-key probe per candidate checks its state then. With
 * several names (a renamed field), the caller checks the candidates' states.
 */
export async function referrersAt (db: Db, tenant: string, q: ReferrerQuery): Promise<Version[]> {
  if (q.targetKeys.length === 0) return []
  const bound = (col: string): ReturnType<typeof sql> => q.at === undefined ? sql`` : sql`and ${sql.ref(col)} <= ${q.at}`
  const { rows } = await sql<VersionRow>`
    select ${versionColumns('v')}
    from (
      select distinct r.source_key from version_refs r
      where r.tenant = ${tenant} and r.target_type = ${q.targetType} and r.target_key = any(${[...q.targetKeys]}::text[])
        and r.source_type = ${q.sourceType} and r.source_field = any(${[...q.sourceFields]}::text[]) ${bound('r.transaction_id')}
    ) c
    cross join lateral (${entityVersionAt(tenant, q.sourceType, sql.ref('c.source_key'), q.at)}) v
    where v.operation <> 'delete' ${q.sourceFields.length === 1 ? sql`and v.data->>${q.sourceFields[0]} = any(${[...q.targetKeys]}::text[])` : sql``}`.execute(db)
  return rows.map(toVersion)
}
