import type { Scope } from '../services/definitions.js'

/** What the routes need from the application: the database, the tenant they serve, its types. */
export type AppContext = Scope
