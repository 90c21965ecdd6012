import type { Changeset } from './changeset.js'
import type { JsonObject } from './json.js'

export type Operation = 'insert' | 'update' | 'delete'

/** One recorded version of one entity, as the API shows it. */
export interface Version {
  type: string
  id: string
  transactionId: number
  endTransactionId: number | null
  operation: Operation
  index: number
  data: JsonObject
  changeset: Changeset
  /** SHA-256 chaining this version to the entity's previous one (see src/integrity). */
  hash: string
  /**
   * The type revision it was recorded under (0: before migrations existed), as stored
   * versions carry it. Internal: answers show versions in the current schema, without it.
   */
  revision?: number
}

/** The latest stored version of an entity, as the unit of work needs it. */
export interface LatestVersion {
  transactionId: number
  index: number
  operation: Operation
  data: JsonObject
  /** Its hash: the next version of the entity chains to it. */
  hash: string
  /** The type revision its data was recorded under (see Version). */
  revision?: number
}

/** True when the entity exists in the state this version leaves it in. */
export const isLive = (version: Pick<LatestVersion, 'operation'> | undefined): boolean =>
  version !== undefined && version.operation !== 'delete'

/** The state a version leaves its entity in: its data, or null when it leaves none (a delete, or no version). */
export const liveData = (version: Pick<Version, 'operation' | 'data'> | undefined): JsonObject | null =>
  version !== undefined && isLive(version) ? version.data : null
