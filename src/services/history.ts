import { diffStates, type Changeset } from '../versioning/changeset.js'
import { notFound } from '../versioning/errors.js'
import { entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { isLive, liveData, type Version } from '../versioning/version.js'
import type { Transaction } from '../store/rows.js'
import { firstMissingTransaction, getTransaction, listTransactions, type TransactionFilter } from '../store/transactions.js'
import { entityHasVersions, getVersion, listVersions, versionsAt, versionsOfTransaction, type VersionPage } from '../store/versions.js'
import type { ServiceContext } from './context.js'
import type { Definitions } from './definitions.js'
import { readPage, type Page } from './page.js'
import { parseRelationNames, relationsView, type RelationsView } from './relations.js'

/** The tenant's definitions, which hold `type` (404 otherwise). */
export async function definitionsWith ({ db, definitions: cache }: ServiceContext, type: string): Promise<Definitions> {
  const definitions = await cache.get(db, [type])
  if (!definitions.has(type)) throw notFound(`unknown entity type "${type}"`)
  return definitions
}

/** 404 unless every one of the transaction ids exists (for the caller's tenant). */
export async function requireTransactions ({ db, tenant }: ServiceContext, ids: ReadonlyArray<number | undefined>): Promise<void> {
  const missing = await firstMissingTransaction(db, tenant, ids.filter((id): id is number => id !== undefined))
  if (missing !== undefined) throw notFound(`transaction ${missing} does not exist`)
}

const neverExisted = (type: string, key: string): Error => notFound(`${type} "${key}" has no versions`)

export async function entityVersions (ctx: ServiceContext, type: string, key: string, page: VersionPage): Promise<Page<Version>> {
  const { db, tenant } = ctx
  await definitionsWith(ctx, type)
  const found = await readPage(page.limit, async (limit) => await listVersions(db, tenant, { type, key }, { ...page, limit }))
  if (found.items.length === 0 && (page.after === undefined || !await entityHasVersions(db, tenant, { type, key }))) throw neverExisted(type, key)
  return found
}

export interface VersionDetail extends Version {
  previous: number | null
  next: number | null
  transaction: Transaction
  relations?: RelationsView
}

export async function entityVersion (
  ctx: ServiceContext, type: string, key: string, transactionId: number, relations: string | undefined
): Promise<VersionDetail> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
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
  relations?: RelationsView
}

export async function entityState (
  ctx: ServiceContext, type: string, key: string, at: number | undefined, relations: string | undefined
): Promise<EntityState> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
  const names = parseRelationNames(definitions, type, relations)
  const [version] = await Promise.all([
    versionsAt(db, tenant, [{ type, key }], at).then((found) => found.get(entityRef(type, key))),
    requireTransactions(ctx, [at])
  ])
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
export async function changesetBetween (ctx: ServiceContext, type: string, key: string, from: number, to: number): Promise<Changeset> {
  const { db, tenant } = ctx
  await definitionsWith(ctx, type)
  const stateAt = async (t: number): Promise<Version | undefined> => (await versionsAt(db, tenant, [{ type, key }], t)).get(entityRef(type, key))
  const [before, after] = await Promise.all([stateAt(from), stateAt(to), requireTransactions(ctx, [from, to])])
  if (before === undefined && after === undefined && !await entityHasVersions(db, tenant, { type, key })) throw neverExisted(type, key)
  return diffStates(liveData(before), liveData(after))
}

export async function transactions ({ db, tenant }: ServiceContext, filter: TransactionFilter): Promise<Page<Transaction>> {
  return await readPage(filter.limit, async (limit) => await listTransactions(db, tenant, { ...filter, limit }))
}

/** GET /transactions/{id} lists at most this many versions inline (the rest: transactionVersions). */
export const INLINE_VERSIONS = 1000

export async function transactionDetail (
  { db, tenant }: ServiceContext, id: number
): Promise<Transaction & { versions: Version[], versionsTruncated?: true }> {
  const [transaction, versions] = await Promise.all([getTransaction(db, tenant, id), versionsOfTransaction(db, tenant, id, { limit: INLINE_VERSIONS + 1 })])
  if (transaction === undefined) throw notFound(`transaction ${id} does not exist`)
  if (versions.length <= INLINE_VERSIONS) return { ...transaction, versions }
  return { ...transaction, versions: versions.slice(0, INLINE_VERSIONS), versionsTruncated: true }
}

/** The versions a transaction created, a page at a time (after a position). */
export async function transactionVersions (
  ctx: ServiceContext, id: number, after: number | undefined, limit: number
): Promise<Page<Version & { position: number }>> {
  const [transaction, found] = await Promise.all([
    getTransaction(ctx.db, ctx.tenant, id),
    readPage(limit, async (count) => await versionsOfTransaction(ctx.db, ctx.tenant, id, { after, limit: count }))
  ])
  if (transaction === undefined) throw notFound(`transaction ${id} does not exist`)
  return found
}
