import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startThrowawayPostgres, type ThrowawayPostgres } from '../test-slow/helpers/throwaway-postgres.js'
import { median } from './ingest-rounds.js'
import type { HttpClient } from './service.js'
import { allCpus, canPin, childrenOf, commandLine, pinTree, postmasterOf } from './cpu-pinning.js'

/*
 * Capture from PostgreSQL: what capture costs the source, and whether it keeps up. The
 * source is a throwaway cluster with wal_level = logical; pgbench (the C client) updates
 * single rows of a mapped table. Rounds alternate runs without capture (no source, no
 * slot) and with it (a source configured, the service streaming), and compare the
 * source's transactions/s; then fixed rates measure capture's lag: each Rewind transaction's
 * recordedAt minus the source commit time it carries as issuedAt (one clock: one machine).
 *
 * In production the source and Rewind (the service and its own database) run on different
 * machines: what capture costs the source is its walsender decoding and sending changes.
 * On a machine of several CPUs the benchmark keeps them apart as that would: the source
 * cluster and pgbench on CPU 0, the service, its database and this process on the others
 * (taskset). Without that, the service's work would take CPU from the source and the
 * figure would measure the contention of one small machine, not capture.
 */

const PGBENCH = path.join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', 'pgbench')
const ROWS = 10_000
const SOURCE = 'benchsrc'

export interface CaptureRun { label: string, sourceTps: number, recorded?: number, lagP50Ms?: number, lagP99Ms?: number, keptUp?: boolean }
export interface CaptureFigures {
  rounds: Array<{ without: number, with: number, ratio: number }>
  /** Median of the rounds' with/without ratios of the source's transactions/s. */
  ratio: number
  rates: CaptureRun[]
}

/** The CPUs of the source's side (pgbench too) when the two sides are kept apart. */
let sourceCpus: string | undefined

async function pgbench (source: ThrowawayPostgres, script: string, seconds: number, rate?: number): Promise<number> {
  const args = ['-n', '-h', '127.0.0.1', '-p', String(source.port), '-U', 'postgres', '-c', '4', '-j', '2', '-T', String(seconds), '-f', script,
    ...(rate === undefined ? [] : ['-R', String(rate)]), 'postgres']
  const out = await new Promise<string>((resolve, reject) => {
    const [command, argv] = sourceCpus === undefined ? [PGBENCH, args] : ['taskset', ['-c', sourceCpus, PGBENCH, ...args]]
    execFile(command, argv, { timeout: (seconds + 60) * 1000 }, (error, stdout, stderr) => { if (error !== null) reject(new Error(`${error.message}\n${stderr}`)); else resolve(stdout) })
  })
  const tps = /tps = ([\d.]+)/.exec(out)
  if (tps === null) throw new Error(`pgbench printed no tps:\n${out}`)
  return Number(tps[1])
}

