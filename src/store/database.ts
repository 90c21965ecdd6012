import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Kysely, PostgresDialect, sql, type LogEvent, type Transaction } from 'kysely'
import { PGliteDialect } from 'kysely-pglite-dialect'
import { PGlite, types } from '@electric-sql/pglite'
import pg from 'pg'
import { unavailable } from '../versioning/errors.js'
import { parseJson } from '../versioning/json.js'
import { isRetryable, translatingDialect } from './driver-errors.js'
import { PreparingClient } from './prepared-client.js'
import type { Database } from './schema.js'

/** The database, in or out of a transaction: for code that works either way. */
export type Db = Kysely<Database>
/** A database transaction: for code that must run inside one (locks, locked reads and writes). */
export type Trx = Transaction<Database>

export interface DatabaseOptions {
  /** postgres://… — when absent, an embedded PGlite database is used. */
  databaseUrl?: string | undefined
  /** Folder of the embedded database; `memory://` keeps it in memory. */
  dataDir?: string
  poolSize?: number
  /** Schema to work in (tests use one schema per test). */
  searchPath?: string
  /** An already open PGlite instance to use instead of opening one. */
  pglite?: PGlite
  /** Longest a statement may run, and a transaction may sit idle, on PostgreSQL (ms). */
  statementTimeoutMs?: number
  /** Called for every SQL statement Kysely executes. */
  onQuery?: (event: LogEvent) => void
  /** Work as the role `rewind_runtime` (every pooled connection switches to it as it opens). */
  runtimeRole?: boolean
}

/** The role the service works as: it may only read and add to history (see migrations/0004_integrity.ts). */
export const RUNTIME_ROLE = 'rewind_runtime'

/** Opens Kysely on PostgreSQL (`pg` pool) or on an embedded PGlite database. */
export async function openDatabase (options: DatabaseOptions): Promise<Db> {
  const log = options.onQuery
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    const pool = new pg.Pool({
      Client: PreparingClient,
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      types: { getTypeParser: typeParser },
      options: [
        ...(options.searchPath !== undefined ? [`-c search_path=${options.searchPath}`] : []),
        ...(options.runtimeRole === true ? [`-c role=${RUNTIME_ROLE}`] : []),
        // Each statement is prepared once per connection (PreparingClient) and planned once, for any
        // values: versions is partitioned (migration 0010), and a plan for the values at hand prunes
        // partitions while planning, so PostgreSQL would keep planning anew at every call (2–4 ms a
        // statement at 16 partitions, more with more). The plans prune as they run instead, from
        // the entities' heads (migration 0011); test/explain.test.ts checks the hot reads' plans.
        '-c plan_cache_mode=force_generic_plan',
        ...(options.statementTimeoutMs !== undefined
          ? [`-c statement_timeout=${options.statementTimeoutMs}`, `-c idle_in_transaction_session_timeout=${options.statementTimeoutMs}`]
          : [])
      ].join(' ')
    })
    // A dropped connection must not crash the process: an idle one is replaced by the
    // pool; one in use fails its query (answered 503), and its own 'error' event is
    // only a repeat of that.
    pool.on('error', () => {})
    pool.on('connect', (client) => { client.on('error', () => {}) })
    const db = new Kysely<Database>({ dialect: translatingDialect(new PostgresDialect({ pool })), ...(log ? { log } : {}) })
    pools.set(db, pool)
    return db
  }
  return await openPGlite(options, log)
}

/** The `pg` pool behind each database opened on PostgreSQL. */
const pools = new WeakMap<Db, pg.Pool>()

/** Connections of a database's pool: open, idle, and requests waiting for one (PGlite: one connection, never waited for). */
export function poolUsage (db: Db): { total: number, idle: number, waiting: number } {
  const pool = pools.get(db)
  return pool === undefined ? { total: 1, idle: 0, waiting: 0 } : { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
}

async function openPGlite (options: DatabaseOptions, log: DatabaseOptions['onQuery']): Promise<Db> {
  const pglite = options.pglite ?? await createPGlite(options.dataDir ?? './data')
  if (options.searchPath !== undefined) {
    await pglite.exec(`reset role; create schema if not exists "${options.searchPath}"; set search_path to "${options.searchPath}"`)
  }
  if (options.runtimeRole === true) await pglite.exec(`set role ${RUNTIME_ROLE}`)
  return new Kysely<Database>({ dialect: translatingDialect(new PGliteDialect(pglite)), ...(log ? { log } : {}) })
}

/** PGlite with int8 read as strings, as `pg` does, and JSON with exact integers (numbers past 2^53 would lose digits). */
export async function createPGlite (dataDir: string): Promise<PGlite> {
  // The folder holds the database (and the first admin key): the service's user alone may read or change it.
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  return PGlite.create({ dataDir, parsers: { [types.INT8]: (value: string) => value, [types.JSON]: parseJson, [types.JSONB]: parseJson } })
}

const JSON_TYPES = new Set([114, 3802]) // json, jsonb

/** pg's parsers, but JSON keeps integers beyond ±(2^53−1) exact. */
const typeParser = ((oid: number, format?: 'text' | 'binary') =>
  JSON_TYPES.has(oid) && format !== 'binary' ? parseJson : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser

/**
 * The database as the runtime role, once the owner has migrated it: the embedded
 * database (one session) switches its role; a PostgreSQL pool is replaced by one whose
 * connections switch as they open.
 */
export async function asRuntimeRole (owner: Db, options: DatabaseOptions): Promise<Db> {
  if (options.databaseUrl === undefined || options.databaseUrl === '') {
    await sql`set role ${sql.raw(RUNTIME_ROLE)}`.execute(owner)
    return owner
  }
  await owner.destroy()
  return await openDatabase({ ...options, runtimeRole: true })
}

/**
 * Runs `work`, running it again (a few times, after a short random pause) when PostgreSQL
 * aborted it for a serialization failure or a deadlock. `work` must leave nothing behind
 * when it fails that way: one statement, or one database transaction.
 */
export async function withRetries<T> (work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (!isRetryable(error)) throw error
      if (attempt >= attempts) throw unavailable('the database aborted this write repeatedly for concurrent writers; retry later')
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20))
    }
  }
}

/** Runs `work` in one database transaction, retried as withRetries says. */
export async function inTransaction<T> (db: Db, work: (trx: Trx) => Promise<T>, attempts = 5): Promise<T> {
  return await withRetries(async () => await db.transaction().execute(work), attempts)
}

/** One round trip to the database; throws when it is not reachable. */
export async function pingDatabase (db: Db): Promise<void> {
  await sql`select 1`.execute(db)
}

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}

/**
 * The embedded database in `dataDir` is one process's at a time (two would corrupt it, or
 * one would not see the other's writes): a pid file says whose it is. Throws when a
 * running process holds it; answers the release, to call once the database is closed.
 */
export function claimEmbeddedDatabase (dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(dataDir, 'rewind.pid')
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 })
      break
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST' || attempt > 0) throw error
      const holder = Number(readFileSync(file, 'utf8'))
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
        throw new Error(`the embedded database in ${dataDir} is in use by process ${holder}: stop it first (or use DATABASE_URL)`)
      }
      unlinkSync(file) // left by a process that is gone
    }
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file)
    } catch { /* already gone */ }
  }
}
