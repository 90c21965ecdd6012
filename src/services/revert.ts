import { conflict, gone, invalid, limitExceeded, notFound } from '../versioning/errors.js'
import { anchorOf } from '../store/anchors.js'
import { entityRef } from '../versioning/keys.js'
import type { JsonObject } from '../versioning/json.js'
import { orderForForeignKeys, planEntityRevert, type Change, type PlannedChange } from '../versioning/revert-plan.js'
import { checkMeta } from '../versioning/meta.js'
import { liveData, type Version } from '../versioning/version.js'
import type { Trx } from '../store/database.js'
import { lockEntities, lockTenantWriters } from '../store/locks.js'
import { firstMissingTransaction, getTransaction } from '../store/transactions.js'
import { entitiesOfTransaction, entityHasVersions, laterChanges, versionsAt, type EntityName } from '../store/versions.js'
import { recordedBy, type ServiceContext } from './context.js'
import { withCurrentDefinitions, type Definitions } from './definitions.js'
import type { IdempotentRequest, WriteOutcome } from './idempotency.js'
import { presentedState } from './present.js'
import { recordChanges, type RecordResult } from './record.js'
import { liveState } from './schema.js'
import { relatedAt, relationOf } from './relations.js'
import { recordInTransaction } from './write.js'

export interface RevertOptions {
  dryRun?: boolean | undefined
  actor?: string | undefined
  meta?: JsonObject | undefined
}

export interface RevertResult extends RecordResult {
  changes: Change[]
}


/** A revert touches at most `limits.maxRevertEntities` entities: checked before their locks are taken. */
function checkRevertSize (ctx: ServiceContext, entities: number): void {
  if (entities > ctx.limits.maxRevertEntities) {
    throw limitExceeded(`this revert would touch more than ${ctx.limits.maxRevertEntities} entities (the limit of one revert)`)
  }
}

/** A relation path as a tree: "articles.tags" → { articles: { tags: {} } }. */
type PathTree = Map<string, PathTree>

function pathTree (paths: readonly string[]): PathTree {
  const root: PathTree = new Map()
  for (const path of paths) {
    let node = root
    for (const name of path.split('.')) {
      if (name === '') throw invalid(`relation path "${path}" has an empty name`)
      const next = node.get(name) ?? new Map()
      node.set(name, next)
      node = next
    }
  }
  return root
}

/**
 * Collects the changes of a revert, one per entity. Bringing an entity back to its state
 * then is final; deleting a child that joined since is tentative: should the same entity
 * turn out to be related then along another path, it is reverted instead.
 */
class RevertCollector {
  private readonly changes = new Map<string, { planned: PlannedChange | null, tentative: boolean }>()
  constructor (
    private readonly ctx: ServiceContext, private readonly trx: Trx, private readonly definitions: Definitions, private readonly to: number
  ) {}

  private get tenant (): string { return this.ctx.tenant }

  /** The revert may not grow past its limit: checked before the new entities are locked. */
  private admit (refs: readonly string[]): void {
    checkRevertSize(this.ctx, this.changes.size + refs.filter((ref) => !this.changes.has(ref)).length)
  }

  /**
   * Brings each entity back to its state at `to`. The entities are locked before their
   * current state is read, so that a concurrent write cannot slip in between.
   */
  async revertTo (type: string, keys: readonly string[]): Promise<void> {
    const pending = [...new Set(keys)].filter((k) => this.changes.get(entityRef(type, k))?.tentative !== false)
    if (pending.length === 0) return
    const refs = pending.map((key) => entityRef(type, key))
    this.admit(refs)
    await lockEntities(this.trx, this.tenant, refs)
    const entities = pending.map((key) => ({ type, key }))
    const [then, now] = await Promise.all([versionsAt(this.trx, this.tenant, entities, this.to), versionsAt(this.trx, this.tenant, entities)])
    for (const key of pending) {
      const ref = entityRef(type, key)
      // Fields the type excludes now are never handed back, even where an old version holds them.
      const before = presentedState(this.definitions, type, liveData(now.get(ref)), now.get(ref)?.revision)
      const change = planEntityRevert(type, key, presentedState(this.definitions, type, liveData(then.get(ref)), then.get(ref)?.revision), before)
      this.changes.set(ref, { planned: change === undefined ? null : { change, before }, tentative: false })
    }
  }

