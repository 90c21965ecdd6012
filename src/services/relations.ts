import type { Relation } from '../versioning/entity-type.js'
import { invalid } from '../versioning/errors.js'
import { compareByIds, entityRef, idValueString } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { isLive, type Version } from '../versioning/version.js'
import type { Db } from '../store/database.js'
import { referrersAt } from '../store/references.js'
import { versionsAt } from '../store/versions.js'
import type { Definitions } from './definitions.js'
import { presented } from './present.js'
import { inCurrentSchema, schemaMappings } from './schema.js'

/** An entity whose relations are looked up: its key and its state at that time. */
export interface Anchor { key: string, data: JsonObject }

/** A relation of a type, checked: its target (and association) types are registered. */
export function relationOf (definitions: Definitions, type: string, name: string): Relation {
  const relation = definitions.get(type)?.relations[name]
  if (relation === undefined || !Object.hasOwn(definitions.get(type)!.relations, name)) {
    throw invalid(`"${type}" has no relation "${name}"`)
  }
  if (!definitions.has(relation.target)) throw invalid(`relation "${name}" of "${type}": target type "${relation.target}" is not registered`)
  if (relation.kind === 'manyToMany' && !definitions.has(relation.through)) {
    throw invalid(`relation "${name}" of "${type}": association type "${relation.through}" is not registered`)
  }
  return relation
}

/** Related entities of several anchors, grouped by anchor key, plus the association versions of a manyToMany. */
export interface Related { targets: Map<string, Version[]>, associations: Map<string, Version[]> }

/**
 * The entities related to each anchor through one relation as of transaction `at`
 * (undefined: now), live then, ordered by their id values. A fixed number of statements
 * whatever the number of anchors or related entities.
 */
export async function relatedAt (
  db: Db, tenant: string, definitions: Definitions, type: string, name: string, anchors: readonly Anchor[], at: number | undefined
): Promise<Related> {
  const relation = relationOf(definitions, type, name)
  const targetIds = definitions.get(relation.target)!.idFields
  const targets = new Map<string, Version[]>(anchors.map((a) => [a.key, []]))
  const associations = new Map<string, Version[]>(anchors.map((a) => [a.key, []]))
  const anchorKeys = anchors.map((a) => a.key)
  if (relation.kind === 'manyToOne') {
    const pointers = anchors.map((a) => ({ anchor: a.key, key: idValueString(a.data[relation.foreignKey]) }))
    const keys = [...new Set(pointers.flatMap((p) => p.key === undefined ? [] : [p.key]))]
    const found = await versionsAt(db, tenant, keys.map((key) => ({ type: relation.target, key })), at)
    for (const p of pointers) {
      const v = p.key === undefined ? undefined : found.get(entityRef(relation.target, p.key))
      if (v !== undefined && isLive(v)) targets.get(p.anchor)!.push(inCurrentSchema(definitions, v))
    }
  } else if (relation.kind === 'oneToMany') {
    const children = await referrers(db, tenant, definitions, relation.target, relation.foreignKey, type, anchorKeys, at)
    for (const child of children) targets.get(idValueString(child.data[relation.foreignKey])!)?.push(child)
  } else {
    const links = await referrers(db, tenant, definitions, relation.through, relation.localKey, type, anchorKeys, at)
    const remote = [...new Set(links.flatMap((l) => { const k = idValueString(l.data[relation.remoteKey]); return k === undefined ? [] : [k] }))]
    const found = await versionsAt(db, tenant, remote.map((key) => ({ type: relation.target, key })), at)
    for (const link of links) {
      const anchor = idValueString(link.data[relation.localKey])!
      associations.get(anchor)?.push(link)
      const remoteKey = idValueString(link.data[relation.remoteKey])
      const v = remoteKey === undefined ? undefined : found.get(entityRef(relation.target, remoteKey))
      if (v !== undefined && isLive(v)) targets.get(anchor)?.push(inCurrentSchema(definitions, v))
    }
  }
  for (const list of targets.values()) list.sort((a, b) => compareByIds(targetIds, a.data, b.data))
  return { targets, associations }
}

/**
 * The live entities of `sourceType` whose `field` (a current name) points at one of the
 * keys as of `at`, in the current schema. The reference index keeps the name a value was
 * recorded under: every name the field had is looked up, and each candidate is checked on
 * its state in the current schema.
 */
async function referrers (
  db: Db, tenant: string, definitions: Definitions, sourceType: string, field: string, targetType: string, keys: readonly string[], at: number | undefined
): Promise<Version[]> {
  const sourceFields = schemaMappings(definitions, sourceType)?.aliases(field) ?? [field]
  const found = await referrersAt(db, tenant, { sourceType, sourceFields, targetType, targetKeys: keys, at })
  const current = found.map((v) => inCurrentSchema(definitions, v))
  if (sourceFields.length === 1) return current
  const wanted = new Set(keys)
  return current.filter((v) => wanted.has(idValueString(v.data[field]) ?? '\u0000'))
}

/** Splits `?relations=a,b` into checked names (unknown names: 400). */
export function parseRelationNames (definitions: Definitions, type: string, names: string | undefined): string[] {
  if (names === undefined || names.trim() === '') return []
  const list = [...new Set(names.split(',').map((n) => n.trim()).filter((n) => n !== ''))]
  for (const name of list) relationOf(definitions, type, name)
  return list
}

/** Which related entities a caller may see (a limited viewer token: those inside its limit). */
export type Visible = (version: Version) => boolean
const everything: Visible = () => true

/** The `relations` member of a version or state: manyToOne → Version | null, others → Version[]. */
export type RelationsView = Record<string, Version | Version[] | null>

/**
 * The named relations of an anchor as of `at`, and the names of the to-many ones cut at
 * `inline` targets (the rest page through relatedPage).
 */
export async function relationsView (
  db: Db, tenant: string, definitions: Definitions, type: string, anchor: Anchor, names: readonly string[], at: number | undefined,
  inline: number, visible: Visible = everything
): Promise<{ relations: RelationsView, truncated: string[] }> {
  const relations: RelationsView = {}
  const truncated: string[] = []
  for (const name of names) {
    const { targets } = await relatedAt(db, tenant, definitions, type, name, [anchor], at)
    const list = (targets.get(anchor.key) ?? []).filter(visible)
    if (list.length > inline) truncated.push(name)
    const shown = list.slice(0, inline).map((v) => presented(definitions, v))
    const value = definitions.get(type)!.relations[name]!.kind === 'manyToOne' ? (shown[0] ?? null) : shown
    Object.defineProperty(relations, name, { value, enumerable: true, writable: true, configurable: true })
  }
  return { relations, truncated }
}

/** One page of the targets of one relation of an anchor as of `at` (in id order; `after` is an offset). */
export async function relatedPage (
  db: Db, tenant: string, definitions: Definitions, type: string, anchor: Anchor, name: string, at: number,
  after: number | undefined, limit: number, visible: Visible = everything
): Promise<Array<Version & { offset: number }>> {
  const { targets } = await relatedAt(db, tenant, definitions, type, name, [anchor], at)
  const start = after === undefined ? 0 : after + 1
  return (targets.get(anchor.key) ?? []).filter(visible).slice(start, start + limit).map((v, i) => ({ ...presented(definitions, v), offset: start + i }))
}
