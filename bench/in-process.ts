import { ephemeralSigner } from '../src/services/signing-key.js'
import { Tenants } from '../src/services/tenants.js'
import { ingestTransaction } from '../src/services/ingest.js'
import { DEFAULT_LATEST_CACHE_BYTES } from '../src/http/app.js'
import { openDatabase } from '../src/store/database.js'
import type { JsonObject } from '../src/versioning/json.js'
import { CONNECTIONS, TENANT } from './config.js'
import { loadFigures, type LoadFigures } from './ingest.js'
import type { Workload } from './workload.js'

/**
 * The service's own write path without HTTP: the same calls the POST /transactions route
 * makes (ingestTransaction), from CONNECTIONS concurrent loops in this process.
 * Set beside the HTTP run and the ceiling, it tells what HTTP and the load generator cost
 * on this machine from what the service's database work costs.
 */
export async function ingestInProcess (databaseUrl: string, workload: Workload, changesPerTransaction: number, seconds: number, label: string): Promise<LoadFigures> {
  const db = await openDatabase({ databaseUrl, poolSize: CONNECTIONS })
  const scope = new Tenants(db, DEFAULT_LATEST_CACHE_BYTES, ephemeralSigner()).context(undefined, TENANT)
  const latencies: number[] = []
  let transactions = 0
  let versions = 0
  let errors = 0
  const start = performance.now()
  const deadline = start + seconds * 1000
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      for (let i = 0; i < 2_000_000 && performance.now() < deadline; i++) {
        const changes = workload.transaction(changesPerTransaction).map((c) => ({ ...c, data: c.data as JsonObject | undefined }))
        const t0 = performance.now()
        try {
          const outcome = await ingestTransaction(scope, { actor: 'bench-in-process', changes }, undefined)
          transactions++
          versions += (outcome.body as { versions: unknown[] }).versions.length
        } catch {
          if (++errors > 100) throw new Error(`${label}: too many errors`)
        }
        latencies.push(performance.now() - t0)
      }
    }))
  } finally {
    await db.destroy()
  }
  return loadFigures(label, changesPerTransaction, start, { transactions, versions, non2xx: 0, errors }, latencies)
}
