import { diffStates } from './changeset.js'
import { dependencyRanks, foreignKeys, type EntityTypeDefinition } from './entity-type.js'
import { fieldValue, setField, type JsonObject } from './json.js'
import { entityRef, idValueString } from './keys.js'
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

/** A change of a revert with the state its entity is in before it is applied (null: not live). */
export interface PlannedChange { change: Change, before: JsonObject | null }

/**
 * Orders the changes of a revert so that every intermediate state keeps the declared
 * foreign keys valid. Starts from orderChanges (deletes children first, then inserts and
 * updates parents first) and moves a change after the ones it depends on: an insert or
 * update that points at an entity inserted by the revert comes after that insert; a
 * delete comes after every change that stops pointing at the deleted entity (an update
 * that drops the reference, or the delete of a child). Entities of one type that point at
 * each other (trees) are ordered the same way.
 */
export function orderForForeignKeys (planned: readonly PlannedChange[], types: ReadonlyMap<string, EntityTypeDefinition>): Change[] {
  const base = orderChanges(planned.map((p) => p.change), dependencyRanks(types))
  const stepOf = new Map(planned.map((p) => [p.change, p]))
  const steps = base.map((change) => stepOf.get(change)!)
  const fks = foreignKeys(types)
  const indexOf = (op: 'insert' | 'delete'): Map<string, number> =>
    new Map(steps.flatMap((s, i) => s.change.op === op ? [[entityRef(s.change.type, s.change.id), i] as const] : []))
  const inserts = indexOf('insert')
  const deletes = indexOf('delete')
  const after: number[][] = steps.map(() => []) // after[i]: the steps that must wait for step i
  const waits = steps.map(() => 0)
  const link = (first: number | undefined, then: number | undefined): void => {
    if (first === undefined || then === undefined || first === then) return
    after[first]!.push(then)
    waits[then]!++
  }
  steps.forEach(({ change, before }, i) => {
    for (const { field, targetType } of fks.get(change.type) ?? []) {
      if (change.op !== 'delete') {
        const next = change.data !== null && Object.hasOwn(change.data, field) ? change.data[field] : (before === null ? null : fieldValue(before, field))
        const target = idValueString(next ?? undefined)
        if (target !== undefined) link(inserts.get(entityRef(targetType, target)), i)
      }
      const previous = before === null ? undefined : idValueString(fieldValue(before, field) ?? undefined)
      if (previous !== undefined && change.op !== 'insert') link(i, deletes.get(entityRef(targetType, previous)))
    }
  })
  // Kahn's algorithm, always taking the ready step that comes first in the base order.
  const out: Change[] = []
  const done = steps.map(() => false)
  while (out.length < steps.length) {
    let next = waits.findIndex((w, i) => w === 0 && !done[i])
    if (next === -1) next = done.findIndex((d) => !d) // a cycle: no order can satisfy it, keep the base order
    done[next] = true
    out.push(steps[next]!.change)
    for (const j of after[next]!) waits[j]!--
  }
  return out
}
