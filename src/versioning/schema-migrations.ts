import type { EntityTypeDefinition, FieldOperation, Relation, TypeSchema } from './entity-type.js'
import { invalid } from './errors.js'
import { setField, type JsonObject, type JsonValue } from './json.js'

/** Where a current field's value comes from in a version recorded before some operations. */
interface Source { stored: string | null, default?: JsonValue }

/**
 * How a version recorded under one revision reads in the current schema: stored names
 * that move to another name, stored names that no longer show, and added fields with
 * their defaults.
 */
export interface FieldMapping {
  /** Stored name → current name, for every stored name that the operations touched and that still shows. */
  readonly moved: ReadonlyMap<string, string>
  /** Stored names that the operations touched: shown only under `moved`. */
  readonly touched: ReadonlySet<string>
  /** Added fields and their defaults (shown where the version has no value). */
  readonly defaults: ReadonlyArray<readonly [string, JsonValue]>
}

export const IDENTITY: FieldMapping = { moved: new Map(), touched: new Set(), defaults: [] }

const isIdentity = (m: FieldMapping): boolean => m.touched.size === 0 && m.defaults.length === 0

/** The mapping that `operations` make, from the names before them to the names after. */
export function mappingOf (operations: readonly FieldOperation[]): FieldMapping {
  const sources = new Map<string, Source | null>()
  const current = (name: string): Source | null => sources.has(name) ? sources.get(name)! : { stored: name }
  for (const op of operations) {
    if (op.op === 'renameField') {
      const source = current(op.from)
      sources.set(op.from, null)
      sources.set(op.to, source)
    } else if (op.op === 'dropField') {
      sources.set(op.field, null)
    } else {
      sources.set(op.field, { stored: current(op.field)?.stored ?? null, default: op.default })
    }
  }
  const moved = new Map<string, string>()
  const defaults: Array<[string, JsonValue]> = []
  const touched = new Set<string>()
  for (const [name, source] of sources) {
    touched.add(name)
    if (source === null) continue
    if (source.stored !== null) { moved.set(source.stored, name); touched.add(source.stored) }
    if (Object.hasOwn(source, 'default')) defaults.push([name, source.default!])
  }
  return isIdentity({ moved, touched, defaults }) ? IDENTITY : { moved, touched, defaults }
}

/** A stored record (data or changeset) with its fields under their current names; `withDefaults` adds the added fields. */
export function mapFields<T> (record: Record<string, T>, mapping: FieldMapping, defaults?: (value: JsonValue) => T): Record<string, T> {
  if (mapping === IDENTITY) return record
  const out: Record<string, T> = {}
  for (const key of Object.keys(record)) {
    const to = mapping.moved.get(key)
    if (to !== undefined) setField(out as JsonObject, to, record[key] as JsonValue)
    else if (!mapping.touched.has(key)) setField(out as JsonObject, key, record[key] as JsonValue)
  }
  if (defaults !== undefined) {
    for (const [name, value] of mapping.defaults) if (!Object.hasOwn(out, name)) setField(out as JsonObject, name, defaults(value) as JsonValue)
  }
  return out
}

/** The stored names that show as one of `fields` (current names) under `mapping`. */
export function storedNames (mapping: FieldMapping, fields: readonly string[]): string[] {
  if (mapping === IDENTITY) return [...fields]
  const wanted = new Set(fields)
  const out = fields.filter((f) => !mapping.touched.has(f))
  for (const [stored, name] of mapping.moved) if (wanted.has(name)) out.push(stored)
  return [...new Set(out)]
}

/**
 * The mappings of one type's schema, one per stored revision, each computed once: a
 * version recorded under revision r reads through the operations of every later migration.
 */
export class SchemaMappings {
  private readonly byRevision = new Map<number, FieldMapping>()
  constructor (readonly schema: TypeSchema) {}

  /** The mapping of versions recorded under `revision` (0: before any revision was kept with versions). */
  of (revision: number): FieldMapping {
    const migrations = this.schema.migrations
    if (migrations.length === 0 || revision >= migrations[migrations.length - 1]!.revision) return IDENTITY
    // Versions recorded between two migrations read alike: key the cache by the first migration after.
    const first = migrations.findIndex((m) => m.revision > revision)
    let mapping = this.byRevision.get(first)
    if (mapping === undefined) {
      mapping = mappingOf(migrations.slice(first).flatMap((m) => m.operations))
      this.byRevision.set(first, mapping)
    }
    return mapping
  }

  /** Every distinct mapping of older versions (one per migration), for lookups by stored name. */
  all (): FieldMapping[] {
    return this.schema.migrations.map((m) => this.of(m.revision - 1))
  }

  /** Every name a current field was stored under, itself included. */
  aliases (field: string): string[] {
    return [...new Set([field, ...this.all().flatMap((m) => storedNames(m, [field]))])]
  }

}

const retiredBySchema = new WeakMap<TypeSchema, Map<string, string>>()

