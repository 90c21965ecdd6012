import pg from 'pg'
import { buildApp } from '../src/http/app.js'
import { openDatabase } from '../src/store/database.js'
import type { HttpClient } from './service.js'
import type { Workload } from './workload.js'

export interface StatementCounts {
  /** How they were counted: pg_stat_statements (the running service) or the in-process app's onQuery hook. */
  method: 'pg_stat_statements' | 'onQuery'
  /** SQL statements per POST /transactions (BEGIN and COMMIT included), by changes per transaction. */
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
      perTransaction[String(size)] = (await total() - before) / SAMPLE_REQUESTS
    }
    return { method: 'pg_stat_statements', perTransaction }
  } finally {
    await db.end()
  }
}

/** Counts by running the app in this process on the bench database and hooking every Kysely query. */
async function withOnQuery (databaseUrl: string, workload: Workload, sizes: readonly number[]): Promise<StatementCounts> {
  let statements: string[] = []
  const db = await openDatabase({
    databaseUrl,
    poolSize: 2,
    onQuery: (event) => { if (event.level === 'query') statements.push(event.query.sql.trim().replace(/\s+/g, ' ').split(' ').slice(0, 4).join(' ')) }
  })
  const app = await buildApp({ db, logger: false })
  try {
    await app.ready()
    const perTransaction: Record<string, number> = {}
    let sample: string[] = []
    for (const size of sizes) {
      let count = 0
      // One request first, uncounted: whatever the app loads once (and caches) is not per transaction.
      await app.inject({ method: 'POST', url: '/transactions', payload: { actor: 'bench-count', changes: workload.transaction(size) } })
      for (let i = 0; i < SAMPLE_REQUESTS; i++) {
        statements = []
        const reply = await app.inject({ method: 'POST', url: '/transactions', payload: { actor: 'bench-count', changes: workload.transaction(size) } })
        if (reply.statusCode !== 201) throw new Error(`counting statements: ${reply.statusCode} ${reply.body}`)
        count += statements.length
        sample = statements
      }
      perTransaction[String(size)] = count / SAMPLE_REQUESTS
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
