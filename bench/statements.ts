import pg from 'pg'
import { buildApp } from '../src/http/app.js'
import { createApiKey } from '../src/services/api-keys.js'
import { openDatabase } from '../src/store/database.js'
import type { HttpClient } from './service.js'
import { INGEST_TYPE, newArticle, type Workload } from './workload.js'

export interface StatementCounts {
  /** How they were counted: pg_stat_statements (the running service) or the in-process app's onQuery hook. */
  method: 'pg_stat_statements' | 'onQuery'
  /** SQL statements per POST /transactions (BEGIN and COMMIT included, when there are any), by transaction kind. */
  perTransaction: Record<string, number>
  /** The statements of one 10-change transaction, first words only (onQuery only). */
  sample?: string[]
}

const SAMPLE_REQUESTS = 5

/** Counts with pg_stat_statements when the server has it loaded; throws otherwise. */
async function withPgStatStatements (databaseUrl: string, client: HttpClient, workload: Workload, sizes: readonly number[]): Promise<StatementCounts> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    await db.query('create extension if not exists pg_stat_statements')
    const total = async (): Promise<number> => {
      const { rows } = await db.query<{ n: string | null }>(`
        select sum(s.calls) as n from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = current_database() and s.query not ilike '%pg_stat_statements%'`)
      return Number(rows[0]?.n ?? 0)
    }
    await total() // fails here when the library is not preloaded
    const perTransaction: Record<string, number> = {}
    for (const size of sizes) {
      await client.request('POST', '/transactions', { actor: 'bench-count', changes: workload.transaction(size) })
      const before = await total()
      for (let i = 0; i < SAMPLE_REQUESTS; i++) {
        const reply = await client.request('POST', '/transactions', { actor: 'bench-count', changes: workload.transaction(size) })
        if (reply.status !== 201) throw new Error(`counting statements: ${reply.status}`)
      }
      perTransaction[`${size}-change`] = (await total() - before) / SAMPLE_REQUESTS
    }
    return { method: 'pg_stat_statements', perTransaction }
  } finally {
    await db.end()
  }
}

/**
 * Counts by running the app in this process on the bench database and hooking every
 * Kysely query: the service's workload on entities this app has not written (it reads
 * the updated ones first), then transactions whose updates touch entities it wrote.
 */
async function withOnQuery (databaseUrl: string, workload: Workload, sizes: readonly number[]): Promise<StatementCounts> {
  let statements: string[] = []
  const db = await openDatabase({
    databaseUrl,
    poolSize: 2,
    onQuery: (event) => { if (event.level === 'query') statements.push(event.query.sql.trim().replace(/\s+/g, ' ').split(' ').slice(0, 4).join(' ')) }
  })
  // The key's lookup is cached for the whole run: the statements counted are the request's own.
  const authorization = `Bearer ${(await createApiKey(db, { tenant: 'default', name: 'bench', scopes: ['admin'] })).key}`
  const app = await buildApp({ db, logger: false, keyCacheMs: 3_600_000 })
  const post = async (changes: unknown[]): Promise<number> => {
    statements = []
    const reply = await app.inject({ method: 'POST', url: '/transactions', payload: { actor: 'bench-count', changes }, headers: { authorization } })
    if (reply.statusCode !== 201) throw new Error(`counting statements: ${reply.statusCode} ${reply.body}`)
    return statements.length
  }
  try {
    await app.ready()
    const perTransaction: Record<string, number> = {}
    let sample: string[] = []
    let nextId = 90_000_000
    for (const size of sizes) {
      // One request first, uncounted: whatever the app loads once (and caches) is not per transaction.
      await post(workload.transaction(size))
      let unknown = 0
      let known = 0
      for (let i = 0; i < SAMPLE_REQUESTS; i++) {
        unknown += await post(workload.transaction(size))
        sample = statements
        // Half inserts, half updates of articles this app inserted just before.
        const ids = Array.from({ length: size }, () => nextId++)
        await post(ids.map((id) => ({ type: INGEST_TYPE, op: 'insert', data: newArticle(id) })))
        known += await post(ids.map((id, j) => j % 2 === 0
          ? { type: INGEST_TYPE, op: 'insert', data: newArticle(nextId++) }
          : { type: INGEST_TYPE, op: 'update', id: String(id), data: { views: i + 1 } }))
      }
      perTransaction[`${size}-change, updates of entities this process did not write`] = unknown / SAMPLE_REQUESTS
      perTransaction[`${size}-change, updates of entities it wrote`] = known / SAMPLE_REQUESTS
    }
    return { method: 'onQuery', perTransaction, sample }
  } finally {
    await app.close() // also destroys the database pool
  }
}

/** SQL statements per POST /transactions for each transaction size. */
export async function countStatements (databaseUrl: string, client: HttpClient, workload: Workload, sizes: readonly number[]): Promise<StatementCounts> {
  try {
    return await withPgStatStatements(databaseUrl, client, workload, sizes)
  } catch {
    return await withOnQuery(databaseUrl, workload, sizes)
  }
}