/** retiredNames of every migration of a schema, computed once per loaded schema. */
export function retiredNamesOf (schema: TypeSchema): ReadonlyMap<string, string> {
  let retired = retiredBySchema.get(schema)
  if (retired === undefined) {
    retired = retiredNames(schema.migrations.flatMap((m) => m.operations))
    retiredBySchema.set(schema, retired)
  }
  return retired
}

/** Old names of renamed fields that no current field took again, each with its current name. */
export function retiredNames (operations: readonly FieldOperation[]): Map<string, string> {
  const retired = new Map<string, string>()
  for (const op of operations) {
    if (op.op === 'renameField') {
      for (const [old, name] of retired) if (name === op.from) retired.set(old, op.to)
      retired.set(op.from, op.to)
      retired.delete(op.to)
    } else if (op.op === 'dropField') {
      for (const [old, name] of retired) if (name === op.field) retired.delete(old)
    } else {
      retired.delete(op.field)
    }
  }
  return retired
}

/** What a type has at a given point: its id fields and every field it is known to have. */
export interface FieldSet { idFields: readonly string[], fields: ReadonlySet<string>, relationKeys: ReadonlyMap<string, string> }

/**
 * Checks operations against the type's fields, in order (each sees the fields the ones
 * before it left), and answers the fields after them. Renaming or dropping an id field,
 * renaming to a name the type has, renaming or dropping a field it never had, dropping a
 * field a relation uses, adding a field it has: 400, naming the operation.
 */
export function checkOperations (operations: readonly FieldOperation[], known: FieldSet): Set<string> {
  if (operations.length === 0) throw invalid('operations: give at least one operation')
  const fields = new Set(known.fields)
  operations.forEach((op, i) => {
    const where = `operations[${i}]`
    if (op.op === 'renameField') {
      if (op.from === op.to) throw invalid(`${where}: "from" and "to" are the same field "${op.from}"`)
      if (known.idFields.includes(op.from)) throw invalid(`${where}: "${op.from}" is an id field: it names the entities and cannot be renamed`)
      if (!fields.has(op.from)) throw invalid(`${where}: the type has no field "${op.from}" to rename`)
      if (fields.has(op.to)) throw invalid(`${where}: the type already has a field "${op.to}": renaming "${op.from}" to it would make two fields one`)
      fields.delete(op.from)
      fields.add(op.to)
    } else if (op.op === 'dropField') {
      if (known.idFields.includes(op.field)) throw invalid(`${where}: "${op.field}" is an id field and cannot be dropped`)
      if (!fields.has(op.field)) throw invalid(`${where}: the type has no field "${op.field}" to drop`)
      const relation = known.relationKeys.get(op.field)
      if (relation !== undefined) throw invalid(`${where}: "${op.field}" is a key of the relation ${relation}: change the relation first`)
      fields.delete(op.field)
    } else {
      if (fields.has(op.field)) throw invalid(`${where}: the type already has a field "${op.field}"`)
      fields.add(op.field)
    }
  })
  return fields
}

/** True when the field named `name` before the operations is dropped by them (under that name or a later one). */
function droppedBy (operations: readonly FieldOperation[], name: string): boolean {
  let current: string | undefined = name
  for (const op of operations) {
    if (op.op === 'renameField' && op.from === current) current = op.to
    else if (op.op === 'dropField' && op.field === current) current = undefined
  }
  return current === undefined
}

/** A name as operations leave it (renamed, or unchanged; dropped names are left as they are). */
export function renamedBy (operations: readonly FieldOperation[], name: string): string {
  let current = name
  for (const op of operations) if (op.op === 'renameField' && op.from === current) current = op.to
  return current
}

/** The fields of `type` that relations use as keys (any type's relations), each with the relation that does. */
export function relationKeysOf (definitions: ReadonlyMap<string, EntityTypeDefinition>, type: string): Map<string, string> {
  const keys = new Map<string, string>()
  for (const [owner, definition] of definitions) {
    for (const [name, relation] of Object.entries(definition.relations)) {
      for (const field of keysIn(owner, relation, type)) keys.set(field, `"${name}" of "${owner}"`)
    }
  }
  return keys
}

/** The fields of `type` that one relation of `owner` names. */
function keysIn (owner: string, relation: Relation, type: string): string[] {
  if (relation.kind === 'manyToOne') return owner === type ? [relation.foreignKey] : []
  if (relation.kind === 'oneToMany') return relation.target === type ? [relation.foreignKey] : []
  return relation.through === type ? [relation.localKey, relation.remoteKey] : []
}

/**
 * The definitions that renames of `type`'s fields change: the type's own (its `exclude`
 * and `redact` names, which leave with a dropped field; its manyToOne keys) and every type whose relations name one of the
 * renamed fields (a oneToMany's foreignKey, a manyToMany's keys in its association type).
 */
