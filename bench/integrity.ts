import { createApiKey } from '../src/services/api-keys.js'
import { openDatabase } from '../src/store/database.js'
import { CONNECTIONS } from './config.js'
import { HttpClient } from './service.js'
import { newArticle } from './workload.js'

/** Checkpoint and verification times over history written through the service (real salts and hashes). */
export interface IntegrityFigures {
  tenant: string
  type: string
  /** Versions written through POST /transactions before the first checkpoint. */
  versions: number
  /** Entities they belong to (each gets about VERSIONS_PER_ENTITY versions): the checkpoint's leaves. */
  entities: number
  changesPerTransaction: number
  clients: number
  seedSeconds: number
  seedVersionsPerSecond: number
  /** POST /integrity/checkpoints over all of them (the tenant's first checkpoint). */
  checkpointSeconds: number
  /** Versions of the one transaction written between the two checkpoints. */
  incrementalVersions: number
  /** POST /integrity/checkpoints after that transaction. */
  incrementalCheckpointSeconds: number
  /** POST /integrity/verify {}: every chain and both checkpoints of the tenant. */
  verifySeconds: number
  versionsChecked: number
  checkpointsChecked: number
  verifyVersionsPerSecond: number
}

/** A tenant of its own: verification covers a whole tenant, and the default one holds seed.ts's placeholder hashes. */
export const INTEGRITY_TENANT = 'integrity'
const TYPE = 'ledger'
const KEY = 'rwd_bench-integrity-admin-key-0123456789abcdefgh'
const CHANGES = 100
const VERSIONS_PER_ENTITY = 10
const LONG_MS = 4 * 3600_000

interface Reply { status: number, body: any }

