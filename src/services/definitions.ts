import type { EntityTypeDefinition } from '../versioning/entity-type.js'
import type { Db } from '../store/database.js'
import { loadDefinitions } from '../store/entity-types.js'

export type Definitions = ReadonlyMap<string, EntityTypeDefinition>

/**
 * The entity-type definitions of one tenant, kept for a short time so that a write or a
 * read does not pay a query for them. This process drops them whenever it changes a
 * type; a type another instance registered is picked up at once (a miss reloads), a
 * change made by another instance within `ttlMs`.
 */
export class DefinitionCache {
  private cached: { at: number, definitions: Definitions } | undefined

  constructor (private readonly tenant: string, private readonly ttlMs = 1000) {}

  /** The definitions, reloaded through `db` when stale or when one of `required` is missing. */
  async get (db: Db, required: Iterable<string> = []): Promise<Definitions> {
    const hit = this.cached
    if (hit !== undefined && Date.now() - hit.at < this.ttlMs && [...required].every((t) => hit.definitions.has(t))) {
      return hit.definitions
    }
    const definitions = await loadDefinitions(db, this.tenant)
    this.cached = { at: Date.now(), definitions }
    return definitions
  }

  invalidate (): void {
    this.cached = undefined
  }
}
