import pg from 'pg'
import { compactClosedPartitions, type Compaction } from './compact.js'
import { BENCH_DATABASE } from './config.js'
import { createBenchDatabase, dropBenchDatabase } from './db.js'
import { registerTypes } from './ingest.js'
import { layoutFor, seed, type SeedLayout } from './seed.js'
import { HttpClient, startService, type RunningService } from './service.js'
import { measureStorage, type StorageFigures } from './storage.js'

/** One seeded history size of the reads step, in a database of its own behind a service of its own. */
export interface History {
  layout: SeedLayout
  database: string
  databaseUrl: string
  seedSeconds: number
  storage: StorageFigures
  client: HttpClient
}

/** What a history holds open, closed (and its database dropped) by `close`, seeded or not. */
interface Resources { database: string, pool: pg.Pool, service: RunningService, client: HttpClient }

/**
 * The read sizes' histories, all held at once, so that the reads step can time them in
 * interleaved rounds (bench/reads.ts) instead of one size after the other: each in its own
 * database (`<bench database>_reads_<size>`), seeded in bulk, behind its own service.
 */
export class ReadHistories {
  private readonly resources: Resources[] = []
  private readonly seeded: History[] = []

  constructor (private readonly adminUrl: string, private readonly log: (message: string) => void) {}

  /** The seeded histories, in the order they were added. */
  get histories (): readonly History[] { return this.seeded }

  /** Creates the database of `requested` versions, starts its service, registers the types and seeds the history. */
  async add (requested: number): Promise<History> {
    const layout = layoutFor(requested)
    const database = `${BENCH_DATABASE}_reads_${requested}`
    const databaseUrl = await createBenchDatabase(this.adminUrl, database)
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
    pool.on('error', () => {})
    const service = await startService(databaseUrl).catch(async (error: unknown) => {
      // Nothing holds it yet for close() to drop: dropped here, unless kept to look at.
      await pool.end()
      if (process.env.BENCH_KEEP_DATABASE !== '1') await dropBenchDatabase(this.adminUrl, database).catch(() => {})
      throw error
    })
    const client = new HttpClient(service.port)
    this.resources.push({ database, pool, service, client })
    await registerTypes(client)
    this.log(`seeding ${layout.total} versions (hot entity: ${layout.hotVersions}) in ${database}`)
    const t0 = Date.now()
    await seed(pool, layout)
    const seedSeconds = (Date.now() - t0) / 1000
    this.log(`  seeded in ${seedSeconds.toFixed(1)} s`)
    const storage = await measureStorage(pool, `seeded, ${layout.total.toLocaleString('en-US')} versions`)
    const history: History = { layout, database, databaseUrl, seedSeconds, storage, client }
    this.seeded.push(history)
    return history
  }

  /** Compacts each history's closed partitions, as an operator would (docs/partitions.md); undefined where it has none. */
  async compact (): Promise<Array<Compaction | undefined>> {
    const done: Array<Compaction | undefined> = []
    for (const h of this.seeded) {
      const compaction = await compactClosedPartitions(h.databaseUrl)
      if (compaction !== undefined) this.log(`  ${h.database}: compacted ${compaction.partitions} closed partitions (${compaction.versions} versions) in ${compaction.seconds.toFixed(1)} s`)
      done.push(compaction)
    }
    return done
  }

  /** Stops the services and closes the pools; drops the databases unless `keep`. */
  async close (keep: boolean): Promise<void> {
    this.seeded.splice(0)
    for (const h of this.resources.splice(0)) {
      h.client.close()
      await h.service.stop().catch((e: unknown) => { this.log(`stopping ${h.database}'s service: ${String(e)}`) })
      await h.pool.end().catch(() => {})
      if (keep) this.log(`kept the database ${h.database}`)
      else await dropBenchDatabase(this.adminUrl, h.database).catch((e: unknown) => { this.log(`dropping ${h.database}: ${String(e)}`) })
    }
  }
}
