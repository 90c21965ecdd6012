import type { TypeSchema } from '../versioning/entity-type.js'
import type { JsonObject, JsonValue } from '../versioning/json.js'
import { liveData, type Version } from '../versioning/version.js'
import { IDENTITY, mapFields, SchemaMappings, storedNames, type FieldMapping } from '../versioning/schema-migrations.js'
import type { Definitions } from './definitions.js'

/*
 * History in the current schema: every version keeps the type revision it was recorded
 * under, and reads map its fields through the migrations made since (computed once per
 * revision and kept with the loaded definitions: see SchemaMappings).
 */

const mappings = new WeakMap<TypeSchema, SchemaMappings>()

/** The mappings of a type's schema as loaded (undefined: a type without a loaded schema). */
export function schemaMappings (definitions: Definitions, type: string): SchemaMappings | undefined {
  const schema = definitions.get(type)?.schema
  if (schema === undefined || schema.migrations.length === 0) return undefined
  let found = mappings.get(schema)
  if (found === undefined) {
    found = new SchemaMappings(schema)
    mappings.set(schema, found)
  }
  return found
}

/** How a version of `type` recorded under `revision` reads now. */
export function mappingFor (definitions: Definitions, type: string, revision: number | undefined): FieldMapping {
  return revision === undefined ? IDENTITY : schemaMappings(definitions, type)?.of(revision) ?? IDENTITY
}

/** The type's current revision (what new versions are recorded under). */
export const currentRevision = (definitions: Definitions, type: string): number | undefined => definitions.get(type)?.schema?.revision

const copy = (value: JsonValue): JsonValue => typeof value === 'object' && value !== null ? structuredClone(value) : value

/** A stored state of `type` (recorded under `revision`) in the current schema: added fields take their defaults. */
export function stateInCurrentSchema (definitions: Definitions, type: string, revision: number | undefined, data: JsonObject): JsonObject {
  const mapping = mappingFor(definitions, type, revision)
  return mapping === IDENTITY ? data : mapFields(data, mapping, copy)
}

/**
 * A stored version in the current schema: renamed fields under their new names, dropped
 * ones gone (data and changeset), added ones with their defaults (data only: a default is
 * no change); its revision becomes the current one.
 */
export function inCurrentSchema<V extends { type: string, data: JsonObject, changeset: Record<string, unknown>, revision?: number }> (
  definitions: Definitions, version: V
): V {
  const mapping = mappingFor(definitions, version.type, version.revision)
  if (mapping === IDENTITY) return version
  return {
    ...version,
    data: mapFields(version.data, mapping, copy),
    changeset: mapFields(version.changeset, mapping),
    revision: currentRevision(definitions, version.type) ?? version.revision
  }
}

/** The names fields (current names) had in a version of `type` recorded under `revision`. */
export function recordedNames (definitions: Definitions, type: string, revision: number | undefined, fields: readonly string[]): string[] {
  return storedNames(mappingFor(definitions, type, revision), fields)
}

/** The state a stored version leaves its entity in, in the current schema (null: none, or a delete). */
export function liveState (definitions: Definitions, version: Version | undefined): JsonObject | null {
  const data = liveData(version)
  return data === null ? null : stateInCurrentSchema(definitions, version!.type, version!.revision, data)
}
