import t, { type Test } from 'tap'
import { sql } from 'kysely'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import type { PGlite } from '@electric-sql/pglite'
import { buildApp, type AppOptions } from '../../src/http/app.js'
import { createPGlite, openDatabase, RUNTIME_ROLE, type Db } from '../../src/store/database.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { createApiKey } from '../../src/services/api-keys.js'
import type { AccessScope } from '../../src/access/index.js'

export type DatabaseKind = 'pglite' | 'postgres'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let postgresReachable: Promise<boolean> | undefined

/** PostgreSQL is tested when reachable; REQUIRE_POSTGRES=1 (CI) makes an unreachable one a failure. */
async function isPostgresReachable (): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2000 })
    try {
      await client.connect()
      await client.end()
      return true
    } catch (error) {
      if (process.env.REQUIRE_POSTGRES === '1') throw new Error(`PostgreSQL at ${TEST_DATABASE_URL} is required but not reachable: ${String(error)}`)
      return false
    }
  })()
  return await postgresReachable
}

/** The kinds of database this run tests against (TEST_DB=pglite|postgres narrows it). */
export async function databaseKinds (): Promise<DatabaseKind[]> {
  const only = process.env.TEST_DB
  const kinds: DatabaseKind[] = []
  if (only === undefined || only === 'pglite') kinds.push('pglite')
  if ((only === undefined || only === 'postgres') && (only === 'postgres' || await isPostgresReachable())) kinds.push('postgres')
  return kinds
}

// One embedded database per test file (creating one takes seconds); one schema per test.
let sharedPGlite: Promise<PGlite> | undefined
let schemaCounter = 0

export interface Harness {
  kind: DatabaseKind
  app: FastifyInstance
  /** The database as the service uses it: as the role rewind_runtime. */
  db: Db
  /** Runs `work` as the owner of the database (to tamper with history, as an attacker with database access would). */
  asOwner: <T>(work: (owner: Db) => Promise<T>) => Promise<T>
  /** SQL statements executed since the last resetQueries(). */
  queries: string[]
  /** The same statements with their parameters (for EXPLAIN). */
  statements: Array<{ sql: string, parameters: readonly unknown[] }>
  resetQueries: () => void
  request: (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<Reply>
  get: (url: string) => Promise<Reply>
  post: (url: string, body?: unknown, headers?: Record<string, string>) => Promise<Reply>
  put: (url: string, body?: unknown) => Promise<Reply>
  /** The admin key of tenant `default` that every request sends unless its headers name another authorization. */
  adminKey: string
  /** A new key of `tenant` (default: `default`) with these scopes: its secret and id. */
  newKey: (scopes: AccessScope[], tenant?: string, name?: string) => Promise<{ key: string, id: string }>
  /** Counts the rows of a table (to check that a rejected request stored nothing). */
  count: (table: 'versions' | 'transactions' | 'entity_types' | 'version_refs' | 'idempotency_keys') => Promise<number>
}

export interface Reply {
  status: number
  body: any
  headers: Record<string, string | string[] | number | undefined>
}

/**
 * Kysely's migrator lists the tables of every schema; another test process dropping its
 * schema at that moment makes the listing fail ("schema … does not exist"): try again.
 */
async function migrateWithRetry (db: Db): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateToLatest(db)
      return
    } catch (error) {
      if (attempt >= 5 || (error as { code?: string }).code !== '3F000') throw error
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
    }
  }
}

/** A fresh, migrated database (own schema) and an app on it, closed when the test ends. */
export async function openHarness (test: Test, kind: DatabaseKind, options: Partial<Omit<AppOptions, 'db'>> = {}): Promise<Harness> {
  const schema = `t_${process.pid}_${++schemaCounter}_${Math.random().toString(36).slice(2, 8)}`
  const queries: string[] = []
  const statements: Harness['statements'] = []
  const onQuery = (event: { query: { sql: string, parameters: readonly unknown[] } }): void => {
    // An API key is looked up once per instance and key every 500 ms, not by each request:
    // statement counts leave it out.
    if (/^select [^;]* from "api_keys" where "secret_hash"/.test(event.query.sql)) return
    queries.push(event.query.sql)
    statements.push({ sql: event.query.sql, parameters: event.query.parameters })
  }
  let db: Db
  let asOwner: Harness['asOwner']
  if (kind === 'pglite') {
    sharedPGlite ??= createPGlite('memory://')
    db = await openDatabase({ pglite: await sharedPGlite, searchPath: schema, onQuery })
    await migrateWithRetry(db)
    // One session: the service's role is switched, and switched back for the owner's work.
    await sql`set role ${sql.raw(RUNTIME_ROLE)}`.execute(db)
    asOwner = async (work) => {
      await sql`reset role`.execute(db)
      try {
        return await work(db)
      } finally {
        await sql`set role ${sql.raw(RUNTIME_ROLE)}`.execute(db)
      }
    }
  } else {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await admin.connect()
    await admin.query(`create schema "${schema}"`)
    await admin.end()
    const owner = await openDatabase({ databaseUrl: TEST_DATABASE_URL, searchPath: schema, poolSize: 2 })
    await migrateWithRetry(owner)
    db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, searchPath: schema, poolSize: 10, onQuery, runtimeRole: true })
    asOwner = async (work) => await work(owner)
    test.teardown(async () => {
      await owner.destroy()
      const drop = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await drop.connect()
      await drop.query(`drop schema "${schema}" cascade`)
      await drop.end()
    })
  }
  const adminKey = (await createApiKey(db, { tenant: 'default', name: 'bootstrap admin', scopes: ['admin'] })).key
  const app = await buildApp({ db, closeDatabase: kind === 'postgres', ...options })
  test.teardown(async () => { await app.close() })
  queries.length = 0
  statements.length = 0

  const request = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) })
    })
    const text = res.body
    let parsed: unknown = text
    try { parsed = text === '' ? undefined : JSON.parse(text) } catch { /* not JSON */ }
    return { status: res.statusCode, body: parsed, headers: res.headers }
  }
  return {
    kind,
    app,
    db,
    asOwner,
    queries,
    statements,
    resetQueries: () => { queries.length = 0; statements.length = 0 },
    adminKey,
    newKey: async (scopes, tenant = 'default', name = `key ${scopes.join('+')}`) => {
      const created = await createApiKey(db, { tenant, name, scopes })
      return { key: created.key, id: created.id }
    },
    request,
    get: async (url) => await request('GET', url),
    post: async (url, body, headers) => await request('POST', url, body, headers),
    put: async (url, body) => await request('PUT', url, body),
    count: async (table) => {
      const row = await db.selectFrom(table).select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
      return Number(row.n)
    }
  }
}

export interface EachDatabaseOptions extends Partial<Omit<AppOptions, 'db'>> {
  /** Kinds of database the test cannot run on, each with the reason (reported as a skipped subtest). */
  skip?: Partial<Record<DatabaseKind, string>>
}

/** Registers `fn` as one subtest per database kind, each on a fresh database. */
export function eachDatabase (name: string, fn: (t: Test, h: Harness) => Promise<void>, options: EachDatabaseOptions = {}): void {
  const { skip = {}, ...harnessOptions } = options
  t.test(name, async (group) => {
    for (const kind of await databaseKinds()) {
      const reason = skip[kind]
      await group.test(kind, reason === undefined ? {} : { skip: reason }, async (tt) => {
        const h = await openHarness(tt, kind, harnessOptions)
        await fn(tt, h)
      })
    }
  })
}
