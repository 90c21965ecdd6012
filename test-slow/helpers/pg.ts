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
 * A database of its own on the shared instance at `sharedUrl`, named from `prefix`, dropped
 * when `test` ends (sessions still on it forced out): answers its URL.
 */
export async function ownDatabase (test: { teardown: (fn: () => Promise<void>) => void }, sharedUrl: string, prefix: string): Promise<string> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  await queryOnce(sharedUrl, `create database "${name}"`)
  test.teardown(async () => { await queryOnce(sharedUrl, `drop database if exists "${name}" with (force)`) })
  const url = new URL(sharedUrl)
  url.pathname = `/${name}`
  return url.toString()
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
