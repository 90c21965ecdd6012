import { diffStates, type Changeset } from './changeset.js'
import type { EntityTypeDefinition } from './entity-type.js'
import { conflict, invalid, notFound } from './errors.js'
import { isJsonObject, jsonEqual, mergeFields, omitFields, type JsonObject } from './json.js'
import { entityKey, entityRef } from './keys.js'
import { retiredNamesOf } from './schema-migrations.js'
import { isLive, type LatestVersion, type Operation } from './version.js'

/** One change as a backend posts it. */
export interface ChangeInput {
  type: string
  op: Operation
  id?: string | undefined
  /** A delete takes none (`null` is accepted, as revert answers show it). */
  data?: JsonObject | null | undefined
  expectedTransactionId?: number | undefined
}

/** A change checked against its type, with its entity key and only versioned fields. */
export interface ResolvedChange {
  type: string
  key: string
  op: Operation
  data: JsonObject
  expectedTransactionId?: number | undefined
}

/** A version the unit of work decided to record. */
export interface PlannedVersion {
  type: string
  key: string
  operation: Operation
  index: number
  data: JsonObject
  changeset: Changeset
}

/** Checks each change against its entity type and names the entity it touches. */
export function resolveChanges (
  types: ReadonlyMap<string, EntityTypeDefinition>,
  changes: readonly ChangeInput[]
): ResolvedChange[] {
  return changes.map((change, i) => {
    const where = `changes[${i}]`
    const definition = types.get(change.type)
    if (definition === undefined) throw notFound(`${where}: unknown entity type "${change.type}"`)
    if (change.data !== undefined && change.data !== null && !isJsonObject(change.data)) throw invalid(`${where}: data must be an object`)
    if (change.data === null && change.op !== 'delete') throw invalid(`${where}: an ${change.op} needs data`)
    if (change.data !== undefined && change.data !== null) checkCurrentNames(definition, change.data, where)
    const data = omitFields(change.data ?? {}, definition.exclude)
    if (change.op === 'insert') {
      if (change.data === undefined) throw invalid(`${where}: an insert needs data`)
      if (change.expectedTransactionId !== undefined) throw invalid(`${where}: expectedTransactionId applies to update and delete`)
      const key = entityKey(definition.idFields, data, `${where}`)
      if (change.id !== undefined && change.id !== key) throw invalid(`${where}: id "${change.id}" does not match the id fields of data ("${key}")`)
      return { type: change.type, key, op: 'insert', data }
    }
    if (change.id === undefined || change.id === '') throw invalid(`${where}: an ${change.op} needs the id of the entity`)
    if (change.op === 'update' && change.data === undefined) throw invalid(`${where}: an update needs data`)
    if (change.op === 'delete' && change.data !== undefined && change.data !== null) throw invalid(`${where}: a delete takes no data`)
    return { type: change.type, key: change.id, op: change.op, data, expectedTransactionId: change.expectedTransactionId }
  })
}

/** A write names fields by their current names: an old name of a renamed field is 400, naming the new one. */
function checkCurrentNames (definition: EntityTypeDefinition, data: JsonObject, where: string): void {
  const schema = definition.schema
  if (schema === undefined || schema.migrations.length === 0) return
  const retired = retiredNamesOf(schema)
  for (const field of Object.keys(data)) {
    const name = retired.get(field)
    if (name !== undefined) throw invalid(`${where}.data.${field}: the field "${field}" was renamed to "${name}": write "${name}" instead`)
  }
}

interface WorkingEntity {
  type: string
  key: string
  before: LatestVersion | undefined
  /** The latest version's versioned fields (the state the changes start from). */
  base: JsonObject
  live: boolean
  data: JsonObject
}

/**
 * The unit of work: applies the changes of one transaction in order to the entities'
 * latest versions and collapses all changes to one entity into at most one version.
 * Returns the versions to record in the order the entities were first touched.
 */
export function planVersions (
  types: ReadonlyMap<string, EntityTypeDefinition>,
  changes: readonly ResolvedChange[],
  latest: ReadonlyMap<string, LatestVersion>
): PlannedVersion[] {
  const entities = new Map<string, WorkingEntity>()
  changes.forEach((change, i) => {
    const ref = entityRef(change.type, change.key)
    let entity = entities.get(ref)
    if (entity === undefined) {
      const before = latest.get(ref)
      // Fields excluded since the latest version was stored are dropped from it too.
      const base = omitFields(before?.data ?? {}, types.get(change.type)?.exclude ?? [])
      entity = { type: change.type, key: change.key, before, base, live: isLive(before), data: base }
      entities.set(ref, entity)
    }
    applyChange(entity, change, types.get(change.type)?.idFields ?? [], `changes[${i}]`)
  })
  const planned: PlannedVersion[] = []
  for (const entity of entities.values()) {
    const version = collapse(entity)
    if (version !== undefined) planned.push(version)
  }
  return planned
}

function applyChange (entity: WorkingEntity, change: ResolvedChange, idFields: readonly string[], where: string): void {
  const name = `${change.type} "${change.key}"`
  if (change.expectedTransactionId !== undefined) {
    const actual = entity.before?.transactionId ?? null
    if (actual !== change.expectedTransactionId) {
      throw conflict(`${where}: ${name} was expected at transaction ${change.expectedTransactionId} but its latest version is at ${actual ?? 'none'}`,
        { entity: { type: change.type, id: change.key }, expectedTransactionId: change.expectedTransactionId, latestTransactionId: actual })
    }
  }
  switch (change.op) {
    case 'insert':
      if (entity.live) throw conflict(`${where}: ${name} already exists`, { entity: { type: change.type, id: change.key } })
      entity.live = true
      entity.data = change.data
      return
    case 'update': {
      if (!entity.live) throw conflict(`${where}: ${name} does not exist`, { entity: { type: change.type, id: change.key } })
      const changedId = idFields.find((f) => Object.hasOwn(change.data, f) && !jsonEqual(change.data[f], entity.data[f]))
      if (changedId !== undefined) throw invalid(`${where}: the id field "${changedId}" of ${name} cannot be changed`)
      entity.data = mergeFields(entity.data, change.data)
      return
    }
    case 'delete':
      if (!entity.live) throw conflict(`${where}: ${name} does not exist`, { entity: { type: change.type, id: change.key } })
      entity.live = false
  }
}

function collapse (entity: WorkingEntity): PlannedVersion | undefined {
  const wasLive = isLive(entity.before)
  const index = entity.before === undefined ? 0 : entity.before.index + 1
  const base = { type: entity.type, key: entity.key, index, data: entity.data }
  if (!wasLive && !entity.live) return undefined // insert then delete: it never existed outside
  if (!wasLive) return { ...base, operation: 'insert', changeset: diffStates(null, entity.data) }
  if (!entity.live) return { ...base, operation: 'delete', changeset: diffStates(entity.data, null) }
  const changeset = diffStates(entity.base, entity.data)
  if (Object.keys(changeset).length === 0) return undefined
  return { ...base, operation: 'update', changeset }
}
