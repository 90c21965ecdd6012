import {
  associationDefinition, normalizeDefinition, referenceFields,
  type EntityType, type EntityTypeDefinition, type EntityTypeInput
} from '../versioning/entity-type.js'
import { allows } from '../access/index.js'
import { checkDefinitionNames, SchemaMappings } from '../versioning/schema-migrations.js'
import { conflict, forbidden, limitExceeded, notFound } from '../versioning/errors.js'
import { jsonEqual } from '../versioning/json.js'
import { inTransaction, type Trx } from '../store/database.js'
import {
  getEntityType, listEntityTypes, listRevisions, loadDefinitions, saveEntityType, typeHasVersions, type EntityTypeRevision
} from '../store/entity-types.js'
import { lockNames } from '../store/locks.js'
import { backfillReferences } from '../store/references.js'
import type { ServiceContext } from './context.js'
import { readPage, type Page } from './page.js'

export interface PutResult { created: boolean, entityType: EntityType }

export const TYPES_LOCK = '\u0000entity-types'

/**
 * Registers or changes a type. Every change raises its revision and is kept; the
 * association types its manyToMany relations go through are registered when missing,
 * and foreign keys declared for the first time are indexed over the older history.
 */
export async function putEntityType (ctx: ServiceContext, type: string, input: EntityTypeInput): Promise<PutResult> {
  const { db, tenant } = ctx
  const definition = normalizeDefinition(input)
  const relations = Object.keys(definition.relations).length
  if (relations > ctx.limits.maxRelations) {
    throw limitExceeded(`a type declares at most ${ctx.limits.maxRelations} relations (this one: ${relations})`)
  }
  ctx.definitions.invalidate()
  const result = await inTransaction(db, async (trx) => {
    await lockNames(trx, tenant, [TYPES_LOCK])
    const before = await loadDefinitions(trx, tenant)
    checkDefinitionNames(before, type, definition)
    const current = await getEntityType(trx, tenant, type)
    checkAdminChanges(ctx, current?.definition, definition)
    let result: PutResult
    if (current === undefined) {
      result = { created: true, entityType: await saveEntityType(trx, tenant, type, 1, definition) }
    } else if (jsonEqual(current.definition, definition)) {
      return { created: false, entityType: current }
    } else {
      if (!jsonEqual(current.definition.idFields, definition.idFields) && await typeHasVersions(trx, tenant, type)) {
        throw conflict(`the idFields of "${type}" cannot change: it already has versions`)
      }
      result = { created: false, entityType: await saveEntityType(trx, tenant, type, current.revision + 1, definition) }
    }
    const after = new Map(before).set(type, { ...definition, schema: before.get(type)?.schema })
    for (const relation of Object.values(definition.relations)) {
      if (relation.kind === 'manyToMany' && !after.has(relation.through)) {
        const association = associationDefinition(relation)
        await saveEntityType(trx, tenant, relation.through, 1, association)
        after.set(relation.through, association)
      }
    }
    await indexNewReferences(trx, tenant, before, after)
    return result
  })
  ctx.definitions.invalidate()
  return result
}

async function indexNewReferences (
  trx: Trx, tenant: string, before: ReadonlyMap<string, EntityTypeDefinition>, after: ReadonlyMap<string, EntityTypeDefinition>
): Promise<void> {
  const old = referenceFields(before)
  for (const [source, fields] of referenceFields(after)) {
    for (const ref of fields) {
      const known = old.get(source)?.some((r) => r.field === ref.field && r.targetType === ref.targetType) ?? false
      if (known) continue
      // Older versions hold the field under every name it had (a renamed field).
      const schema = after.get(source)?.schema
      const names = schema === undefined || schema.migrations.length === 0 ? [ref.field] : new SchemaMappings(schema).aliases(ref.field)
      for (const name of names) await backfillReferences(trx, tenant, source, name, ref.targetType)
    }
  }
}

export async function entityTypes ({ db, tenant, view }: ServiceContext, after: string | undefined, limit: number): Promise<Page<EntityType>> {
  if (view !== undefined) {
    // A limited viewer token lists its one type.
    const found = after === undefined || view.type > after ? await getEntityType(db, tenant, view.type) : undefined
    return { items: found === undefined ? [] : [found], next: undefined }
  }
  return await readPage(limit, async (count) => await listEntityTypes(db, tenant, after, count))
}

export async function entityType ({ db, tenant }: ServiceContext, type: string): Promise<EntityType> {
  const found = await getEntityType(db, tenant, type)
  if (found === undefined) throw notFound(`unknown entity type "${type}"`)
  return found
}

export async function entityTypeRevisions (
  ctx: ServiceContext, type: string, after: number | undefined, limit: number
): Promise<Page<EntityTypeRevision>> {
  await entityType(ctx, type)
  return await readPage(limit, async (count) => await listRevisions(ctx.db, ctx.tenant, type, after, count))
}

/**
 * Excluding a field stops recording it (and hides what was recorded), redacting erases
 * values, retention prunes history: changing any of them needs `admin`, not `types`.
 */
function checkAdminChanges (ctx: ServiceContext, before: EntityTypeDefinition | undefined, after: EntityTypeDefinition): void {
  if (ctx.caller === undefined || allows(ctx.caller.scopes, 'admin')) return
  const added = after.exclude.filter((field) => !(before?.exclude ?? []).includes(field))
  if (added.length > 0) throw forbidden(`excluding ${added.map((f) => `"${f}"`).join(', ')} stops recording it: that needs the "admin" scope`)
  if (!jsonEqual(before?.redact ?? null, after.redact ?? null)) throw forbidden('changing "redact" erases values: that needs the "admin" scope')
  if (!jsonEqual(before?.retention ?? null, after.retention ?? null)) throw forbidden('changing "retention" prunes history: that needs the "admin" scope')
}
