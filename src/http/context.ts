import type { Db } from '../store/database.js'

/** What the routes need from the application: the database and the tenant they serve. */
export interface AppContext {
  db: Db
  tenant: string
}
