import pg from 'pg'
import { waitUntil } from './http.js'

/** Runs one statement on a connection of its own. */
export async function queryOnce (url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  client.on('error', () => {})
  await client.connect()
  try { return await client.query(sql, params) } finally { await client.end().catch(() => {}) }
}

/**
 * Waits until at least `count` sessions of the database wait for a heavyweight lock.
 * Asked on a fresh connection each time: inside a transaction pg_stat_activity is a
 * snapshot and would never change.
 */
export async function waitForLockWaiters (url: string, count: number, timeoutMs = 15_000): Promise<void> {
  await waitUntil(`${count} sessions waiting for a lock`, timeoutMs, async () => {
    const { rows } = await queryOnce(url,
      "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()")
    return (rows[0] as { n: number }).n >= count
  })
}
