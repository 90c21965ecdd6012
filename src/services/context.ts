import type { Caller, ViewLimit } from '../access/index.js'
import type { Db } from '../store/database.js'
import type { RecordedBy } from '../store/rows.js'
import type { DefinitionCache, Definitions } from './definitions.js'
import type { LatestVersionCache } from './latest-cache.js'
import type { WriteOrder } from './write-order.js'
import type { GroupCommit } from './group-commit.js'
import type { Signer } from './signing-key.js'

/**
 * What every use case works on: the database, the tenant it serves, the tenant's type
 * definitions, hints of the latest versions this process wrote, and who is asking.
 */
export interface ServiceContext {
  db: Db
  /** Set when `db` is a read replica (history reads only): the primary, which type definitions are read from. */
  primary?: Db
  tenant: string
  definitions: DefinitionCache
  latest?: LatestVersionCache
  /** With `latest`: orders this process's writes per entity, so that they plan on each other's versions. */
  writeOrder?: WriteOrder
  /** Writes this process's appends that wait together (group commit). */
  groupCommit?: GroupCommit
  /** The API key the request came with (none: the operator's own tools). */
  caller?: Caller
  /** A limited viewer token's limit: lists, transactions and relations show only what is inside it. */
  view?: ViewLimit
  limits: Limits
  /** The key checkpoints are signed with (the same on every instance). */
  signer: Signer
}

/** What one request may ask for at most (each configurable, see src/config.ts). */
export interface Limits {
  /** Changes in one POST /transactions. */
  maxChanges: number
  /** Relations one entity type declares. */
  maxRelations: number
  /** Entities one revert touches. */
  maxRevertEntities: number
  /** Entities a transaction revert's `conflicts` names, and later transaction ids per entity. */
  maxConflictEntities: number
  maxConflictIds: number
  /** Targets of a to-many relation listed inline (`?relations=`), and versions inline in GET /transactions/{id}. */
  maxInlineRelated: number
  maxInlineVersions: number
}

export const DEFAULT_LIMITS: Limits = {
  maxChanges: 10_000, maxRelations: 64, maxRevertEntities: 10_000, maxConflictEntities: 100, maxConflictIds: 100, maxInlineRelated: 1000, maxInlineVersions: 1000
}

/** What a transaction recorded for this caller carries as `recordedBy`. */
export const recordedBy = (ctx: ServiceContext): RecordedBy | undefined =>
  ctx.caller === undefined ? undefined : { keyId: ctx.caller.keyId, keyName: ctx.caller.keyName }

/**
 * The tenant's type definitions, read from the primary when the context reads history from a
 * replica: definitions never older than the history they present, and one cache for both.
 */
export const definitionsOf = async (ctx: ServiceContext, required?: Iterable<string>): Promise<Definitions> =>
  await ctx.definitions.get(ctx.primary ?? ctx.db, required)
