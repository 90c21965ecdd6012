import { invalid } from './errors.js'
import type { JsonValue } from './json.js'

/** How one entity type relates to another (Continuum's relationship kinds). */
export type Relation =
  | { kind: 'manyToOne', target: string, foreignKey: string }
  | { kind: 'oneToMany', target: string, foreignKey: string }
  | { kind: 'manyToMany', target: string, through: string, localKey: string, remoteKey: string }

/** How long a type's versions are kept: the newest `keepVersions` of each entity and/or those younger than `keepDays`. */
export interface Retention { keepVersions?: number | undefined, keepDays?: number | undefined }

/** One step of a type's schema migration (Continuum's Alembic operations, on a JSON shape). */
export type FieldOperation =
  | { op: 'renameField', from: string, to: string }
  | { op: 'dropField', field: string }
  | { op: 'addField', field: string, default: JsonValue }

/** The operations that made one revision of a type. */
export interface SchemaMigration { revision: number, operations: FieldOperation[] }

/** A type's current revision and every migration that led to it, oldest first. */
export interface TypeSchema { revision: number, migrations: readonly SchemaMigration[] }

export interface EntityTypeDefinition {
  idFields: string[]
  exclude: string[]
  relations: Record<string, Relation>
  /** Fields whose values are never stored: only their commitments are (write-time redaction). */
  redact?: { fields: string[] }
  retention?: Retention
  /**
   * The type's revision and migrations, as loaded for writes and reads (never part of a
   * stored or answered definition).
   */
  schema?: TypeSchema
}

export interface EntityTypeInput {
  idFields?: string[] | undefined
  exclude?: string[] | undefined
  relations?: Record<string, Relation> | undefined
  redact?: { fields: string[] } | undefined
  retention?: Retention | undefined
}

export interface EntityType {
  type: string
  revision: number
  definition: EntityTypeDefinition
  createdAt: string
  updatedAt: string
}

export const TYPE_NAME_PATTERN = '^[a-z][a-z0-9_]{0,62}$'
const typeName = new RegExp(TYPE_NAME_PATTERN)

/** Fills the defaults of a definition and checks the rules a schema cannot express. */
export function normalizeDefinition (input: EntityTypeInput): EntityTypeDefinition {
  const idFields = input.idFields ?? ['id']
  const exclude = input.exclude ?? []
  if (idFields.length === 0) throw invalid('idFields must name at least one field')
  if (new Set(idFields).size !== idFields.length) throw invalid('idFields must not repeat a field')
  const excludedId = idFields.find((f) => exclude.includes(f))
  if (excludedId !== undefined) throw invalid(`id field "${excludedId}" cannot be excluded from versioning`)
  const relations: Record<string, Relation> = {}
  for (const [name, relation] of Object.entries(input.relations ?? {})) {
    if (!typeName.test(relation.target)) throw invalid(`relation "${name}": target "${relation.target}" is not a valid type name`)
    if (relation.kind === 'manyToMany') {
      if (!typeName.test(relation.through)) throw invalid(`relation "${name}": through "${relation.through}" is not a valid type name`)
      if (relation.localKey === relation.remoteKey) throw invalid(`relation "${name}": localKey and remoteKey must differ`)
    }
    Object.defineProperty(relations, name, { value: relation, enumerable: true, writable: true, configurable: true })
  }
  const definition: EntityTypeDefinition = { idFields: [...idFields], exclude: [...new Set(exclude)], relations }
  const redact = [...new Set(input.redact?.fields ?? [])]
  const redactedId = idFields.find((f) => redact.includes(f))
  if (redactedId !== undefined) throw invalid(`redact.fields: id field "${redactedId}" cannot be redacted`)
  if (redact.length > 0) definition.redact = { fields: redact }
  if (input.retention !== undefined) {
    const { keepVersions, keepDays } = input.retention
    if (keepVersions === undefined && keepDays === undefined) throw invalid('retention: give keepVersions, keepDays or both')
    definition.retention = { ...(keepVersions === undefined ? {} : { keepVersions }), ...(keepDays === undefined ? {} : { keepDays }) }
  }
  return definition
}

/** The definition given to an association type that a manyToMany relation declares. */
export function associationDefinition (relation: Extract<Relation, { kind: 'manyToMany' }>): EntityTypeDefinition {
  return { idFields: [relation.localKey, relation.remoteKey], exclude: [], relations: {} }
}

/** A field of `sourceType` that holds the key of an entity of `targetType`. */
export interface ReferenceField { field: string, targetType: string }

/**
 * The foreign-key fields that reverse lookups need ("which entities pointed at X"):
 * the child side of every oneToMany and both key fields of every manyToMany association.
 */
export function referenceFields (types: ReadonlyMap<string, EntityTypeDefinition>): Map<string, ReferenceField[]> {
  const out = new Map<string, ReferenceField[]>()
  const add = (source: string, field: string, targetType: string): void => {
    const list = out.get(source) ?? []
    if (!list.some((r) => r.field === field && r.targetType === targetType)) list.push({ field, targetType })
    out.set(source, list)
  }
  for (const [type, definition] of types) {
    for (const relation of Object.values(definition.relations)) {
      if (relation.kind === 'oneToMany') add(relation.target, relation.foreignKey, type)
      if (relation.kind === 'manyToMany') {
        add(relation.through, relation.localKey, type)
        add(relation.through, relation.remoteKey, relation.target)
      }
    }
  }
  return out
}

/** Every declared foreign-key field, by the type that holds it: referenceFields plus manyToOne keys. */
export function foreignKeys (types: ReadonlyMap<string, EntityTypeDefinition>): Map<string, ReferenceField[]> {
  const out = referenceFields(types)
  for (const [type, definition] of types) {
    for (const relation of Object.values(definition.relations)) {
      if (relation.kind !== 'manyToOne') continue
      const list = out.get(type) ?? []
      if (!list.some((r) => r.field === relation.foreignKey && r.targetType === relation.target)) {
        list.push({ field: relation.foreignKey, targetType: relation.target })
      }
      out.set(type, list)
    }
  }
  return out
}

/**
 * Ranks types so that a type comes after every type it points at (parents first):
 * applying inserts in ascending rank and deletes in descending rank keeps foreign keys valid.
 */
export function dependencyRanks (types: ReadonlyMap<string, EntityTypeDefinition>): Map<string, number> {
  const parents = new Map<string, Set<string>>()
  const link = (child: string, parent: string): void => {
    if (child === parent) return
    const set = parents.get(child) ?? new Set<string>()
    set.add(parent)
    parents.set(child, set)
  }
  for (const [type, definition] of types) {
    for (const relation of Object.values(definition.relations)) {
      if (relation.kind === 'manyToOne') link(type, relation.target)
      if (relation.kind === 'oneToMany') link(relation.target, type)
      if (relation.kind === 'manyToMany') {
        link(relation.through, type)
        link(relation.through, relation.target)
      }
    }
  }
  const ranks = new Map<string, number>()
  const visiting = new Set<string>()
  const rank = (type: string): number => {
    const known = ranks.get(type)
    if (known !== undefined) return known
    if (visiting.has(type)) return 0 // a cycle: no order can satisfy it, stop here
    visiting.add(type)
    let r = 0
    for (const parent of parents.get(type) ?? []) r = Math.max(r, rank(parent) + 1)
    visiting.delete(type)
    ranks.set(type, r)
    return r
  }
  for (const type of new Set([...types.keys(), ...parents.keys()])) rank(type)
  return ranks
}