  /** Deletes entities (live now, as `versions` show them) unless already decided. */
  delete (versions: readonly Version[]): void {
    this.admit(versions.map((v) => entityRef(v.type, v.id)))
    for (const v of versions) {
      const ref = entityRef(v.type, v.id)
      if (!this.changes.has(ref)) {
        this.changes.set(ref, { planned: { change: { type: v.type, id: v.id, op: 'delete', data: null }, before: v.data }, tentative: true })
      }
    }
  }

  list (): PlannedChange[] {
    return [...this.changes.values()].flatMap((c) => c.planned === null ? [] : [c.planned])
  }
}

/**
 * Reverts the relations in `tree` of the given entities (their states at `to` are the
 * anchors): everything related then goes back to its state then; oneToMany children
 * that joined since are deleted; manyToMany membership is restored through the
 * association entities. Recurses along dotted paths, a level at a time.
 */
async function revertRelations (
  trx: Trx, tenant: string, definitions: Definitions, collector: RevertCollector,
  type: string, anchors: ReadonlyArray<{ key: string, then: JsonObject | null, now: JsonObject | null }>, tree: PathTree, to: number
): Promise<void> {
  for (const [name, subtree] of tree) {
    const relation = relationOf(definitions, type, name)
    const thenAnchors = anchors.flatMap((a) => a.then === null ? [] : [{ key: a.key, data: a.then }])
    // Who points at an anchor now is found by its key alone, deleted anchors included.
    const nowAnchors = anchors.map((a) => ({ key: a.key, data: a.now ?? a.then ?? {} }))
    const then = await relatedAt(trx, tenant, definitions, type, name, thenAnchors, to)
    const related = [...then.targets.values()].flat()
    if (relation.kind !== 'manyToOne') {
      const now = await relatedAt(trx, tenant, definitions, type, name, nowAnchors, undefined)
      if (relation.kind === 'oneToMany') {
        const keep = new Set(related.map((v) => v.id))
        collector.delete([...now.targets.values()].flat().filter((v) => !keep.has(v.id)))
      } else {
        const links = [...then.associations.values()].flat()
        const keep = new Set(links.map((v) => v.id))
        await collector.revertTo(relation.through, links.map((v) => v.id))
        collector.delete([...now.associations.values()].flat().filter((v) => !keep.has(v.id)))
      }
    }
    await collector.revertTo(relation.target, related.map((v) => v.id))
    if (subtree.size > 0) {
      const keys = [...new Set(related.map((v) => v.id))]
      const current = await versionsAt(trx, tenant, keys.map((key) => ({ type: relation.target, key })))
      const next = related.map((v) => ({ key: v.id, then: v.data, now: liveState(definitions, current.get(entityRef(relation.target, v.id))) }))
      await revertRelations(trx, tenant, definitions, collector, relation.target, next, subtree, to)
    }
  }
}

async function record (
  ctx: ServiceContext, trx: Trx, definitions: Definitions, changes: PlannedChange[], revertOf: JsonObject, options: RevertOptions
): Promise<RevertResult> {
  const ordered = orderForForeignKeys(changes, definitions)
  if (options.dryRun === true || ordered.length === 0) return { transaction: null, versions: [], changes: ordered }
  const recorded = await recordChanges(trx, ctx.tenant, definitions, {
    actor: options.actor,
    meta: options.meta,
    revertOf,
    recordedBy: recordedBy(ctx),
    changes: ordered.map((c) => ({ type: c.type, op: c.op, id: c.id, ...(c.data === null ? {} : { data: c.data }) }))
  })
  return { ...recorded, changes: ordered }
}

export interface EntityRevertRequest extends RevertOptions {
  type: string
  key: string
  to: number
  relations: readonly string[]
}

/**
 * Brings an entity (and the named relations) back to its state at transaction `to`, in
 * one database transaction of its own (with the answer under the Idempotency-Key).
 */
export async function revertEntity (
  ctx: ServiceContext, request: EntityRevertRequest, idempotency: IdempotentRequest | undefined
): Promise<WriteOutcome> {
  if (request.relations.some((r) => r.trim() === '')) throw invalid('relation names must not be empty')
  checkMeta(request.meta)
  return await withCurrentDefinitions(ctx.definitions, async () =>
    await recordInTransaction(ctx, idempotency, async (trx) => await revertEntityIn(ctx, trx, request)))
}

