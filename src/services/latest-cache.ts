import { LRUCache } from 'lru-cache'
import { approximateJsonSize } from '../versioning/json.js'
import { entityRef } from '../versioning/keys.js'
import type { LatestVersion, Version } from '../versioning/version.js'
import { HintTrust } from './hint-trust.js'

/**
 * The latest version of the entities this process wrote recently, so that a write to one
 * of them can skip reading it. A hint, never trusted on its own: the append fails when
 * the version number planned from a stale entry is taken (another writer, another
 * instance), and the write is then done again from a fresh read. Bounded by the
 * approximate JSON size of the states it holds. `trust` says whether the hints are worth
 * planning on (they are not while other instances keep writing the same entities).
 */
export class LatestVersionCache {
  private readonly entries: LRUCache<string, LatestVersion>
  readonly trust = new HintTrust()

  constructor (maxBytes: number) {
    this.entries = new LRUCache({ maxSize: maxBytes, sizeCalculation: (v) => 64 + approximateJsonSize(v.data) })
  }

  get (tenant: string, ref: string): LatestVersion | undefined {
    return this.entries.get(`${tenant}\u0000${ref}`)
  }

  /** Keeps a committed version, unless a later one of the entity is already kept. */
  remember (tenant: string, ref: string, version: LatestVersion): void {
    const key = `${tenant}\u0000${ref}`
    const kept = this.entries.peek(key)
    if (kept !== undefined && kept.index >= version.index) return
    this.entries.set(key, version)
  }

  /** Keeps the versions of a committed transaction. */
  rememberVersions (tenant: string, versions: readonly Version[]): void {
    for (const v of versions) {
      // A state is kept only with the type revision its names belong to (see Version).
      if (v.revision === undefined) continue
      this.remember(tenant, entityRef(v.type, v.id), { transactionId: v.transactionId, index: v.index, operation: v.operation, data: v.data, hash: v.hash, revision: v.revision })
    }
  }

  forget (tenant: string, refs: Iterable<string>): void {
    for (const ref of refs) this.entries.delete(`${tenant}\u0000${ref}`)
  }
}