async function expect (reply: Promise<Reply>, status: number, what: string): Promise<any> {
  const r = await reply
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`)
  return r.body
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9

/**
 * One seeding client's share: entities first..first + entities - 1, written round-robin
 * (every entity's insert, then every entity's first update, …) in transactions of CHANGES
 * consecutive versions. No two clients share an entity, so they never wait on each other's locks.
 */
async function seedShare (client: HttpClient, first: number, entities: number, versions: number): Promise<void> {
  for (let o = 0; o < versions; o += CHANGES) {
    const changes = []
    for (let i = o; i < Math.min(versions, o + CHANGES); i++) {
      const id = first + (i % entities)
      const seq = Math.floor(i / entities)
      changes.push(seq === 0
        ? { type: TYPE, op: 'insert', data: newArticle(id) }
        : { type: TYPE, op: 'update', id: String(id), data: { title: `Ledger ${id} rev ${seq}`, views: seq, status: ['draft', 'review', 'published'][seq % 3] } })
    }
    await expect(client.request('POST', '/transactions', { actor: 'bench-integrity', changes }, LONG_MS), 201, 'seeding the integrity tenant')
  }
}

/**
 * Writes `versions` versions through the service's HTTP API into the tenant "integrity"
 * (CONNECTIONS clients, CHANGES changes per transaction), then times the first checkpoint
 * over them, a second one after one more transaction, and a verification of the tenant,
 * which must answer ok (the bench fails otherwise).
 */
export async function measureIntegrity (databaseUrl: string, port: number, versions: number, log: (message: string) => void): Promise<IntegrityFigures> {
  const db = await openDatabase({ databaseUrl, poolSize: 1 })
  try {
    await createApiKey(db, { tenant: INTEGRITY_TENANT, name: 'bench integrity', scopes: ['admin'], secret: KEY })
  } finally {
    await db.destroy()
  }
  const clients = Array.from({ length: CONNECTIONS }, () => new HttpClient(port, `Bearer ${KEY}`))
  const admin = clients[0]!
  try {
    await expect(admin.request('PUT', `/entity-types/${TYPE}`, {}), 201, `registering ${TYPE}`)
    // Each client's share of the versions and the entities they spread over (the first clients take the remainders).
    const shares = clients.map((_, c) => Math.floor(versions / CONNECTIONS) + (c < versions % CONNECTIONS ? 1 : 0))
    const entityCounts = shares.map((v) => Math.ceil(v / VERSIONS_PER_ENTITY))
    if (Math.min(...entityCounts) < CHANGES) throw new Error(`--versions ${versions} is too small: each client needs at least ${CHANGES} entities`)
    const firsts = entityCounts.map((_, c) => 1 + entityCounts.slice(0, c).reduce((a, b) => a + b, 0))
    const entities = entityCounts.reduce((a, b) => a + b, 0)

    log(`  writing ${versions.toLocaleString('en-US')} versions of ${entities.toLocaleString('en-US')} entities through POST /transactions (${CHANGES} changes/tx, ${CONNECTIONS} clients)`)
    let t0 = process.hrtime.bigint()
    await Promise.all(clients.map(async (client, c) => { await seedShare(client, firsts[c]!, entityCounts[c]!, shares[c]!) }))
    const seedSeconds = seconds(t0)
    log(`  written in ${seedSeconds.toFixed(1)} s (${Math.round(versions / seedSeconds)} versions/s); the first checkpoint`)

    t0 = process.hrtime.bigint()
    const first = await expect(admin.request('POST', '/integrity/checkpoints', undefined, LONG_MS), 201, 'the first checkpoint')
    const checkpointSeconds = seconds(t0)
    if (first.versions !== versions) throw new Error(`the first checkpoint covers ${String(first.versions)} versions, expected ${versions}`)

    // One more transaction: the next version of the first client's first CHANGES entities.
    const nextSeq = Math.floor(shares[0]! / entityCounts[0]!) + 1
    const changes = Array.from({ length: CHANGES }, (_, i) => ({ type: TYPE, op: 'update', id: String(firsts[0]! + i), data: { title: `Ledger ${firsts[0]! + i} rev ${nextSeq}`, views: nextSeq * 1000 } }))
    await expect(admin.request('POST', '/transactions', { actor: 'bench-integrity', changes }), 201, 'the transaction between the checkpoints')
    t0 = process.hrtime.bigint()
    await expect(admin.request('POST', '/integrity/checkpoints', undefined, LONG_MS), 201, 'the incremental checkpoint')
    const incrementalCheckpointSeconds = seconds(t0)
    log(`  checkpoints: first ${checkpointSeconds.toFixed(2)} s, incremental ${incrementalCheckpointSeconds.toFixed(2)} s; verifying`)

    t0 = process.hrtime.bigint()
    const report = await expect(admin.request('POST', '/integrity/verify', {}, LONG_MS), 200, 'verification')
    const verifySeconds = seconds(t0)
    if (report.ok !== true) {
      throw new Error(`VERIFICATION FAILED on history written through the service: ${JSON.stringify(report).slice(0, 2000)}`)
    }
    const total = versions + CHANGES
    if (report.versionsChecked !== total || report.checkpointsChecked !== 2) {
      throw new Error(`verification checked ${String(report.versionsChecked)} versions and ${String(report.checkpointsChecked)} checkpoints, expected ${total} and 2`)
    }
    log(`  verified ${report.versionsChecked} versions in ${verifySeconds.toFixed(1)} s (ok)`)
    return {
      tenant: INTEGRITY_TENANT,
      type: TYPE,
      versions,
      entities,
      changesPerTransaction: CHANGES,
      clients: CONNECTIONS,
      seedSeconds,
      seedVersionsPerSecond: versions / seedSeconds,
      checkpointSeconds,
      incrementalVersions: CHANGES,
      incrementalCheckpointSeconds,
      verifySeconds,
      versionsChecked: report.versionsChecked,
      checkpointsChecked: report.checkpointsChecked,
      verifyVersionsPerSecond: report.versionsChecked / verifySeconds
    }
  } finally {
    for (const client of clients) client.close()
  }
}
