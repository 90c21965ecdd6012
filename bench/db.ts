import pg from 'pg'
import { BENCH_DATABASE, databaseUrl } from './config.js'

/** Runs `work` on one connection to the admin database, then closes it. */
async function withAdmin<T> (adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Drops a bench database (BENCH_DATABASE unless named) left from an earlier run and creates it afresh; returns its URL. */
export async function createBenchDatabase (adminUrl: string, name = BENCH_DATABASE): Promise<string> {
  await withAdmin(adminUrl, async (client) => {
    await client.query(`drop database if exists ${name} with (force)`)
    await client.query(`create database ${name}`)
  })
  return databaseUrl(adminUrl, name)
}

export async function dropBenchDatabase (adminUrl: string, name = BENCH_DATABASE): Promise<void> {
  await withAdmin(adminUrl, async (client) => {
    await client.query(`drop database if exists ${name} with (force)`)
  })
}

/** PostgreSQL's version, and its buffers: what a read of a long history finds cached depends on them. */
export async function serverVersion (client: pg.Pool | pg.Client): Promise<string> {
  const { rows } = await client.query<{ version: string }>(`select version() || ', shared_buffers ' || current_setting('shared_buffers') as version`)
  return rows[0]?.version ?? 'unknown'
}

export async function countRows (client: pg.Pool, table: 'versions' | 'transactions' | 'version_refs'): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${table}`)
  return Number(rows[0]?.n ?? 0)
}
