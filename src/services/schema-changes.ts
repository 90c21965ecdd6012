import type { EntityType, FieldOperation } from '../versioning/entity-type.js'
import { notFound } from '../versioning/errors.js'
import { checkOperations, followRenames, mappingOf, relationKeysOf, SchemaMappings } from '../versioning/schema-migrations.js'
import { inTransaction } from '../store/database.js'
import { getEntityType, loadDefinitions, saveEntityType, storedFieldNames } from '../store/entity-types.js'
import { lockNames, lockTenantWriters } from '../store/locks.js'
import type { ServiceContext } from './context.js'
import { TYPES_LOCK } from './entity-types.js'

/**
 * Migrates a type's schema (POST /entity-types/{type}/migrations): checks the operations
 * against the fields the type has (in its history under every revision, and in its
 * definition), raises its revision with them, and renames the fields in every definition
 * that names them (its own exclude and redact lists, relation keys of any type). Nothing
 * stored is rewritten: reads map each version from the revision it was recorded under.
 *
 * The tenant's writers wait meanwhile: writes in flight finish first, and a write planned
 * on the old definition is planned again on the new one (see rewind_check_revisions), so
 * that no write is recorded under an old name once this has answered.
 */
export async function migrateEntityType (ctx: ServiceContext, type: string, operations: readonly FieldOperation[]): Promise<EntityType> {
  const { db, tenant } = ctx
  ctx.definitions.invalidate()
  const migrated = await inTransaction(db, async (trx) => {
    await lockNames(trx, tenant, [TYPES_LOCK])
    const current = await getEntityType(trx, tenant, type)
    if (current === undefined) throw notFound(`unknown entity type "${type}"`)
    await lockTenantWriters(trx, tenant)
    const definitions = await loadDefinitions(trx, tenant)
    const definition = definitions.get(type)!
    const mappings = new SchemaMappings(definition.schema!)
    const fields = new Set<string>([...definition.idFields, ...definition.exclude, ...definition.redact?.fields ?? []])
    for (const { revision, field } of await storedFieldNames(trx, tenant, type)) {
      const mapping = mappings.of(revision)
      const name = mapping.moved.get(field) ?? (mapping.touched.has(field) ? undefined : field)
      if (name !== undefined) fields.add(name)
    }
    for (const [name] of mappingOf(definition.schema!.migrations.flatMap((m) => m.operations)).defaults) fields.add(name)
    const relationKeys = relationKeysOf(definitions, type)
    for (const key of relationKeys.keys()) fields.add(key)
    checkOperations(operations, { idFields: definition.idFields, fields, relationKeys })
    const changed = followRenames(definitions, type, operations)
    const { schema: _schema, ...own } = changed.get(type) ?? definition
    const saved = await saveEntityType(trx, tenant, type, current.revision + 1, own, operations)
    for (const [other, next] of changed) {
      if (other === type) continue
      await saveEntityType(trx, tenant, other, next.schema!.revision + 1, next)
    }
    return saved
  })
  ctx.definitions.invalidate()
  return migrated
}
