import { diffStates, type Changeset } from '../versioning/changeset.js'
import { DomainError, gone, notFound } from '../versioning/errors.js'
import { archivedGone } from './archive-horizon.js'
import { anchorOf } from '../store/anchors.js'
import { entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { isLive, liveData, type Version } from '../versioning/version.js'
import type { Transaction } from '../store/rows.js'
import { firstMissingTransaction, getTransaction, listTransactions, type TransactionFilter } from '../store/transactions.js'
import { entityHasVersions, getVersion, listVersions, versionsAt, versionsOfTransaction, type VersionPage } from '../store/versions.js'
import { definitionsOf, type ServiceContext } from './context.js'
import type { Definitions } from './definitions.js'
import { readPage, type Page } from './page.js'
import { presented, presentedState } from './present.js'
import { stateInCurrentSchema } from './schema.js'
import { parseRelationNames, relatedPage, relationOf, relationsView, type RelationsView, type Visible } from './relations.js'
import { inView } from '../access/index.js'

/** The tenant's definitions, which hold `type` (404 otherwise). */
export async function definitionsWith (ctx: ServiceContext, type: string): Promise<Definitions> {
  const definitions = await definitionsOf(ctx, [type])
  if (!definitions.has(type)) throw notFound(`unknown entity type "${type}"`)
  return definitions
}

/** 404 unless every one of the transaction ids exists (for the caller's tenant). */
export async function requireTransactions ({ db, tenant }: ServiceContext, ids: ReadonlyArray<number | undefined>): Promise<void> {
  const missing = await firstMissingTransaction(db, tenant, ids.filter((id): id is number => id !== undefined))
  if (missing !== undefined) throw notFound(`transaction ${missing} does not exist`)
}

/** Related entities outside a viewer token's limit are left out, as if they were not related. */
const visibleTo = ({ view }: ServiceContext): Visible => (v) => inView(view, v.type, v.id)

const neverExisted = (type: string, key: string): Error => notFound(`${type} "${key}" has no versions`)

/**
 * What a lookup at transaction `t` that found nothing means: 410 when the entity's history
 * before its oldest kept version was pruned and `t` falls there, or when it may be in an
 * archived partition (see archive-horizon.ts), else `otherwise`. A
 * version read asks about the versions pruned (up to the last pruned one's transaction); a
 * state lookup (`state`) that found no version at or before `t` is before the oldest kept one.
 */
export async function missingOrPruned (ctx: ServiceContext, type: string, key: string, t: number, otherwise: Error, state = false): Promise<Error> {
  const anchor = await anchorOf(ctx.db, ctx.tenant, { type, key })
  if (anchor !== undefined && (state || t <= anchor.transactionId)) {
    return gone(`${type} "${key}": its history before index ${anchor.index} (up to transaction ${anchor.transactionId}) was pruned (retention)`)
  }
  return await archivedGone(ctx.db, `${type} "${key}"`, t, state) ?? otherwise
}

export async function entityVersions (ctx: ServiceContext, type: string, key: string, page: VersionPage, asRecorded = false): Promise<Page<Version>> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
  const found = await readPage(page.limit, async (limit) => await listVersions(db, tenant, { type, key }, { ...page, limit }))
  if (found.items.length === 0 && (page.after === undefined || !await entityHasVersions(db, tenant, { type, key }))) {
    throw await archivedGone(db, `${type} "${key}"`, undefined, true) ?? neverExisted(type, key)
  }
  return presentedPage(definitions, found, asRecorded)
}

export interface VersionDetail extends Version {
  previous: number | null
  next: number | null
  transaction: Transaction
  /** Set on the oldest kept version of a pruned entity (its `previous` is null). */
  pruned?: true
  relations?: RelationsView
  truncatedRelations?: string[]
}

export async function entityVersion (
  ctx: ServiceContext, type: string, key: string, transactionId: number, relations: string | undefined, asRecorded = false
): Promise<VersionDetail> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
  const names = parseRelationNames(definitions, type, relations)
  const version = await getVersion(db, tenant, { type, key }, transactionId)
  if (version === undefined) throw await missingOrPruned(ctx, type, key, transactionId, notFound(`${type} "${key}" has no version at transaction ${transactionId}`))
  const transaction = await getTransaction(db, tenant, transactionId)
  const detail: VersionDetail = { ...presented(definitions, version, asRecorded), next: version.endTransactionId, transaction: transaction! }
  // Its previous version is not here: pruned (its anchor says where the kept history starts), or archived.
  if (version.previous === null && version.index > 0 && (await anchorOf(db, tenant, { type, key }))?.index === version.index) detail.pruned = true
  if (names.length > 0) await addRelations(ctx, definitions, detail, { type, key, version }, names, transactionId)
  return detail
}

/** GET /entities/{type}/{id}/versions/{t}/relations/{name}: the related entities as of t, a page at a time. */
export async function relatedAtVersion (
  ctx: ServiceContext, type: string, key: string, transactionId: number, name: string, after: number | undefined, limit: number
): Promise<Page<Version & { offset: number }>> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
  relationOf(definitions, type, name)
  const version = await getVersion(db, tenant, { type, key }, transactionId)
  if (version === undefined) throw await missingOrPruned(ctx, type, key, transactionId, notFound(`${type} "${key}" has no version at transaction ${transactionId}`))
  return await readPage(limit, async (count) =>
    await relatedPage(db, tenant, definitions, type, { key, data: stateInCurrentSchema(definitions, type, version.revision, version.data) }, name, transactionId, after, count, visibleTo(ctx)))
}

