import type { Caller } from '../access/index.js'
import type { Db } from '../store/database.js'
import { listRecords } from '../store/integrity-records.js'
import { entityRef } from '../versioning/keys.js'
import { DEFAULT_LIMITS, type Limits, type ServiceContext } from './context.js'
import { DefinitionCache } from './definitions.js'
import { LatestVersionCache } from './latest-cache.js'
import { WriteOrder } from './write-order.js'
import { DEFAULT_GROUP_COMMITS, GroupCommit } from './group-commit.js'
import type { ReadReplica } from './read-replica.js'
import type { Signer } from './signing-key.js'

/** The service's shared state, handed to each request as the context of its caller's tenant. */
export class Tenants {
  private readonly definitions = new Map<string, DefinitionCache>()
  private readonly latest: LatestVersionCache | undefined
  private readonly writeOrder = new WriteOrder()
  private readonly groupCommit: GroupCommit | undefined

  /** `groupCommits`: how many group commits run at once (0: none, each write commits alone). */
  constructor (
    readonly db: Db, latestCacheBytes: number, readonly signer: Signer, private readonly limits: Limits = DEFAULT_LIMITS,
    private readonly replica?: ReadReplica, groupCommits = DEFAULT_GROUP_COMMITS
  ) {
    this.latest = latestCacheBytes > 0 ? new LatestVersionCache(latestCacheBytes) : undefined
    this.groupCommit = groupCommits > 0 ? new GroupCommit(db, groupCommits) : undefined
  }

  /**
   * The context a history read runs in: on the read replica when there is one that has replayed
   * `minTransaction` (the caller's own latest write, for read-your-writes), else unchanged.
   */
  async forReading (ctx: ServiceContext, minTransaction?: number): Promise<ServiceContext> {
    if (this.replica === undefined || await this.replica.sourceFor(ctx.tenant, minTransaction) === 'primary') return ctx
    return { ...ctx, db: this.replica.replica, primary: ctx.db }
  }

  /** Forgets the latest states of entities redacted since a record sequence (by whichever instance). */
  private readonly forgetRedacted = async (db: Db, tenant: string, after: number): Promise<void> => {
    for (let from = after; ;) {
      const records = await listRecords(db, tenant, { kind: 'redaction', after: from, limit: 1000 })
      this.latest?.forget(tenant, records.map((r) => entityRef(String(r.body.type), String(r.body.entityId))))
      if (records.length < 1000) return
      from = records[records.length - 1]!.sequence
    }
  }

  /**
   * The context of a caller's tenant (without a caller: the operator's, in `tenant`).
   * `typesOf` is the tenant whose type definitions it reads (default: the same one).
   */
  context (caller: Caller | undefined, tenant = caller?.tenant ?? 'default', typesOf = tenant): ServiceContext {
    let definitions = this.definitions.get(typesOf)
    if (definitions === undefined) {
      definitions = new DefinitionCache(typesOf, 1000, this.latest === undefined ? undefined : this.forgetRedacted)
      this.definitions.set(typesOf, definitions)
    }
    return {
      db: this.db,
      tenant,
      definitions,
      limits: this.limits,
      signer: this.signer,
      ...(this.latest !== undefined ? { latest: this.latest, writeOrder: this.writeOrder } : {}),
      ...(this.groupCommit !== undefined ? { groupCommit: this.groupCommit } : {}),
      ...(caller !== undefined ? { caller } : {}),
      ...(caller?.view !== undefined ? { view: caller.view } : {})
    }
  }
}
