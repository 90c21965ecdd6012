import pg from 'pg'
import { median } from './ingest-rounds.js'
import type { HttpClient } from './service.js'

/*
 * The fixed costs around one append, one client at a time: a round trip to PostgreSQL over
 * loopback (`select 1`), a commit (its WAL flush: an autocommit one-row insert against the
 * same insert inside an open transaction), and an HTTP round trip through the service
 * (GET /health: no key check, no database).
 */

export interface RoundTrips {
  requests: number
  /** Median µs of each. */
  postgresSelect1Micros: number
  insertInTransactionMicros: number
  insertAndCommitMicros: number
  /** insertAndCommit − insertInTransaction: what a commit adds (the WAL flush, one client). */
  commitMicros: number
  httpHealthMicros: number
}

async function timed (n: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await work()
    times.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  return median(times)
}

/** Measures `requests` of each, after a few unmeasured ones; writes to a scratch table of the (bench) database, dropped after. */
export async function measureRoundTrips (databaseUrl: string, http: HttpClient, requests = 300): Promise<RoundTrips> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query('create table if not exists bench_profile_probe (n int)')
    const select1 = async (): Promise<unknown> => await client.query({ name: 'probe_select', text: 'select 1' })
    const insert = async (): Promise<unknown> => await client.query({ name: 'probe_insert', text: 'insert into bench_profile_probe values (1)' })
    await timed(20, select1)
    await timed(20, insert)
    const postgresSelect1Micros = await timed(requests, select1)
    const insertAndCommitMicros = await timed(requests, insert)
    await client.query('begin')
    const insertInTransactionMicros = await timed(requests, insert)
    await client.query('commit')
    await timed(20, async () => await http.timeGet('/health'))
    const httpHealthMicros = await timed(requests, async () => {
      const { status } = await http.timeGet('/health')
      if (status !== 200) throw new Error(`GET /health: ${status}`)
    })
    return { requests, postgresSelect1Micros, insertInTransactionMicros, insertAndCommitMicros, commitMicros: insertAndCommitMicros - insertInTransactionMicros, httpHealthMicros }
  } finally {
    await client.query('drop table if exists bench_profile_probe').catch(() => {})
    await client.end()
  }
}
