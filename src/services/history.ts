import { diffStates, type Changeset } from '../versioning/changeset.js'
import { notFound } from '../versioning/errors.js'
import { entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { isLive, type Version } from '../versioning/version.js'
import type { Transaction } from '../store/rows.js'
import { getTransaction, listTransactions, type TransactionFilter } from '../store/transactions.js'
import { entityHasVersions, getVersion, listVersions, versionsAt, versionsOfTransaction, type VersionPage } from '../store/versions.js'
import type { Definitions, Scope } from './definitions.js'
import { parseRelationNames, relationsView } from './relations.js'

export interface Page<T> { items: T[], next: T | undefined }

/** Splits a `limit + 1` result into the page and the item the next page starts after. */
function toPage<T> (rows: T[], limit: number): Page<T> {
  return rows.length > limit ? { items: rows.slice(0, limit), next: rows[limit - 1] } : { items: rows, next: undefined }
}

async function definitionsWith ({ db, definitions: cache }: Scope, type: string): Promise<Definitions> {
  const definitions = await cache.get(db, [type])
  if (!definitions.has(type)) throw notFound(`unknown entity type "${type}"`)
  return definitions
}

const neverExisted = (type: string, key: string): Error => notFound(`${type} "${key}" has no versions`)

export async function entityVersions (scope: Scope, type: string, key: string, page: VersionPage): Promise<Page<Version>> {
  const { db, tenant } = scope
  await definitionsWith(scope, type)
  const rows = await listVersions(db, tenant, { type, key }, page)
  if (rows.length === 0 && (page.after === undefined || !await entityHasVersions(db, tenant, { type, key }))) throw neverExisted(type, key)
  return toPage(rows, page.limit)
}

export interface VersionDetail extends Version {
  previous: number | null
  next: number | null
  transaction: Transaction
  relations?: Record<string, Version | Version[] | null>
}

export async function entityVersion (
  scope: Scope, type: string, key: string, transactionId: number, relations: string | undefined
): Promise<VersionDetail> {
  const { db, tenant } = scope
  const definitions = await definitionsWith(scope, type)
  const names = parseRelationNames(definitions, type, relations)
  const version = await getVersion(db, tenant, { type, key }, transactionId)
  if (version === undefined) throw notFound(`${type} "${key}" has no version at transaction ${transactionId}`)
  const transaction = await getTransaction(db, tenant, transactionId)
  const detail: VersionDetail = { ...version, next: version.endTransactionId, transaction: transaction! }
  if (names.length > 0) {
    detail.relations = await relationsView(db, tenant, definitions, type, { key, data: version.data }, names, transactionId)
  }
  return detail
}

export interface EntityState {
  type: string
  id: string
  data: JsonObject
  transactionId: number
  relations?: Record<string, Version | Version[] | null>
}

export async function entityState (
  scope: Scope, type: string, key: string, at: number | undefined, relations: string | undefined
): Promise<EntityState> {
  const { db, tenant } = scope
  const definitions = await definitionsWith(scope, type)
  const names = parseRelationNames(definitions, type, relations)
  const version = (await versionsAt(db, tenant, [{ type, key }], at)).get(entityRef(type, key))
  if (version === undefined || !isLive(version)) {
    throw notFound(at === undefined ? `${type} "${key}" does not exist` : `${type} "${key}" did not exist at transaction ${at}`)
  }
  const state: EntityState = { type, id: key, data: version.data, transactionId: version.transactionId }
  if (names.length > 0) {
    state.relations = await relationsView(db, tenant, definitions, type, { key, data: version.data }, names, at)
  }
  return state
}

/** The changeset between an entity's states at two transactions ([old, new] per field). */
export async function changesetBetween (scope: Scope, type: string, key: string, from: number, to: number): Promise<Changeset> {
  const { db, tenant } = scope
  await definitionsWith(scope, type)
  const [before, after] = await Promise.all([from, to].map(async (t) => (await versionsAt(db, tenant, [{ type, key }], t)).get(entityRef(type, key))))
  if (before === undefined && after === undefined && !await entityHasVersions(db, tenant, { type, key })) throw neverExisted(type, key)
  const state = (v: Version | undefined): JsonObject | null => (v !== undefined && isLive(v) ? v.data : null)
  return diffStates(state(before), state(after))
}

export async function transactions ({ db, tenant }: Scope, filter: TransactionFilter): Promise<Page<Transaction>> {
  return toPage(await listTransactions(db, tenant, filter), filter.limit)
}

export async function transactionDetail ({ db, tenant }: Scope, id: number): Promise<Transaction & { versions: Version[] }> {
  const transaction = await getTransaction(db, tenant, id)
  if (transaction === undefined) throw notFound(`transaction ${id} does not exist`)
  return { ...transaction, versions: await versionsOfTransaction(db, tenant, id) }
}
