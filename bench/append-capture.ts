import type pg from 'pg'
import { DEFAULT_LATEST_CACHE_BYTES } from '../src/http/app.js'
import { ingestTransaction } from '../src/services/ingest.js'
import { ephemeralSigner } from '../src/services/signing-key.js'
import { Tenants } from '../src/services/tenants.js'
import { openDatabase } from '../src/store/database.js'
import type { JsonObject } from '../src/versioning/json.js'
import { TENANT } from './config.js'
import type { Workload } from './workload.js'

/*
 * The service's own append statement (src/store/append.ts), caught as the service's code
 * runs it in this process for one transaction of a workload, and a way to run it again:
 * inside a transaction that is rolled back, after removing the rows it wrote (as the
 * tables' owner, letting the append-only triggers through as retention does) and setting the
 * entities' heads back, so that it writes what it wrote the first time.
 */

export interface CapturedAppend { sql: string, parameters: readonly unknown[], transactionId: string, versions: number }

/** Records one transaction of `workload` through the service's code in this process; answers its append statement. */
export async function captureAppend (databaseUrl: string, workload: Workload, changes = 10): Promise<CapturedAppend> {
  const appends: Array<{ sql: string, parameters: readonly unknown[] }> = []
  const db = await openDatabase({
    databaseUrl,
    poolSize: 1,
    onQuery: (event) => { if (event.level === 'query' && /^\s*with locked as/.test(event.query.sql)) appends.push(event.query) }
  })
  try {
    const scope = new Tenants(db, DEFAULT_LATEST_CACHE_BYTES, ephemeralSigner()).context(undefined, TENANT)
    const input = workload.transaction(changes).map((c) => ({ ...c, data: c.data as JsonObject | undefined }))
    const outcome = await ingestTransaction(scope, { actor: 'bench-profile', meta: { via: 'explain' }, changes: input }, undefined)
    const body = outcome.body as { transaction: { id: number | string } | null, versions: unknown[] }
    if (appends.length !== 1 || body.transaction === null) throw new Error(`capturing the append: ${appends.length} append statements, transaction ${JSON.stringify(body.transaction)}`)
    return { ...appends[0]!, transactionId: String(body.transaction.id), versions: body.versions.length }
  } finally {
    await db.destroy()
  }
}

/** Runs `work` in a transaction that is rolled back, after removing the captured append's rows. */
export async function replayed<T> (client: pg.Client, captured: CapturedAppend, work: () => Promise<T>): Promise<T> {
  await client.query('begin')
  try {
    // As retention does (migrations/0004_integrity.ts): the append-only triggers let a change through while this is on.
    // (Not session_replication_role: changing it empties PostgreSQL's plan cache, which the append would then rebuild.)
    await client.query("set local rewind.history_change = 'on'")
    await client.query('delete from version_refs where transaction_id = $1', [captured.transactionId])
    await client.query('delete from versions where transaction_id = $1', [captured.transactionId])
    await client.query('delete from transactions where id = $1', [captured.transactionId])
    // Each entity's head goes back to the version the append was planned on (its check compares them).
    await client.query('delete from entity_heads where first_transaction_id = $1', [captured.transactionId])
    await client.query(`update entity_heads h set last_transaction_id = (
        select max(v.transaction_id) from versions v where v.tenant = h.tenant and v.type = h.type and v.entity_key = h.entity_key)
      where h.last_transaction_id = $1`, [captured.transactionId])
    await client.query("set local rewind.history_change = ''")
    return await work()
  } finally {
    await client.query('rollback')
  }
}
