import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import type { Trx } from './database.js'

/** A 64-bit advisory-lock key for one named thing of one tenant. */
function lockKey (tenant: string, name: string): bigint {
  return createHash('sha1').update(`${tenant}\u0000${name}`).digest().readBigInt64BE(0)
}

/**
 * Takes transaction-scoped advisory locks on the named things (entities as
 * `type\0key`), in sorted key order so that two writers can never deadlock on them.
 * Must run inside a database transaction; the locks are released at commit.
 */
export async function lockNames (trx: Trx, tenant: string, names: Iterable<string>): Promise<void> {
  const keys = lockKeys(tenant, names)
  if (keys.length === 0) return
  await sql`select pg_advisory_xact_lock(k)::text from unnest(${keys}::bigint[]) as k`.execute(trx)
}

/** The advisory-lock keys of the named things, unique and in the order they must be taken. */
export function lockKeys (tenant: string, names: Iterable<string>): string[] {
  return [...new Set([...names].map((n) => lockKey(tenant, n)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String)
}

/** Tries the lock on one name without waiting; false when another transaction holds it. */
export async function tryLockName (trx: Trx, tenant: string, name: string): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${String(lockKey(tenant, name))}::bigint) as locked`.execute(trx)
  return rows[0]?.locked === true
}
