import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { BASELINE_DATABASE } from './config.js'
import { createBenchDatabase, dropBenchDatabase } from './db.js'
import { createPool, registerTypes } from './ingest.js'
import type { BaselineTarget } from './ingest-rounds.js'
import { HttpClient, startService, type RunningService } from './service.js'
import { Workload } from './workload.js'

/**
 * An earlier version of the service, for the ingest comparison: BENCH_BASELINE_DIR names a
 * checkout of it (e.g. `git worktree add /tmp/rewind-baseline 38b2be0`, with a
 * node_modules link), run from there on a bench database of its own, set up as the
 * current service's (the same types, the same pool of updated articles, the same workload).
 */
export class Baseline {
  private service: RunningService | undefined
  private pool: pg.Pool | undefined
  private created = false

  private constructor (readonly dir: string, readonly commit: string, private readonly adminUrl: string) {}

  /** The checkout BENCH_BASELINE_DIR names, or undefined when it is unset (no baseline). */
  static fromEnvironment (adminUrl: string): Baseline | undefined {
    const dir = process.env.BENCH_BASELINE_DIR
    if (dir === undefined || dir === '') return undefined
    const root = path.resolve(dir)
    if (!existsSync(path.join(root, 'src', 'server.ts'))) throw new Error(`BENCH_BASELINE_DIR=${dir} holds no src/server.ts`)
    if (!existsSync(path.join(root, 'node_modules'))) throw new Error(`BENCH_BASELINE_DIR=${dir} has no node_modules (link this checkout's)`)
    let commit = 'unknown'
    try { commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim() } catch { /* not a git checkout */ }
    return new Baseline(root, commit, adminUrl)
  }

  get label (): string { return `baseline ${this.commit} (HTTP)` }

  /** Creates its database, starts it, registers the types and creates the pool of articles its updates pick from (ids from `poolFirst`). */
  async start (poolFirst: number): Promise<BaselineTarget> {
    const databaseUrl = await createBenchDatabase(this.adminUrl, BASELINE_DATABASE)
    this.created = true
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
    this.pool.on('error', () => {})
    this.service = await startService(databaseUrl, {}, { cwd: this.dir })
    const client = new HttpClient(this.service.port)
    try {
      await registerTypes(client)
      await createPool(client, poolFirst)
    } finally {
      client.close()
    }
    // The same stream of transactions as the current service's (a database of its own: the same ids are new there too).
    return { serviceUrl: this.service.url, pool: this.pool, load: new Workload(1_000_000, 1), label: this.label }
  }

  /** Stops it and drops its database (whatever of it was started). */
  async close (): Promise<void> {
    const { service, pool, created } = this
    this.service = undefined
    this.pool = undefined
    this.created = false
    await service?.stop()
    await pool?.end().catch(() => {})
    if (created) await dropBenchDatabase(this.adminUrl, BASELINE_DATABASE)
  }
}
