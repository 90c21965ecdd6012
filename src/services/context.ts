import type { Db } from '../store/database.js'
import type { DefinitionCache } from './definitions.js'
import type { LatestVersionCache } from './latest-cache.js'

/**
 * What every use case works on: the database, the tenant it serves, the tenant's type
 * definitions, and hints of the latest versions this process wrote.
 */
export interface ServiceContext {
  db: Db
  tenant: string
  definitions: DefinitionCache
  latest?: LatestVersionCache
}
