import { GENESIS_HASH } from '../integrity/canonical.js'
import { sealVersion } from '../integrity/seal.js'
import { hashedTransaction } from '../integrity/version-hash.js'
import { referenceFields } from '../versioning/entity-type.js'
import { invalid } from '../versioning/errors.js'
import { idValueString, entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { DomainError } from '../versioning/errors.js'
import { planVersions, resolveChanges, type ChangeInput, type PlannedVersion, type ResolvedChange } from '../versioning/unit-of-work.js'
import type { LatestVersion, Version } from '../versioning/version.js'
import { inTransaction, withRetries, type Db, type Trx } from '../store/database.js'
import { lockEntities } from '../store/locks.js'
import { appendTransactions, type Append, type Appended, type PlannedHead } from '../store/append.js'
import { ConcurrentAppend } from '../store/driver-errors.js'
import type { Reference } from '../store/references.js'
import type { Transaction } from '../store/rows.js'
import type { NewTransaction } from '../store/transactions.js'
import { latestVersions, type EntityName } from '../store/versions.js'
import type { Definitions } from './definitions.js'
import type { LatestVersionCache } from './latest-cache.js'
import type { WriteOrder } from './write-order.js'
import type { GroupCommit } from './group-commit.js'
import { currentRevision, stateInCurrentSchema } from './schema.js'
import { latestHints, transactionsRecorded, versionsRecorded } from '../metrics/index.js'

export interface TransactionInput extends NewTransaction {
  changes: ChangeInput[]
}

/** What this process shares between its writes (src/services/tenants.ts); each part optional. */
export interface Writers {
  /** The latest versions this process wrote, planned on instead of read. */
  hints?: LatestVersionCache
  /** With `hints`: orders this process's writes per entity. */
  order?: WriteOrder
  /** Appends that wait are written together. */
  commits?: GroupCommit
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
export async function recordChanges (trx: Trx, tenant: string, definitions: Definitions, input: TransactionInput): Promise<RecordResult> {
  const changes = resolveChanges(definitions, input.changes)
  return await recordLocked(trx, tenant, definitions, input, changes, firstChanges(changes))
}

/**
 * Records one transaction without a database transaction of its own: reads the latest
 * versions of the entities `hints` does not know (and that are not inserted first:
 * those are taken to be new), runs the unit of work, then appends in one statement that
 * takes the entity locks itself. At most two statements, one when every entity is known
 * or new. An entity's version numbers are unique, so an append planned on anything but
 * an entity's latest version writes nothing (ConcurrentAppend); the transaction is then
 * recorded again from a fresh read, and, should that also meet another writer, the
 * locking way. An error or an entity left without a version that rests on a hint is
 * checked against a fresh read too. An append that PostgreSQL aborts for a deadlock (the
 * locks of a revert are taken in stages) is run again, as a transaction would be. Either
 * way the result is what one writer at a time would have recorded. With `commits`, the append
 * may share its statement and commit with other writes of this process (group commit). While
 * most of this process's hinted appends are refused (other instances write the same entities:
 * `hints.trust`), the write reads first instead, in this process's order per entity.
 */
export async function recordChangesOptimistically (
  db: Db, tenant: string, definitions: Definitions, input: TransactionInput, writers: Writers = {}
): Promise<RecordResult> {
  const { hints, order, commits } = writers
  const changes = resolveChanges(definitions, input.changes)
  const entities = firstChanges(changes)
  const refs = entities.map((e) => entityRef(e.type, e.key))
  const remember = (result: RecordResult): RecordResult => {
    hints?.rememberVersions(tenant, result.versions)
    return result
  }
  const skipped = hints !== undefined && !hints.trust.useHints(tenant)
  if (hints !== undefined && !skipped) {
    const hinted = async (): Promise<RecordResult> =>
      remember(await withRetries(async () => await readPlanAndAppend(db, tenant, definitions, input, changes, entities, refs, hints, commits)))
    try {
      const result = order === undefined ? await hinted() : await order.run(tenant, refs, hinted)
      hints.trust.record(tenant, false)
      latestHints.inc({ outcome: 'appended' })
      return result
    } catch (error) {
      if (!(error instanceof ConcurrentAppend || error instanceof UnconfirmedHint)) throw error
      // Refused: another writer had appended. A hinted state that led to an error or to no version
      // says nothing of other writers (the change may simply be wrong): checked, not counted.
      const refused = error instanceof ConcurrentAppend
      if (refused) hints.trust.record(tenant, true)
      latestHints.inc({ outcome: refused ? 'refused' : 'unconfirmed' })
      hints.forget(tenant, refs)
    }
  }
  const fresh = async (): Promise<RecordResult> =>
    remember(await withRetries(async () => await readPlanAndAppend(db, tenant, definitions, input, changes, entities, refs, undefined, commits)))
  try {
    if (!skipped) return await fresh()
    latestHints.inc({ outcome: 'skipped' })
    // In this process's order per entity, so that its own writes do not refuse each other's.
    return order === undefined ? await fresh() : await order.run(tenant, refs, fresh)
  } catch (error) {
    if (!(error instanceof ConcurrentAppend)) throw error
  }
  return remember(await inTransaction(db, async (trx) => await recordLocked(trx, tenant, definitions, input, changes, entities)))
}

/** A hinted entity's state led to an error or to no version: to be checked on a fresh read. */
class UnconfirmedHint extends Error {}

/**
 * One optimistic attempt: reads the latest versions that `hints` does not give, plans, and
 * appends in one statement that takes the entities' locks itself (no database transaction).
 */
async function readPlanAndAppend (
  db: Db, tenant: string, definitions: Definitions, input: TransactionInput,
  changes: readonly ResolvedChange[], entities: readonly ResolvedChange[], refs: readonly string[], hints?: LatestVersionCache,
  commits?: GroupCommit
): Promise<RecordResult> {
  const latest = new Map<string, LatestVersion>()
  const hinted = new Set<string>()
  const toRead: EntityName[] = []
  for (const [i, c] of entities.entries()) {
    const ref = refs[i]!
    const known = hints?.get(tenant, ref)
    if (known !== undefined) {
      latest.set(ref, known)
      hinted.add(ref)
    } else if (hints !== undefined && c.op === 'insert') {
      hinted.add(ref) // taken to be new
    } else {
      toRead.push(c)
    }
  }
  for (const [ref, version] of await latestVersions(db, tenant, toRead)) latest.set(ref, version)
  inCurrentSchemaAll(definitions, entities, latest)
  let planned: PlannedVersion[]
  try {
    planned = planVersions(definitions, changes, latest)
  } catch (error) {
    if (hinted.size > 0 && error instanceof DomainError) throw new UnconfirmedHint()
    throw error
  }
  if (hinted.size > planned.filter((v) => hinted.has(entityRef(v.type, v.key))).length) throw new UnconfirmedHint()
  return await appendPlanned(db, tenant, definitions, input, planned, latest, refs, commits)
}

/** Locks the entities, reads their latest versions, plans and appends: inside a database transaction. */
async function recordLocked (
  trx: Trx, tenant: string, definitions: Definitions, input: TransactionInput,
  changes: readonly ResolvedChange[], entities: readonly ResolvedChange[]
): Promise<RecordResult> {
  await lockEntities(trx, tenant, entities.map((e) => entityRef(e.type, e.key)))
  const latest = inCurrentSchemaAll(definitions, entities, await latestVersions(trx, tenant, entities))
  return await appendPlanned(trx, tenant, definitions, input, planVersions(definitions, changes, latest), latest)
}

async function appendPlanned (
  db: Db, tenant: string, definitions: Definitions, input: TransactionInput,
  planned: readonly PlannedVersion[], latest: ReadonlyMap<string, LatestVersion>, lockRefs?: readonly string[], commits?: GroupCommit
): Promise<RecordResult> {
  if (planned.length === 0) return { transaction: null, versions: [] }
  // What the hashes cover of the transaction is fixed here, as it will read back (times to the millisecond).
  const recordedAt = new Date().toISOString()
  const issuedAt = input.issuedAt === undefined ? recordedAt : millisecondTime(input.issuedAt)
  const hashed = hashedTransaction({ ...input, issuedAt, recordedAt })
  const sealed = planned.map((v) => sealVersion(
    { tenant, type: v.type, id: v.key, index: v.index, operation: v.operation }, hashed, v.data, v.changeset,
    latest.get(entityRef(v.type, v.key))?.hash ?? GENESIS_HASH, definitions.get(v.type)?.redact?.fields))
  const revisions = new Map<string, number>()
  for (const v of planned) {
    const revision = currentRevision(definitions, v.type)
    if (revision !== undefined) revisions.set(v.type, revision)
  }
  const append: Append = {
    tx: { ...input, issuedAt, recordedAt }, versions: planned, sealed, refs: referencesOf(definitions, planned, latest), revisions,
    ...(lockRefs === undefined ? {} : { locking: { refs: lockRefs, heads: plannedHeads(planned, latest) } })
  }
  // Only an append that takes its own locks can share a statement (one under the caller's locks is in its transaction).
  const { transaction, hashes }: Appended = commits !== undefined && append.locking !== undefined
    ? await commits.append(tenant, append)
    : (await appendTransactions(db, tenant, [append]))[0]!
  transactionsRecorded.inc()
  versionsRecorded.inc(planned.length)
  const versions = planned.map((v, i): Version => ({
    type: v.type, id: v.key, transactionId: transaction.id, endTransactionId: null, operation: v.operation, index: v.index,
    data: sealed[i]!.data, changeset: sealed[i]!.changeset, hash: hashes[i]!, revision: revisions.get(v.type)
  }))
  return { transaction, versions }
}

/** Each planned entity once, with the transaction of the latest version the plan rests on (null: none). */
function plannedHeads (planned: readonly PlannedVersion[], latest: ReadonlyMap<string, LatestVersion>): PlannedHead[] {
  const heads = new Map<string, PlannedHead>()
  for (const v of planned) {
    const ref = entityRef(v.type, v.key)
    if (!heads.has(ref)) heads.set(ref, { type: v.type, key: v.key, after: latest.get(ref)?.transactionId ?? null })
  }
  return [...heads.values()]
}

/**
 * The entities' latest states in the current schema (each recorded under some revision of
 * its type): the unit of work plans on them with the names the changes use.
 */
function inCurrentSchemaAll (
  definitions: Definitions, entities: readonly ResolvedChange[], latest: Map<string, LatestVersion>
): Map<string, LatestVersion> {
  for (const e of entities) {
    const ref = entityRef(e.type, e.key)
    const version = latest.get(ref)
    const revision = currentRevision(definitions, e.type)
    if (version === undefined || version.revision === revision) continue
    latest.set(ref, { ...version, data: stateInCurrentSchema(definitions, e.type, version.revision ?? 0, version.data), revision })
  }
  return latest
}

/** An RFC 3339 time as the database keeps it: to the millisecond, in UTC. */
function millisecondTime (time: string): string {
  const date = new Date(time)
  if (Number.isNaN(date.getTime())) throw invalid(`issuedAt: "${time}" is not a time`)
  return date.toISOString()
}

/** The first change of each entity, in the order the entities are first touched. */
function firstChanges (changes: readonly ResolvedChange[]): ResolvedChange[] {
  const first = new Map<string, ResolvedChange>()
  for (const c of changes) {
    const ref = entityRef(c.type, c.key)
    if (!first.has(ref)) first.set(ref, c)
  }
  return [...first.values()]
}

// The definitions map is reused while the cache holds it: derive its reference fields once.
const referenceFieldCache = new WeakMap<Definitions, ReturnType<typeof referenceFields>>()
function referenceFieldsOf (definitions: Definitions): ReturnType<typeof referenceFields> {
  let fields = referenceFieldCache.get(definitions)
  if (fields === undefined) {
    fields = referenceFields(definitions)
    referenceFieldCache.set(definitions, fields)
  }
  return fields
}

/** Foreign-key values that the new versions set to something new (the reference index). */
function referencesOf (
  definitions: Definitions, planned: readonly PlannedVersion[], latest: ReadonlyMap<string, LatestVersion>
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
