import { omitFields, type JsonObject } from '../versioning/json.js'
import type { Version } from '../versioning/version.js'
import type { Definitions } from './definitions.js'
import { inCurrentSchema, recordedNames, stateInCurrentSchema } from './schema.js'

/**
 * A stored version as answers show it: in the current schema (or, `asRecorded`, under the
 * names it was stored with), without the fields its type excludes now, even values stored
 * before the field was excluded (in data and changeset alike), and without its revision.
 */
export function presented<V extends Version> (definitions: Definitions, version: V, asRecorded = false): V {
  const shown = asRecorded ? version : inCurrentSchema(definitions, version)
  const { revision, ...rest } = shown
  const exclude = definitions.get(version.type)?.exclude ?? []
  if (exclude.length === 0) return rest as V
  const hidden = asRecorded ? recordedNames(definitions, version.type, revision, exclude) : exclude
  return { ...rest, data: omitFields(rest.data, hidden), changeset: omitFields(rest.changeset, hidden) } as V
}

/**
 * A stored state (or none) of an entity of `type`, recorded under `revision`, in the
 * current schema and without the fields the type excludes now.
 */
export function presentedState (definitions: Definitions, type: string, data: JsonObject | null, revision?: number): JsonObject | null {
  return data === null ? null : omitFields(stateInCurrentSchema(definitions, type, revision, data), definitions.get(type)?.exclude ?? [])
}

/**
 * A stored answer of a write (replayed for its Idempotency-Key) as answers show it now:
 * its versions and revert changes without the fields their types exclude now.
 */
export function presentedAnswer (definitions: Definitions, body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return body
  const answer = body as { versions?: Version[], changes?: Array<{ type: string, data: JsonObject | null }> }
  return {
    ...answer,
    ...(Array.isArray(answer.versions) ? { versions: answer.versions.map((v) => presented(definitions, v, true)) } : {}),
    ...(Array.isArray(answer.changes) ? { changes: answer.changes.map((c) => ({ ...c, data: c.data === null ? null : omitFields(c.data, definitions.get(c.type)?.exclude ?? []) })) } : {})
  }
}
