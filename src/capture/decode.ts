import type { Pgoutput } from 'pg-logical-replication'
import type { JsonObject } from '../versioning/json.js'
import { entityKey } from '../versioning/keys.js'
import type { CapturedChange } from '../services/captured.js'
import type { TableMapping } from '../services/capture-sources.js'

/** One row event of a source transaction, on a mapped table, as an entity change. */
export type RowChange = CapturedChange

/** A source transaction as it arrived: its id, context message and row changes. */
export interface SourceTransaction {
  xid: number
  commitTime: string
  /** The end of its commit record: the source position once it is recorded. */
  endLsn: string
  actor?: string
  meta?: JsonObject
  changes: RowChange[]
}

/** A commit time as pgoutput's client gives it (microseconds since 1970) as an RFC 3339 time. */
export const postgresTime = (micros: bigint): string => new Date(Number(micros / 1000n)).toISOString()

const tableName = (relation: Pgoutput.MessageRelation): string => `${relation.schema}.${relation.name}`

/** The mapping of a relation's table, if it is captured. */
export function mappingOf (tables: Readonly<Record<string, TableMapping>>, relation: Pgoutput.MessageRelation): TableMapping | undefined {
  const name = tableName(relation)
  return Object.hasOwn(tables, name) ? tables[name] : undefined
}

/** The entity key of a row (by the mapping's idFields, set from the primary key when the source was configured). */
function keyOf (mapping: TableMapping, relation: Pgoutput.MessageRelation, row: Record<string, unknown>): string {
  const idFields = mapping.idFields ?? relation.keyColumns
  return entityKey(idFields, row as JsonObject, `${tableName(relation)} row`)
}

/** A row without the values the source did not send (unchanged TOASTed values: taken from the last version). */
function sentValues (row: Record<string, unknown>): JsonObject {
  const out: JsonObject = {}
  for (const [column, value] of Object.entries(row)) if (value !== undefined) Object.defineProperty(out, column, { value, enumerable: true, writable: true, configurable: true })
  return out
}

/** The entity changes of one row message (none for an unmapped table). */
export function rowChanges (tables: Readonly<Record<string, TableMapping>>, message: Pgoutput.Message): RowChange[] {
  if (message.tag === 'truncate') {
    return message.relations.flatMap((r) => { const m = mappingOf(tables, r); return m === undefined ? [] : [{ op: 'truncate' as const, type: m.type }] })
  }
  if (message.tag !== 'insert' && message.tag !== 'update' && message.tag !== 'delete') return []
  const mapping = mappingOf(tables, message.relation)
  if (mapping === undefined) return []
  const relation = message.relation
  if (message.tag === 'delete') return [{ op: 'delete', type: mapping.type, key: keyOf(mapping, relation, (message.old ?? message.key)!) }]
  const row = sentValues(message.new)
  const key = keyOf(mapping, relation, message.new)
  const unchanged = Object.keys(message.new).filter((column) => message.new[column] === undefined)
  const upsert: RowChange = { op: 'upsert', type: mapping.type, key, row, unchanged }
  if (message.tag === 'update') {
    const before = message.old ?? message.key
    const oldKey = before === null ? key : keyOf(mapping, relation, { ...message.new, ...sentValues(before) })
    if (oldKey !== key) return [{ op: 'delete', type: mapping.type, key: oldKey }, upsert]
  }
  return [upsert]
}
