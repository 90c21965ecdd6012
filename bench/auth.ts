import { createApiKey, KeyRing } from '../src/services/api-keys.js'
import { openDatabase } from '../src/store/database.js'

export interface AuthFigures {
  /** Microseconds of one key check once the key is cached (what nearly every request pays). */
  cachedMicros: number
  /** Microseconds of one check that reads the key from the database (once per key per 500 ms per instance). */
  uncachedMicros: number
}

/**
 * What authentication costs a request: the service's own key check (SHA-256 of the
 * secret and a cache probe; a query when the cached entry is older than its TTL),
 * timed in-process over many calls.
 */
export async function measureKeyCheck (databaseUrl: string): Promise<AuthFigures> {
  const db = await openDatabase({ databaseUrl, poolSize: 1 })
  try {
    const { key } = await createApiKey(db, { tenant: 'bench-auth', name: 'auth bench', scopes: ['read'] })
    const cached = new KeyRing(db, 3_600_000)
    await cached.authenticate(key)
    const n = 200_000
    let t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await cached.authenticate(key)
    const cachedMicros = Number(process.hrtime.bigint() - t0) / 1000 / n
    const uncached = new KeyRing(db, 0)
    const m = 500
    t0 = process.hrtime.bigint()
    for (let i = 0; i < m; i++) await uncached.authenticate(key)
    const uncachedMicros = Number(process.hrtime.bigint() - t0) / 1000 / m
    return { cachedMicros, uncachedMicros }
  } finally {
    await db.destroy()
  }
}
