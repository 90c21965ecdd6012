import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from '../store/schema.js'
import { buildApp } from './app.js'

/**
 * The OpenAPI document the routes produce, as committed in openapi/openapi.json.
 * Built on a database handle that is never connected: no query runs.
 */
export async function openApiDocument (): Promise<string> {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ max: 1 }) }) })
  const app = await buildApp({ db, partitions: false })
  await app.ready()
  const text = JSON.stringify(app.swagger(), null, 2) + '\n'
  await app.close()
  return text
}
