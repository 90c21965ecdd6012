import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { PGlite, type PGliteOptions } from '@electric-sql/pglite'
import { buildApp, type AppOptions } from '../../src/http/app.js'
import { createPGlite, openDatabase, RUNTIME_ROLE, type Db } from '../../src/store/database.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { createApiKey } from '../../src/services/api-keys.js'
import type { AccessScope } from '../../src/access/index.js'

export type DatabaseKind = 'pglite' | 'postgres'

/** The PostgreSQL database the run is given (CI: postgres://postgres@127.0.0.1:5432/test). */
const CONFIGURED_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * The database this process's test schemas are in: once a test has opened a PostgreSQL harness,
 * a database of this process's own on the server of TEST_DATABASE_URL (see processDatabase).
 */
export let TEST_DATABASE_URL = CONFIGURED_DATABASE_URL

let postgresReachable: Promise<boolean> | undefined

/** PostgreSQL is tested when reachable; REQUIRE_POSTGRES=1 (CI) makes an unreachable one a failure. */
async function isPostgresReachable (): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: CONFIGURED_DATABASE_URL, connectionTimeoutMillis: 2000 })
    try {
      await client.connect()
      await client.end()
      return true
    } catch (error) {
      if (process.env.REQUIRE_POSTGRES === '1') throw new Error(`PostgreSQL at ${CONFIGURED_DATABASE_URL} is required but not reachable: ${String(error)}`)
      return false
    }
  })()
  return await postgresReachable
}

let processDatabase: Promise<string> | undefined

/**
 * tap runs three test files at a time. Sharing one database, they would share more than its
 * name: the service's advisory locks are per database and know no schema (a 10,000-change
 * transaction of one file holds tenant `default`'s lock, and with it every write and revert
 * of the other file, for seconds: its timing assertions fail), and so are its catalogs (each
 * migration lists the tables of every schema there). So each test process makes a database
 * of its own on that server, holding one schema per test, and drops it when its tests end.
 * Where the user may not create databases, the schemas go in TEST_DATABASE_URL's as before.
 */
async function openProcessDatabase (): Promise<string> {
  processDatabase ??= (async () => {
    const url = new URL(CONFIGURED_DATABASE_URL)
    const name = `${decodeURIComponent(url.pathname.slice(1)) || 'postgres'}`.slice(0, 40) + `_p${process.pid}`
    const admin = new pg.Client({ connectionString: CONFIGURED_DATABASE_URL })
    await admin.connect()
    try {
      await admin.query(`drop database if exists "${name}" with (force)`) // left by a process that had this pid
      await admin.query(`create database "${name}"`)
    } catch (error) {
      if ((error as { code?: string }).code === '42501') return CONFIGURED_DATABASE_URL // insufficient privilege
      throw error
    } finally {
      await admin.end()
    }
    t.teardown(async () => {
      const drop = new pg.Client({ connectionString: CONFIGURED_DATABASE_URL })
      await drop.connect()
      try { await drop.query(`drop database if exists "${name}" with (force)`) } finally { await drop.end() }
    })
    url.pathname = `/${encodeURIComponent(name)}`
    TEST_DATABASE_URL = url.toString()
    return TEST_DATABASE_URL
  })()
  return await processDatabase
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

/**
 * Where the image of a freshly initialised embedded database is kept between test processes.
 * Its name changes with PGlite's version and with the text of createPGlite (its options:
 * parsers, user, database…), so that an image is only ever loaded by the code that made it.
 */
function pgliteImagePath (): string {
  // PGlite's package.json is not among its exports: found next to its entry point.
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')))
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir)
  const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version
  const key = createHash('sha256').update(`${version}\n${createPGlite.toString()}`).digest('hex').slice(0, 16)
  return path.join(tmpdir(), `rewind-test-pglite-${key}.tar`)
}

/**
 * The embedded database of this test file, made by createPGlite('memory://') as the service
 * makes it. Its initdb (most of the seconds it takes) runs once per machine: PGlite itself
 * initialises a memory:// database by running initdb in a scratch instance and loading that
 * instance's data directory as a tarball; here the first test process keeps such a tarball
 * (taken right after initdb, before any schema exists) and later ones hand it to PGlite as
 * `loadDataDir`, which skips initdb. Anything wrong with the image: initdb as usual.
 * The database is closed when the test file ends (an open one keeps the process alive for seconds).
 */
async function createSharedPGlite (): Promise<PGlite> {
  const image = pgliteImagePath()
  let tarball: Blob | undefined
  try { tarball = new Blob([readFileSync(image)]) } catch { /* not made yet */ }
  let pglite: PGlite | undefined
  if (tarball !== undefined) {
    const original = PGlite.create
    const create = original.bind(PGlite) as (options: PGliteOptions) => Promise<PGlite>
    // createPGlite's own options, plus the image to start from.
    PGlite.create = (async (dataDirOrOptions?: string | PGliteOptions, options?: PGliteOptions) => {
      const merged = typeof dataDirOrOptions === 'string' ? { dataDir: dataDirOrOptions, ...options } : { ...dataDirOrOptions, ...options }
      return await create({ ...merged, loadDataDir: tarball })
    }) as typeof PGlite.create
    try {
      pglite = await createPGlite('memory://')
    } catch {
      rmSync(image, { force: true })
    } finally {
      PGlite.create = original
    }
  }
  if (pglite === undefined) {
    pglite = await createPGlite('memory://')
    try {
      await pglite.exec('checkpoint')
      const dump = await pglite.dumpDataDir('none')
      mkdirSync(path.dirname(image), { recursive: true })
      const partial = `${image}.${process.pid}.partial`
      writeFileSync(partial, Buffer.from(await dump.arrayBuffer()))
      renameSync(partial, image) // whole or not at all, whichever process writes it
    } catch { /* the next process makes it */ }
  }
  const opened = pglite
  t.teardown(async () => { await opened.close() })
  return opened
}

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