async function revertEntityIn (ctx: ServiceContext, trx: Trx, request: EntityRevertRequest): Promise<RevertResult> {
  const { tenant } = ctx
  const { type, key, to } = request
  const definitions = await ctx.definitions.get(trx, [type])
  if (!definitions.has(type)) throw notFound(`unknown entity type "${type}"`)
  const tree = pathTree(request.relations)
  validatePaths(definitions, type, tree)
  if (await firstMissingTransaction(trx, tenant, [to]) !== undefined) throw notFound(`transaction ${to} does not exist`)
  // A revert with relations finds its entities in stages, and they may be many: it writes alone in its tenant.
  if (tree.size > 0) await lockTenantWriters(trx, tenant)
  await lockEntities(trx, tenant, [entityRef(type, key)])
  if (!await entityHasVersions(trx, tenant, { type, key })) throw notFound(`${type} "${key}" has no versions`)
  if ((await versionsAt(trx, tenant, [{ type, key }], to)).size === 0) {
    const pruned = await anchorOf(trx, tenant, { type, key })
    if (pruned !== undefined) throw gone(`${type} "${key}": its state at transaction ${to} was pruned (retention); its oldest kept version is index ${pruned.index}`)
  }
  const collector = new RevertCollector(ctx, trx, definitions, to)
  await collector.revertTo(type, [key])
  if (tree.size > 0) {
    const entities = [{ type, key }]
    const [then, now] = await Promise.all([versionsAt(trx, tenant, entities, to), versionsAt(trx, tenant, entities)])
    const ref = entityRef(type, key)
    await revertRelations(trx, tenant, definitions, collector, type,
      [{ key, then: liveState(definitions, then.get(ref)), now: liveState(definitions, now.get(ref)) }], tree, to)
  }
  return await record(ctx, trx, definitions, collector.list(), { type, id: key, to }, request)
}

function validatePaths (definitions: Definitions, type: string, tree: PathTree): void {
  for (const [name, subtree] of tree) {
    const relation = relationOf(definitions, type, name)
    validatePaths(definitions, relation.target, subtree)
  }
}

export interface TransactionRevertRequest extends RevertOptions {
  id: number
  force?: boolean | undefined
}

/**
 * Undoes one transaction: each entity it changed goes back to its state just before it,
 * as a new transaction, in one database transaction of its own.
 */
export async function revertTransaction (
  ctx: ServiceContext, request: TransactionRevertRequest, idempotency: IdempotentRequest | undefined
): Promise<WriteOutcome> {
  checkMeta(request.meta)
  return await withCurrentDefinitions(ctx.definitions, async () =>
    await recordInTransaction(ctx, idempotency, async (trx) => await revertTransactionIn(ctx, trx, request)))
}

async function revertTransactionIn (ctx: ServiceContext, trx: Trx, request: TransactionRevertRequest): Promise<RevertResult> {
  const { tenant } = ctx
  const { id } = request
  const transaction = await getTransaction(trx, tenant, id)
  if (transaction === undefined) throw notFound(`transaction ${id} does not exist`)
  const definitions = await ctx.definitions.get(trx)
  const touched: EntityName[] = await entitiesOfTransaction(trx, tenant, id)
  checkRevertSize(ctx, touched.length)
  await lockEntities(trx, tenant, touched.map((e) => entityRef(e.type, e.key)))
  if (request.force !== true) {
    // At most maxConflictEntities entities, each with at most maxConflictIds later transactions.
    const { maxConflictEntities, maxConflictIds } = ctx.limits
    const later = await laterChanges(trx, tenant, touched, id, maxConflictEntities, maxConflictIds)
    if (later.length > 0) {
      const truncated = later.length > maxConflictEntities || later.some((c) => c.more)
      const conflicts = later.slice(0, maxConflictEntities).map((c) => ({ type: c.type, id: c.key, transactionIds: c.transactionIds }))
      throw conflict(`transaction ${id} cannot be reverted: later transactions changed ${later.length > maxConflictEntities ? `more than ${maxConflictEntities}` : conflicts.length} of its entities (use "force": true to revert anyway)`,
        truncated ? { conflicts, truncated } : { conflicts })
    }
  }
  const [before, now] = await Promise.all([versionsAt(trx, tenant, touched, id - 1), versionsAt(trx, tenant, touched)])
  const changes = touched.flatMap((e): PlannedChange[] => {
    const ref = entityRef(e.type, e.key)
    const current = presentedState(definitions, e.type, liveData(now.get(ref)), now.get(ref)?.revision)
    const change = planEntityRevert(e.type, e.key, presentedState(definitions, e.type, liveData(before.get(ref)), before.get(ref)?.revision), current)
    return change === undefined ? [] : [{ change, before: current }]
  })
  return await record(ctx, trx, definitions, changes, { transaction: id }, request)
}