/** Waits until the source's position as Rewind stored it reaches `lsn` (false after `ms`). */
async function caughtUp (rewind: pg.Client, lsn: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const { rows } = await rewind.query<{ done: boolean }>('select coalesce(confirmed_lsn::pg_lsn >= $1::pg_lsn, false) as done from capture_sources where name = $2', [lsn, SOURCE])
    if (rows[0]?.done === true) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

/** The lag of the Rewind transactions captured since `since`: p50 and p99 of recordedAt − issuedAt (ms), and their number. */
async function lagSince (rewind: pg.Client, since: Date): Promise<{ n: number, p50: number, p99: number }> {
  const { rows } = await rewind.query<{ n: string, p50: number | null, p99: number | null }>(`
    select count(*) as n,
      percentile_cont(0.5) within group (order by extract(epoch from recorded_at - issued_at) * 1000) as p50,
      percentile_cont(0.99) within group (order by extract(epoch from recorded_at - issued_at) * 1000) as p99
    from transactions where recorded_by->>'source' = $1 and issued_at >= $2`, [SOURCE, since])
  return { n: Number(rows[0]!.n), p50: rows[0]!.p50 ?? 0, p99: rows[0]!.p99 ?? 0 }
}

export async function measureCapture (
  client: HttpClient, rewindUrl: string, rounds: number, seconds: number, log: (message: string) => void
): Promise<CaptureFigures> {
  // synchronous_commit on, as a source database runs: the throwaway's default (off) lets the WAL
  // writer flush every wal_writer_delay (200 ms), and a walsender sends only flushed WAL, so every
  // change would reach capture up to 200 ms late.
  const source = await startThrowawayPostgres({ settings: { wal_level: 'logical', max_replication_slots: 4, max_wal_senders: 4, synchronous_commit: 'on' } })
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-capture-bench-'))
  const rewind = new pg.Client({ connectionString: rewindUrl })
  await rewind.connect()
  const rewindPostmaster = postmasterOf((await rewind.query<{ data_directory: string }>('show data_directory')).rows[0]!.data_directory)
  const pinned = canPin()
  if (pinned) {
    const rest = availableParallelism() > 2 ? `1-${availableParallelism() - 1}` : '1'
    sourceCpus = '0'
    pinTree(postmasterOf(path.join(source.dir, 'data')), sourceCpus)
    pinTree(rewindPostmaster, rest)
    const services = childrenOf(process.pid).filter((pid) => commandLine(pid).includes('server.ts'))
    for (const pid of [process.pid, ...services]) pinTree(pid, rest)
    log(`  the source and pgbench on CPU 0; the service (${services.length === 1 ? 'found' : 'NOT found'}), its database and the bench on CPU ${rest}`)
  } else {
    log('  one CPU (or no taskset): the source and the service share the CPUs, and the figure includes their contention')
  }
  try {
    const admin = new pg.Client({ connectionString: source.url })
    await admin.connect()
    await admin.query(`create table article (id int primary key, title text, views int not null default 0)`)
    await admin.query(`insert into article select i, 'Article ' || i, 0 from generate_series(1, ${ROWS}) i`)
    const script = path.join(dir, 'update.sql')
    writeFileSync(script, `\\set id random(1, ${ROWS})\nupdate article set views = views + 1 where id = :id;\n`)
    const currentLsn = async (): Promise<string> => (await admin.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn
    const capture = async (on: boolean): Promise<void> => {
      if (on) {
        const put = await client.request('PUT', `/capture/sources/${SOURCE}`, { connection: source.url, tables: { 'public.article': { type: 'article' } } })
        if (put.status !== 201 && put.status !== 200) throw new Error(`PUT source: ${put.status} ${JSON.stringify(put.body)}`)
        // Streaming: a first transaction is recorded.
        await admin.query(`update article set views = views + 1 where id = 1`)
        if (!await caughtUp(rewind, await currentLsn(), 30_000)) throw new Error('capture did not start within 30 s')
      } else {
        const del = await client.request('DELETE', `/capture/sources/${SOURCE}?dropSlot=true`)
        if (del.status !== 204 && del.status !== 404) throw new Error(`DELETE source: ${del.status} ${JSON.stringify(del.body)}`)
      }
    }
    // Every row once, so that the runs update entities capture already knows.
    await capture(true)
    await admin.query('update article set views = views')
    if (!await caughtUp(rewind, await currentLsn(), 300_000)) throw new Error('capture did not record the first pass within 5 minutes')

    const figures: CaptureFigures = { rounds: [], ratio: 0, rates: [] }
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? [false, true] : [true, false]
      const tps: Record<string, number> = {}
      for (const on of order) {
        await capture(on)
        tps[on ? 'with' : 'without'] = await pgbench(source, script, seconds)
        if (on && !await caughtUp(rewind, await currentLsn(), 600_000)) throw new Error('capture did not catch up within 10 minutes')
      }
      const entry = { without: tps.without!, with: tps.with!, ratio: tps.with! / tps.without! }
      figures.rounds.push(entry)
      log(`  round ${round}/${rounds}: source ${Math.round(entry.without)} tx/s without capture, ${Math.round(entry.with)} with (${(100 * entry.ratio).toFixed(0)} %)`)
    }
    figures.ratio = median(figures.rounds.map((r) => r.ratio))

    await capture(true)
    for (const rate of [100, 300, 1000]) {
      const since = new Date()
      const sourceTps = await pgbench(source, script, seconds, rate)
      const keptUp = await caughtUp(rewind, await currentLsn(), 2000)
      if (!keptUp) await caughtUp(rewind, await currentLsn(), 600_000)
      const lag = await lagSince(rewind, since)
      const run: CaptureRun = { label: `${rate} tx/s`, sourceTps, recorded: lag.n, lagP50Ms: lag.p50, lagP99Ms: lag.p99, keptUp: keptUp && lag.p99 < 1000 }
      figures.rates.push(run)
      log(`  at ${rate} tx/s: lag p50 ${lag.p50.toFixed(0)} ms, p99 ${lag.p99.toFixed(0)} ms over ${lag.n} transactions${run.keptUp === true ? '' : ' (does not keep up)'}`)
    }
    await capture(false)
    await admin.end()
    return figures
  } finally {
    if (pinned) {
      sourceCpus = undefined
      pinTree(rewindPostmaster, allCpus())
      pinTree(process.pid, allCpus())
    }
    await rewind.end().catch(() => {})
    await source.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}
