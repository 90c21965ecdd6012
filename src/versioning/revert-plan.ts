import { diffStates } from './changeset.js'
import { setField, type JsonObject } from './json.js'
import type { Operation } from './version.js'

/** A change the backend applies to its own store, in the form POST /transactions takes. */
export interface Change {
  type: string
  op: Operation
  id: string
  data: JsonObject | null
}

/**
 * What brings one entity from its state now back to its state then
 * (`null`: not live). Returns undefined when nothing changes.
 */
export function planEntityRevert (type: string, id: string, then: JsonObject | null, now: JsonObject | null): Change | undefined {
  if (then === null) return now === null ? undefined : { type, id, op: 'delete', data: null }
  if (now === null) return { type, id, op: 'insert', data: then }
  const changeset = diffStates(now, then)
  const fields = Object.keys(changeset)
  if (fields.length === 0) return undefined
  const data: JsonObject = {}
  for (const field of fields) setField(data, field, changeset[field]![1])
  return { type, id, op: 'update', data }
}

/**
 * Orders the changes of a revert so that applying them in order keeps foreign keys
 * valid: deletes first, children before parents; then inserts and updates, parents
 * before children. `ranks` comes from dependencyRanks (parents rank lower).
 */
export function orderChanges (changes: readonly Change[], ranks: ReadonlyMap<string, number>): Change[] {
  const rank = (c: Change): number => ranks.get(c.type) ?? 0
  const indexed = changes.map((change, i) => ({ change, i }))
  const deletes = indexed.filter((x) => x.change.op === 'delete').sort((a, b) => rank(b.change) - rank(a.change) || a.i - b.i)
  const others = indexed.filter((x) => x.change.op !== 'delete').sort((a, b) => rank(a.change) - rank(b.change) || a.i - b.i)
  return [...deletes, ...others].map((x) => x.change)
}
