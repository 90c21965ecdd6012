import { referenceFields, type EntityTypeDefinition } from '../versioning/entity-type.js'
import { idValueString, entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { planVersions, resolveChanges, type ChangeInput, type PlannedVersion } from '../versioning/unit-of-work.js'
import type { LatestVersion, Version } from '../versioning/version.js'
import type { Db } from '../store/database.js'
import { lockNames } from '../store/locks.js'
import { appendTransaction } from '../store/append.js'
import type { Reference } from '../store/references.js'
import type { Transaction } from '../store/rows.js'
import type { NewTransaction } from '../store/transactions.js'
import { latestVersions } from '../store/versions.js'

export interface TransactionInput extends NewTransaction {
  changes: ChangeInput[]
}

export interface RecordResult {
  transaction: Transaction | null
  versions: Version[]
}

/**
 * Records one transaction inside the caller's database transaction: checks the changes,
 * locks the entities (sorted), reads their latest versions, runs the unit of work and
 * appends the versions. Records nothing when no version results.
 */
export async function recordChanges (
  trx: Db, tenant: string, definitions: ReadonlyMap<string, EntityTypeDefinition>, input: TransactionInput
): Promise<RecordResult> {
  const changes = resolveChanges(definitions, input.changes)
  const entities = uniqueEntities(changes)
  await lockNames(trx, tenant, entities.map((e) => entityRef(e.type, e.key)))
  const latest = await latestVersions(trx, tenant, entities)
  const planned = planVersions(definitions, changes, latest)
  if (planned.length === 0) return { transaction: null, versions: [] }
  const transaction = await appendTransaction(trx, tenant, input, planned, referencesOf(definitions, planned, latest))
  const versions = planned.map((v): Version => ({
    type: v.type, id: v.key, transactionId: transaction.id, endTransactionId: null,
    operation: v.operation, index: v.index, data: v.data, changeset: v.changeset
  }))
  return { transaction, versions }
}

function uniqueEntities (changes: ReadonlyArray<{ type: string, key: string }>): Array<{ type: string, key: string }> {
  const seen = new Map<string, { type: string, key: string }>()
  for (const c of changes) seen.set(entityRef(c.type, c.key), { type: c.type, key: c.key })
  return [...seen.values()]
}

// The definitions map is reused while the cache holds it: derive its reference fields once.
const referenceFieldCache = new WeakMap<ReadonlyMap<string, EntityTypeDefinition>, ReturnType<typeof referenceFields>>()
function referenceFieldsOf (definitions: ReadonlyMap<string, EntityTypeDefinition>): ReturnType<typeof referenceFields> {
  let fields = referenceFieldCache.get(definitions)
  if (fields === undefined) {
    fields = referenceFields(definitions)
    referenceFieldCache.set(definitions, fields)
  }
  return fields
}

/** Foreign-key values that the new versions set to something new (the reference index). */
function referencesOf (
  definitions: ReadonlyMap<string, EntityTypeDefinition>, planned: readonly PlannedVersion[], latest: ReadonlyMap<string, LatestVersion>
): Reference[] {
  const fields = referenceFieldsOf(definitions)
  const refs: Reference[] = []
  for (const v of planned) {
    if (v.operation === 'delete') continue
    const before: JsonObject | undefined = latest.get(entityRef(v.type, v.key))?.data
    for (const { field, targetType } of fields.get(v.type) ?? []) {
      const value = idValueString(v.data[field])
      if (value === undefined || (before !== undefined && idValueString(before[field]) === value)) continue
      refs.push({ targetType, targetKey: value, sourceType: v.type, sourceField: field, sourceKey: v.key })
    }
  }
  return refs
}
