import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { captureAppend } from './append-capture.js'
import { explainAppend, type AppendExplain } from './append-explain.js'
import { CONNECTIONS } from './config.js'
import { mainThreadProfile, profileOfSamples, readCpuProfile, samplesBetween, stackSortedProfile } from './cpu-profile.js'
import { checkChromium, renderFlameGraph } from './flamegraph.js'
import { measureIndexCosts, type IndexCosts } from './index-costs.js'
import { measureIndexRowCosts, type IndexRowCosts } from './index-row-costs.js'
import { createPool, ingestThroughService, registerTypes, type LoadFigures } from './ingest.js'
import { CEILING_WORKLOADS, UPDATES_POOL_FIRST, UPDATES_POOL_SIZE } from './pgbench-ceiling.js'
import { startCpuWindow, type CpuWindow } from './process-cpu.js'
import { breakdown, type Breakdown } from './profile-categories.js'
import { measureRoundTrips, type RoundTrips } from './round-trips.js'
import type { HttpClient, RunningService } from './service.js'
import { Workload } from './workload.js'

/*
 * `npm run bench -- --only profile`: where the time of one 10-change transaction goes. The
 * service runs under `node --cpu-prof` while CONNECTIONS clients post the updates workload
 * of the pgbench ceiling (10 updates of existing articles per transaction) for
 * PROFILE_SECONDS; its CPU profile, cut to that window, is split by kind of work
 * (profile-categories.ts) and drawn as a flame graph (docs/img/flamegraph.png). In the same
 * window: the CPU of the service, of the PostgreSQL backends serving it and of this process
 * (/proc), and the transactions and rows PostgreSQL counted. Then, the service stopped: the
 * fixed costs (round trips, a commit), PostgreSQL's own work for one append
 * (append-capture.ts, append-explain.ts), what each index costs a row (index-row-costs.ts),
 * and the indexes under concurrency (index-costs.ts).
 */

export const PROFILE_SECONDS = 20
const WARMUP_SECONDS = 5
/** V8's sampling interval (µs); Node's default is 1000. */
const SAMPLING_MICROS = 500
/** Rounds of the append's variants (each round: 10 measured runs of each). */
const EXPLAIN_ROUNDS = 10
const INDEX_ROW_ROUNDS = 7
const INDEX_COST_SECONDS = 5
const INDEX_COST_ROUNDS = 2

export const FIGURE = fileURLToPath(new URL('../docs/img/flamegraph.png', import.meta.url))
export const WINDOW_PROFILE = fileURLToPath(new URL('./results/profile-latest.cpuprofile', import.meta.url))

export interface ProfileFigures {
  workload: string
  changesPerTransaction: number
  clients: number
  /** The measured window: throughput and latency, and who used the CPU. */
  load: LoadFigures
  cpu: CpuWindow
  /** The service's main thread in the window, from its CPU profile. */
  profile: { samplingMicros: number, breakdown: Breakdown, windowProfile: string, figure: string }
  /** What PostgreSQL counted in the window, per HTTP transaction: its transactions (one per statement outside BEGIN … COMMIT) and rows inserted. */
  database: { xactsPerTransaction: number, rowsInsertedPerTransaction: number, rollbacks: number }
  roundTrips: RoundTrips
  explain: AppendExplain
  indexRowCosts: IndexRowCosts
  indexCosts: IndexCosts
}

export interface ProfileTarget {
  /** Started with the Node options of profileNodeArgs(). */
  service: RunningService
  client: HttpClient
  /** A pool on the service's database. */
  pool: pg.Pool
  databaseUrl: string
  adminUrl: string
  profileDir: string
}