export function followRenames (
  definitions: ReadonlyMap<string, EntityTypeDefinition>, type: string, operations: readonly FieldOperation[]
): Map<string, EntityTypeDefinition> {
  const rename = (name: string): string => renamedBy(operations, name)
  const changed = new Map<string, EntityTypeDefinition>()
  for (const [owner, definition] of definitions) {
    let relationsChanged = false
    const relations: Record<string, Relation> = {}
    for (const [name, relation] of Object.entries(definition.relations)) {
      let next: Relation = relation
      if (relation.kind === 'manyToOne' && owner === type) next = { ...relation, foreignKey: rename(relation.foreignKey) }
      if (relation.kind === 'oneToMany' && relation.target === type) next = { ...relation, foreignKey: rename(relation.foreignKey) }
      if (relation.kind === 'manyToMany' && relation.through === type) next = { ...relation, localKey: rename(relation.localKey), remoteKey: rename(relation.remoteKey) }
      relationsChanged ||= JSON.stringify(next) !== JSON.stringify(relation)
      Object.defineProperty(relations, name, { value: next, enumerable: true, writable: true, configurable: true })
    }
    let next: EntityTypeDefinition = relationsChanged ? { ...definition, relations } : definition
    if (owner === type) {
      // Listed names follow renames; a dropped field leaves the lists (a field added later under its name is another field).
      const follow = (names: readonly string[]): string[] => names.filter((f) => !droppedBy(operations, f)).map(rename)
      const exclude = follow(definition.exclude)
      const redact = definition.redact === undefined ? undefined : follow(definition.redact.fields)
      if (JSON.stringify(exclude) !== JSON.stringify(definition.exclude) || JSON.stringify(redact) !== JSON.stringify(definition.redact?.fields)) {
        const { redact: _redact, ...rest } = next
        next = { ...rest, exclude, ...(redact === undefined || redact.length === 0 ? {} : { redact: { fields: redact } }) }
      }
    }
    if (next !== definition) changed.set(owner, next)
  }
  return changed
}

/** One operation as a request gives it: `op` and the members its kind takes. */
export interface OperationInput { op: 'renameField' | 'dropField' | 'addField', from?: string, to?: string, field?: string, default?: unknown }

/** Checks that each operation has the members its kind needs and no other (400 naming the member). */
export function parseOperations (input: readonly OperationInput[]): FieldOperation[] {
  return input.map((op, i) => {
    const where = `operations[${i}]`
    const only = (allowed: string[]): void => {
      const extra = Object.keys(op).find((k) => k !== 'op' && !allowed.includes(k))
      if (extra !== undefined) throw invalid(`${where}.${extra}: a ${op.op} takes ${allowed.map((a) => `"${a}"`).join(' and ')}, not "${extra}"`)
    }
    const name = (member: 'from' | 'to' | 'field'): string => {
      const value = op[member]
      if (typeof value !== 'string' || value === '') throw invalid(`${where}.${member}: a ${op.op} needs "${member}" (a field name)`)
      return value
    }
    if (op.op === 'renameField') { only(['from', 'to']); return { op: 'renameField', from: name('from'), to: name('to') } }
    if (op.op === 'dropField') { only(['field']); return { op: 'dropField', field: name('field') } }
    only(['field', 'default'])
    if (!Object.hasOwn(op, 'default')) throw invalid(`${where}.default: an addField needs "default" (the value versions without the field show; null is a value)`)
    return { op: 'addField', field: name('field'), default: op.default as JsonValue }
  })
}

/**
 * A definition names fields by their current names: an old name of a renamed field in
 * `exclude`, `redact` or a relation key (of the type that holds the key) is 400.
 */
export function checkDefinitionNames (definitions: ReadonlyMap<string, EntityTypeDefinition>, type: string, definition: EntityTypeDefinition): void {
  const check = (holder: string, field: string, where: string): void => {
    const schema = holder === type ? definitions.get(type)?.schema : definitions.get(holder)?.schema
    const name = schema === undefined || schema.migrations.length === 0 ? undefined : retiredNamesOf(schema).get(field)
    if (name !== undefined) throw invalid(`${where}: the field "${field}" of "${holder}" was renamed to "${name}": name "${name}" instead`)
  }
  definition.exclude.forEach((f, i) => check(type, f, `exclude[${i}]`))
  definition.redact?.fields.forEach((f, i) => check(type, f, `redact.fields[${i}]`))
  for (const [name, relation] of Object.entries(definition.relations)) {
    if (relation.kind === 'manyToOne') check(type, relation.foreignKey, `relations.${name}.foreignKey`)
    if (relation.kind === 'oneToMany') check(relation.target, relation.foreignKey, `relations.${name}.foreignKey`)
    if (relation.kind === 'manyToMany') {
      check(relation.through, relation.localKey, `relations.${name}.localKey`)
      check(relation.through, relation.remoteKey, `relations.${name}.remoteKey`)
    }
  }
}
