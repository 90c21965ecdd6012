import type { EntityTypeDefinition } from '../versioning/entity-type.js'
import type { Db } from '../store/database.js'
import { StaleDefinition } from '../store/driver-errors.js'
import { loadDefinitionsAndRedactions } from '../store/entity-types.js'
import { unavailable } from '../versioning/errors.js'

export type Definitions = ReadonlyMap<string, EntityTypeDefinition>

/**
 * The entity-type definitions of one tenant, kept for a short time so that a write or a
 * read does not pay a query for them. This process drops them whenever it changes a
 * type; a type another instance registered is picked up at once (a miss reloads), a
 * change made by another instance within `ttlMs`.
 */
export class DefinitionCache {
  private cached: { at: number, definitions: Definitions } | undefined
  private redactionsSeen: number | undefined

  /**
   * `onRedactions` hears of redactions recorded (by any instance) since the last reload,
   * by the sequence of the last one this cache had seen: the entities' latest states held
   * in memory must be forgotten (they hold erased values).
   */
  constructor (
    private readonly tenant: string, private readonly ttlMs = 1000,
    private readonly onRedactions?: (db: Db, tenant: string, after: number) => Promise<void>
  ) {}

  /** The definitions, reloaded through `db` when stale or when one of `required` is missing. */
  async get (db: Db, required: Iterable<string> = []): Promise<Definitions> {
    const hit = this.cached
    if (hit !== undefined && Date.now() - hit.at < this.ttlMs && [...required].every((t) => hit.definitions.has(t))) {
      return hit.definitions
    }
    const { definitions, redactions } = await loadDefinitionsAndRedactions(db, this.tenant)
    // Before the first load this process holds no state of the tenant's entities: nothing to forget.
    if (this.onRedactions !== undefined && this.redactionsSeen !== undefined && redactions > this.redactionsSeen) await this.onRedactions(db, this.tenant, this.redactionsSeen)
    this.redactionsSeen = redactions
    this.cached = { at: Date.now(), definitions }
    return definitions
  }

  invalidate (): void {
    this.cached = undefined
  }
}

/**
 * Runs a recording write, again with freshly loaded definitions when a type it writes
 * changed after the write was planned (StaleDefinition: nothing was written), so that a
 * write is always recorded under the revision whose names it uses.
 */
export async function withCurrentDefinitions<T> (cache: DefinitionCache, work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (!(error instanceof StaleDefinition)) throw error
      if (attempt >= attempts) throw unavailable('the definitions of these types kept changing while this write was planned; retry later')
      cache.invalidate()
    }
  }
}