/** Sets `relations` (and `truncatedRelations`) of an answer: the named relations of the entity at a version, as of `at`. */
async function addRelations (
  ctx: ServiceContext, definitions: Definitions, answer: { relations?: RelationsView, truncatedRelations?: string[] },
  entity: { type: string, key: string, version: Version }, names: readonly string[], at: number | undefined
): Promise<void> {
  const { type, key, version } = entity
  const anchor = { key, data: stateInCurrentSchema(definitions, type, version.revision, version.data) }
  const { relations, truncated } = await relationsView(ctx.db, ctx.tenant, definitions, type, anchor, names, at, ctx.limits.maxInlineRelated, visibleTo(ctx))
  answer.relations = relations
  if (truncated.length > 0) answer.truncatedRelations = truncated
}

export interface EntityState {
  type: string
  id: string
  data: JsonObject
  transactionId: number
  relations?: RelationsView
  truncatedRelations?: string[]
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
    const missing = notFound(at === undefined ? `${type} "${key}" does not exist` : `${type} "${key}" did not exist at transaction ${at}`)
    if (version === undefined && at !== undefined) throw await missingOrPruned(ctx, type, key, at, missing, true)
    throw version === undefined ? await archivedGone(db, `${type} "${key}"`, undefined, true) ?? missing : missing
  }
  const state: EntityState = { type, id: key, data: presentedState(definitions, type, version.data, version.revision)!, transactionId: version.transactionId }
  if (names.length > 0) await addRelations(ctx, definitions, state, { type, key, version }, names, at)
  return state
}

/** The changeset between an entity's states at two transactions ([old, new] per field). */
export async function changesetBetween (ctx: ServiceContext, type: string, key: string, from: number, to: number): Promise<Changeset> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
  const stateAt = async (t: number): Promise<Version | undefined> => (await versionsAt(db, tenant, [{ type, key }], t)).get(entityRef(type, key))
  const [before, after] = await Promise.all([stateAt(from), stateAt(to), requireTransactions(ctx, [from, to])])
  if (before === undefined && after === undefined && !await entityHasVersions(db, tenant, { type, key })) throw neverExisted(type, key)
  if (before === undefined || after === undefined) {
    const pruned = await missingOrPruned(ctx, type, key, before === undefined ? from : to, neverExisted(type, key), true)
    if (pruned instanceof DomainError && pruned.kind === 'gone') throw pruned
  }
  return diffStates(presentedState(definitions, type, liveData(before), before?.revision), presentedState(definitions, type, liveData(after), after?.revision))
}

export async function transactions ({ db, tenant, view }: ServiceContext, filter: TransactionFilter): Promise<Page<Transaction>> {
  // A limited viewer token sees the transactions that changed what it may see, and no other.
  if (view !== undefined && filter.type !== undefined && filter.type !== view.type) return { items: [], next: undefined }
  const limited = view === undefined ? filter : { ...filter, type: view.type, entityKey: view.id }
  return await readPage(filter.limit, async (limit) => await listTransactions(db, tenant, { ...limited, limit }))
}

export async function transactionDetail (
  ctx: ServiceContext, id: number
): Promise<Transaction & { versions: Version[], versionsTruncated?: true }> {
  const { db, tenant } = ctx
  const [transaction, stored, definitions] = await Promise.all([
    getTransaction(db, tenant, id), versionsOfTransaction(db, tenant, id, { limit: ctx.limits.maxInlineVersions + 1, only: ctx.view }), definitionsOf(ctx)
  ])
  // Outside a viewer token's limit, a transaction is as missing as one that does not exist.
  if (transaction === undefined || (ctx.view !== undefined && stored.length === 0)) throw notFound(`transaction ${id} does not exist`)
  const versions = stored.map((v) => presented(definitions, v))
  // At most maxInlineVersions inline; the rest page through transactionVersions.
  if (versions.length <= ctx.limits.maxInlineVersions) return { ...transaction, versions }
  return { ...transaction, versions: versions.slice(0, ctx.limits.maxInlineVersions), versionsTruncated: true }
}

/** The versions a transaction created, a page at a time (after a position). */
export async function transactionVersions (
  ctx: ServiceContext, id: number, after: number | undefined, limit: number
): Promise<Page<Version & { position: number }>> {
  const [transaction, found, definitions] = await Promise.all([
    getTransaction(ctx.db, ctx.tenant, id),
    readPage(limit, async (count) => await versionsOfTransaction(ctx.db, ctx.tenant, id, { after, limit: count, only: ctx.view })),
    definitionsOf(ctx)
  ])
  const outsideView = async (): Promise<boolean> => ctx.view !== undefined && found.items.length === 0 &&
    (after === undefined || (await versionsOfTransaction(ctx.db, ctx.tenant, id, { limit: 1, only: ctx.view })).length === 0)
  if (transaction === undefined || await outsideView()) throw notFound(`transaction ${id} does not exist`)
  return presentedPage(definitions, found)
}

function presentedPage<V extends Version> (definitions: Definitions, found: Page<V>, asRecorded = false): Page<V> {
  return { items: found.items.map((v) => presented(definitions, v, asRecorded)), next: found.next }
}
