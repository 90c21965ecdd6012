import { omitFields, type JsonObject } from '../versioning/json.js'
import type { Version } from '../versioning/version.js'
import type { Definitions } from './definitions.js'

/**
 * A stored version as answers show it: without the fields its type excludes now, even
 * values stored before the field was excluded (in data and changeset alike).
 */
export function presented<V extends Version> (definitions: Definitions, version: V): V {
  const exclude = definitions.get(version.type)?.exclude ?? []
  if (exclude.length === 0) return version
  return { ...version, data: omitFields(version.data, exclude), changeset: omitFields(version.changeset, exclude) }
}

/** A stored state (or none) of an entity of `type`, without the fields the type excludes now. */
export function presentedState (definitions: Definitions, type: string, data: JsonObject | null): JsonObject | null {
  return data === null ? null : omitFields(data, definitions.get(type)?.exclude ?? [])
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
    ...(Array.isArray(answer.versions) ? { versions: answer.versions.map((v) => presented(definitions, v)) } : {}),
    ...(Array.isArray(answer.changes) ? { changes: answer.changes.map((c) => ({ ...c, data: presentedState(definitions, c.type, c.data) })) } : {})
  }
}