/** A folder for the service's CPU profile, and the Node options that make it write one there. */
export function profileNodeArgs (): { profileDir: string, nodeArgs: string[] } {
  checkChromium()
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'rewind-cpu-profile-'))
  return { profileDir, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-interval=${SAMPLING_MICROS}`] }
}

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n)
const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function databaseCounts (pool: pg.Pool): Promise<{ xacts: number, rollbacks: number, inserted: number }> {
  // Backends report their counts at most once a second, and within a second of going idle.
  await pause(1500)
  const { rows } = await pool.query<{ c: string, r: string, i: string }>(
    'select xact_commit::text as c, xact_rollback::text as r, tup_inserted::text as i from pg_stat_database where datname = current_database()')
  return { xacts: Number(rows[0]!.c) + Number(rows[0]!.r), rollbacks: Number(rows[0]!.r), inserted: Number(rows[0]!.i) }
}

async function backendPids (pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()")
  return rows.map((r) => r.pid)
}

export async function measureProfile (target: ProfileTarget, log: (message: string) => void): Promise<ProfileFigures> {
  const { service, client, pool, databaseUrl, adminUrl, profileDir } = target
  const workload = CEILING_WORKLOADS.find((w) => w.name === 'updates')!
  const load = Workload.updates(70_000_000, 7, UPDATES_POOL_FIRST, UPDATES_POOL_SIZE)
  try {
    log(`profile: the service's pool of ${UPDATES_POOL_SIZE} articles, then ${WARMUP_SECONDS} s of warm-up`)
    await registerTypes(client)
    await createPool(client, UPDATES_POOL_FIRST, UPDATES_POOL_SIZE)
    await ingestThroughService(service.url, pool, load, workload.changesPerTransaction, WARMUP_SECONDS, 'warm-up', 'autocannon')

    const pids = await backendPids(pool)
    const before = await databaseCounts(pool)
    log(`profile: ${PROFILE_SECONDS} s of ${workload.changesPerTransaction}-change updates, ${CONNECTIONS} clients, the service under --cpu-prof (${pids.length} PostgreSQL backends)`)
    const from = nowMicros()
    const cpuWindow = startCpuWindow(service.child.pid!, pids)
    const run = await ingestThroughService(service.url, pool, load, workload.changesPerTransaction, PROFILE_SECONDS, 'service (HTTP) under --cpu-prof', 'autocannon')
    const cpu = cpuWindow.stop()
    const to = nowMicros()
    const after = await databaseCounts(pool)
    log(`  ${run.transactions} transactions (${Math.round(run.versionsPerSecond)} versions/s), p50 ${run.latencyP50Ms} ms; load average ${cpu.loadAverage.start.toFixed(1)} → ${cpu.loadAverage.end.toFixed(1)}`)

    log('profile: round trips (PostgreSQL, a commit, HTTP), one client')
    const roundTrips = await measureRoundTrips(databaseUrl, client)
    log('profile: stopping the service (it writes its profile)')
    const pid = service.child.pid!
    await service.stop()
    const cpuProfile = readCpuProfile(mainThreadProfile(profileDir, pid))
    const samples = samplesBetween(cpuProfile, from, to)
    if (samples.length === 0) throw new Error('the CPU profile has no sample in the measured window')
    writeFileSync(WINDOW_PROFILE, JSON.stringify(profileOfSamples(cpuProfile, samples)))
    const sorted = path.join(profileDir, 'stack-sorted.cpuprofile')
    writeFileSync(sorted, JSON.stringify(stackSortedProfile(cpuProfile, samples)))
    log(`profile: rendering the flame graph (${samples.length} samples) into ${FIGURE}`)
    await renderFlameGraph(sorted, FIGURE)

    log(`profile: PostgreSQL's work for one append, prepared and not, with and without the foreign key and the secondary indexes (${EXPLAIN_ROUNDS} rounds)`)
    const appends = [await captureAppend(databaseUrl, load, workload.changesPerTransaction), await captureAppend(databaseUrl, load, 1)] as const
    const explain = await explainAppend(databaseUrl, appends[0], appends[1], EXPLAIN_ROUNDS)
    log(`profile: each index's cost per row (${INDEX_ROW_ROUNDS} rounds of bulk inserts into copies of the tables)`)
    const indexRowCosts = await measureIndexRowCosts(databaseUrl, INDEX_ROW_ROUNDS)
    log(`profile: the indexes under concurrency (pgbench on the service's schema, ${INDEX_COST_ROUNDS} rounds of ${INDEX_COST_SECONDS} s runs)`)
    const indexCosts = await measureIndexCosts(adminUrl, INDEX_COST_SECONDS, INDEX_COST_ROUNDS, log)

    return {
      workload: workload.description,
      changesPerTransaction: workload.changesPerTransaction,
      clients: CONNECTIONS,
      load: run,
      cpu,
      profile: { samplingMicros: SAMPLING_MICROS, breakdown: breakdown(cpuProfile, samples), windowProfile: WINDOW_PROFILE, figure: FIGURE },
      database: {
        xactsPerTransaction: (after.xacts - before.xacts) / run.transactions,
        rowsInsertedPerTransaction: (after.inserted - before.inserted) / run.transactions,
        rollbacks: after.rollbacks - before.rollbacks
      },
      roundTrips,
      explain,
      indexRowCosts,
      indexCosts
    }
  } finally {
    rmSync(profileDir, { recursive: true, force: true })
  }
}
