import { hash } from 'node:crypto'
import { sql, type RawBuilder } from 'kysely'
import type { Trx } from './database.js'

/** A 64-bit advisory-lock key for one named thing of one tenant. */
function lockKey (tenant: string, name: string): bigint {
  return BigInt.asIntN(64, BigInt(`0x${hash('sha1', `${tenant}\u0000${name}`, 'hex').slice(0, 16)}`))
}

/**
 * Writers to more entities than this take their tenant's writer lock exclusively instead
 * of one lock per entity: PostgreSQL's lock table holds about 64 locks per connection
 * (max_locks_per_transaction), so a transaction of 10,000 entities must not take 10,000.
 * Every other writer holds the tenant's writer lock shared, then its entities' locks.
 */
export const MAX_ENTITY_LOCKS = 64

const tenantLockKey = (tenant: string): string => String(lockKey(tenant, '\u0000writers'))

/** How a database transaction holds its tenant's writer lock, once it took it. */
const held = new WeakMap<Trx, 'shared' | 'exclusive'>()

/** The advisory-lock keys of the named things, unique and in the order they must be taken. */
export function lockKeys (tenant: string, names: Iterable<string>): string[] {
  return [...new Set([...names].map((n) => lockKey(tenant, n)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String)
}

/**
 * A query that takes the locks a write to the entities `refs` (`type\0key`) needs, in an
 * order no two writers can deadlock on: the tenant's writer lock (shared, or exclusive
 * past MAX_ENTITY_LOCKS entities), then each entity's lock by sorted key. It answers one
 * row; appendTransaction runs it inside its own statement.
 */
export function entityLocksQuery (tenant: string, refs: Iterable<string>): RawBuilder<{ n: string }> {
  const keys = lockKeys(tenant, refs)
  if (keys.length > MAX_ENTITY_LOCKS) return sql`select pg_advisory_xact_lock(${tenantLockKey(tenant)}::bigint)::text as n`
  return sql`select count(*)::text as n from (
    select pg_advisory_xact_lock_shared(${tenantLockKey(tenant)}::bigint)
    union all select pg_advisory_xact_lock(k) from unnest(${keys}::bigint[]) as k) as l`
}

/**
 * Locks the entities `refs` for the rest of the database transaction (see
 * entityLocksQuery). A transaction that holds its tenant's writer lock exclusively takes
 * no more locks; one that holds it shared takes its entities' locks.
 */
export async function lockEntities (trx: Trx, tenant: string, refs: Iterable<string>): Promise<void> {
  const mode = held.get(trx)
  if (mode === 'exclusive') return
  const keys = lockKeys(tenant, refs)
  if (mode === undefined && keys.length > MAX_ENTITY_LOCKS) {
    await lockTenantWriters(trx, tenant)
  } else if (mode === undefined) {
    await entityLocksQuery(tenant, refs).execute(trx)
    held.set(trx, 'shared')
  } else if (keys.length > 0) {
    await sql`select pg_advisory_xact_lock(k)::text from unnest(${keys}::bigint[]) as k`.execute(trx)
  }
}

/**
 * Takes the tenant's writer lock exclusively: no other write of the tenant runs until the
 * transaction ends. For writes whose entities are found in stages and may be many (a
 * revert with relations); must be the transaction's first entity lock.
 */
export async function lockTenantWriters (trx: Trx, tenant: string): Promise<void> {
  const mode = held.get(trx)
  if (mode === 'exclusive') return
  if (mode === 'shared') throw new Error('the tenant writer lock cannot be upgraded: take it before any entity lock')
  await sql`select pg_advisory_xact_lock(${tenantLockKey(tenant)}::bigint)::text`.execute(trx)
  held.set(trx, 'exclusive')
}

/**
 * Takes transaction-scoped advisory locks on named things that are not entities (a
 * tenant's type definitions, the first key), in sorted key order. Released at commit.
 */
export async function lockNames (trx: Trx, tenant: string, names: Iterable<string>): Promise<void> {
  const keys = lockKeys(tenant, names)
  if (keys.length === 0) return
  await sql`select pg_advisory_xact_lock(k)::text from unnest(${keys}::bigint[]) as k`.execute(trx)
}

/** Tries the lock on one name without waiting; false when another transaction holds it. */
export async function tryLockName (trx: Trx, tenant: string, name: string): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${String(lockKey(tenant, name))}::bigint) as locked`.execute(trx)
  return rows[0]?.locked === true
}