/**
 * Migrated schemas of this process whose tests have ended, emptied, for the next test of the same
 * kind: migrating a schema is most of the second a harness took to open. A schema whose test
 * worked as the owner (asOwner: it may have dropped a constraint or disabled a trigger) is dropped
 * instead, as is every schema when its test file ends.
 */
const emptied: Record<DatabaseKind, string[]> = { pglite: [], postgres: [] }

/**
 * Empties a schema's tables as they were just after its migration: every table but the
 * migrator's own, identities restarted, and the partitions of versions but the first.
 * Answers false, emptying nothing, when the first partition is gone (the schema is dropped then). The append-only triggers refuse TRUNCATE to anyone:
 * here, in this one transaction, they do not fire (session_replication_role = replica).
 */
async function emptySchema (owner: Db, schema: string): Promise<boolean> {
  return await owner.transaction().execute(async (trx) => {
    // A test whose retention dropped the first partition (or archived it) leaves a schema unlike a migrated one.
    const { rows: first } = await sql<{ n: string }>`select count(*) as n from ${sql.table(`${schema}.version_partitions`)} where name = 'versions_0' and state = 'attached'`.execute(trx)
    if (Number(first[0]?.n) !== 1) return false
    // The partitions of versions the app made go (the next app makes its own, of its size); the first, from the migration, stays.
    const { rows: made } = await sql<{ name: string }>`select name from ${sql.table(`${schema}.version_partitions`)} where name <> 'versions_0'`.execute(trx)
    for (const { name } of made) await sql`drop table if exists ${sql.table(`${schema}.${name}`)}`.execute(trx)
    await sql`delete from ${sql.table(`${schema}.version_partitions`)} where name <> 'versions_0'`.execute(trx)
    const { rows } = await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = ${schema}
      and tablename not like 'kysely_migration%' and tablename <> 'version_partitions' and tablename not like 'versions_%'`.execute(trx)
    await sql`set local session_replication_role = replica`.execute(trx)
    await sql.raw(`truncate ${rows.map((r) => `"${schema}"."${r.name}"`).join(', ')} restart identity`).execute(trx)
    return true
  })
}

/** A fresh, migrated database (own schema) and an app on it, closed when the test ends. */
export async function openHarness (test: Test, kind: DatabaseKind, options: Partial<Omit<AppOptions, 'db'>> = {}): Promise<Harness> {
  const reused = emptied[kind].pop()
  const schema = reused ?? `t_${process.pid}_${++schemaCounter}_${Math.random().toString(36).slice(2, 8)}`
  let ownerWorked = false
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
  let dropSchema: () => Promise<void>
  if (kind === 'pglite') {
    sharedPGlite ??= createSharedPGlite()
    const pglite = await sharedPGlite
    db = await openDatabase({ pglite, searchPath: schema, onQuery })
    const opened = db
    dropSchema = async () => {
      if (!ownerWorked) {
        await sql`reset role`.execute(opened)
        if (await emptySchema(opened, schema)) {
          emptied.pglite.push(schema)
          return
        }
      }
      await pglite.exec(`reset role; drop schema "${schema}" cascade`)
    }
    if (reused === undefined) await migrateWithRetry(db)
    // One session: the service's role is switched, and switched back for the owner's work.
    await sql`set role ${sql.raw(RUNTIME_ROLE)}`.execute(db)
    asOwner = async (work) => {
      ownerWorked = true
      await sql`reset role`.execute(db)
      try {
        return await work(db)
      } finally {
        await sql`set role ${sql.raw(RUNTIME_ROLE)}`.execute(db)
      }
    }
  } else {
    const databaseUrl = await openProcessDatabase()
    if (reused === undefined) {
      const admin = new pg.Client({ connectionString: databaseUrl })
      await admin.connect()
      await admin.query(`create schema "${schema}"`)
      await admin.end()
    }
    const owner = await openDatabase({ databaseUrl, searchPath: schema, poolSize: 2 })
    if (reused === undefined) await migrateWithRetry(owner)
    db = await openDatabase({ databaseUrl, searchPath: schema, poolSize: 10, onQuery, runtimeRole: true })
    asOwner = async (work) => {
      ownerWorked = true
      return await work(owner)
    }
    // After the app is closed (its teardown runs first): emptied for the next test, or dropped.
    dropSchema = async () => {
      try {
        if (!ownerWorked && await emptySchema(owner, schema)) {
          emptied.postgres.push(schema)
          return
        }
      } finally {
        await owner.destroy()
      }
      const drop = new pg.Client({ connectionString: databaseUrl })
      await drop.connect()
      await drop.query(`drop schema "${schema}" cascade`)
      await drop.end()
    }
  }
  // Teardowns run last registered first: this one after the app's, once its background jobs
  // have stopped. The schema is then emptied for the next test, or dropped (a schema left
  // behind would be listed by every later migration, which lists the tables of every schema).
  test.teardown(dropSchema)
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
