import { fieldValue, jsonEqual, setField, type JsonObject, type JsonValue } from './json.js'

/** Field name → [old, new]. */
export type Changeset = Record<string, [JsonValue, JsonValue]>

/**
 * The changeset between two states of an entity; `null` stands for "did not exist".
 * From nothing: every non-null field as [null, value]. To nothing: every non-null
 * field as [value, null]. Otherwise: the fields whose value differs (a missing field
 * counts as null).
 */
export function diffStates (before: JsonObject | null, after: JsonObject | null): Changeset {
  const out: Changeset = {}
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])
  for (const key of keys) {
    const old = before === null ? null : fieldValue(before, key)
    const next = after === null ? null : fieldValue(after, key)
    if (!jsonEqual(old, next)) setField(out as JsonObject, key, [old, next])
  }
  return out
}
