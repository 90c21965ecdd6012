import pg from 'pg'
import { replayed, type CapturedAppend } from './append-capture.js'
import { median } from './ingest-rounds.js'
import { threadSchedule } from './process-cpu.js'
import { removables, type Removable } from './removable-indexes.js'

/*
 * PostgreSQL's own work for one append of the service (append-capture.ts), and what each
 * secondary index and foreign key of `versions` and `transactions` adds to it. The
 * captured statement runs again and again on one connection, replayed in rolled-back
 * transactions: as migrated, without the foreign key, and without every secondary index
 * and the foreign key (dropped for a block of runs, then made again: the bench database is
 * this run's own; what each index costs a row is index-row-costs.ts's). Each run is measured by the backend's CPU time (the kernel's schedstat counter,
 * around the statement alone: a busy machine delays a statement but does not add to its
 * CPU), its wall time, and the WAL it wrote. Variants run in rounds, their order rotating;
 * the figures are medians. One EXPLAIN (ANALYZE, BUFFERS, WAL) of it, with every index,
 * shows where the time goes inside (the run with the median execution time of a few).
 */

export interface AppendVariant {
  label: string
  /** What it goes without (names of indexes and constraints). */
  without: string[]
  /** Medians over the rounds (µs, bytes). Parse and plan included: the statement is sent unprepared. */
  cpuMicros: number
  wallMicros: number
  walBytes: number
  runs: number
}

/** The append as the service runs it: prepared, every index (medians of `runs`). */
export interface PreparedAppendCost { versions: number, cpuMicros: number, wallMicros: number, walBytes: number, runs: number }

export interface AppendExplain {
  /** The statement as the service ran it (its parameters elided), and how many versions it appends. */
  statement: string
  versions: number
  /** EXPLAIN (ANALYZE, BUFFERS, WAL) of it with every index, as text. */
  plan: string
  /** From that plan: planning and execution time, and the triggers' (the foreign key's checks), µs. */
  planningMicros: number
  executionMicros: number
  triggers: Array<{ name: string, calls: number, micros: number }>
  variants: AppendVariant[]
  rounds: number
  /** Prepared, as the service runs it: this append, and one of a single version (what an append costs whatever its size). */
  prepared: PreparedAppendCost[]
}

interface AppendRun { cpuMicros: number, wallMicros: number, walBytes: number }

/** One replay of the captured append, measured; `prepared`: as a named prepared statement, as the service runs it (parsed once, its plan cached). */
async function runOnce (client: pg.Client, backend: number, captured: CapturedAppend, prepared = false): Promise<AppendRun> {
  return await replayed(client, captured, async () => {
    const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn')
    const cpu0 = threadSchedule(backend).cpuMicros
    const t0 = process.hrtime.bigint()
    await client.query(prepared ? { name: `bench_append_${captured.versions}`, text: captured.sql, values: [...captured.parameters] } : { text: captured.sql, values: [...captured.parameters] })
    const wallMicros = Number(process.hrtime.bigint() - t0) / 1000
    const cpuMicros = threadSchedule(backend).cpuMicros - cpu0
    const { rows: wal } = await client.query<{ bytes: string }>('select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint::text as bytes', [rows[0]!.lsn])
    return { cpuMicros, wallMicros, walBytes: Number(wal[0]!.bytes) }
  })
}

/** EXPLAIN (ANALYZE, BUFFERS, WAL) of the captured append with every index, `n` times: the plan with the median execution time. */
async function medianPlan (client: pg.Client, captured: CapturedAppend, n: number): Promise<Pick<AppendExplain, 'plan' | 'planningMicros' | 'executionMicros' | 'triggers'>> {
  const plans: Array<Pick<AppendExplain, 'plan' | 'planningMicros' | 'executionMicros' | 'triggers'>> = []
  for (let i = 0; i < n; i++) {
    const text = await replayed(client, captured, async () =>
      (await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, wal) ${captured.sql}`, [...captured.parameters])).rows.map((r) => r['QUERY PLAN']).join('\n'))
    const time = (name: string): number => 1000 * Number(new RegExp(`^${name} Time: ([\\d.]+) ms`, 'm').exec(text)?.[1] ?? 0)
    const triggers = [...text.matchAll(/^Trigger for constraint (\S+) on (\S+): time=([\d.]+) calls=(\d+)/gm)]
      .map((m) => ({ name: `${m[1]} (on ${m[2]})`, calls: Number(m[4]), micros: 1000 * Number(m[3]) }))
    plans.push({ plan: text, planningMicros: time('Planning'), executionMicros: time('Execution'), triggers })
  }
  plans.sort((a, b) => a.executionMicros - b.executionMicros)
  return plans[Math.floor((plans.length - 1) / 2)]!
}

const RUNS_PER_BLOCK = 10

/** The captured appends run as prepared statements, `runs` times each after 10 unmeasured runs (the plan settles after 5), interleaved. */
async function preparedCosts (client: pg.Client, backend: number, appends: readonly CapturedAppend[], runs: number): Promise<PreparedAppendCost[]> {
  const measured = appends.map(() => [] as AppendRun[])
  for (let i = 0; i < 10; i++) for (const a of appends) await runOnce(client, backend, a, true)
  for (let i = 0; i < runs; i++) for (const [k, a] of appends.entries()) measured[k]!.push(await runOnce(client, backend, a, true))
  return appends.map((a, k) => ({
    versions: a.versions,
    cpuMicros: median(measured[k]!.map((r) => r.cpuMicros)),
    wallMicros: median(measured[k]!.map((r) => r.wallMicros)),
    walBytes: median(measured[k]!.map((r) => r.walBytes)),
    runs
  }))
}

/**
 * The captured append as migrated, without the foreign keys of `versions` and
 * `transactions`, and without any of their secondary indexes and foreign keys: in each of `rounds`
 * rounds, for each variant (their order rotating), what it goes without is dropped, the
 * append runs once unmeasured then RUNS_PER_BLOCK times, and what was dropped is made again.
 * Then it and `single` (an append of one version) as prepared statements, every index.
 */
export async function explainAppend (databaseUrl: string, captured: CapturedAppend, single: CapturedAppend, rounds: number): Promise<AppendExplain> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid
    const all = await removables(client)
    const variants = [
      { label: 'as migrated (every index and constraint)', without: [] as Removable[] },
      ...all.filter((r) => r.kind === 'foreign key').map((r) => ({ label: `without ${r.table}' ${r.kind} ${r.name} (${r.definition})`, without: [r] })),
      { label: `without any secondary index or foreign key (primary keys only: without ${all.map((r) => r.name).join(', ')})`, without: all }
    ]
    const runs = variants.map(() => [] as AppendRun[])
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < variants.length; k++) {
        const i = (k + round) % variants.length
        const v = variants[i]!
        for (const r of v.without) await client.query(r.drop)
        try {
          await runOnce(client, backend, captured) // unmeasured: PostgreSQL reloads what it caches of the tables
          for (let j = 0; j < RUNS_PER_BLOCK; j++) runs[i]!.push(await runOnce(client, backend, captured))
        } finally {
          for (const r of [...v.without].reverse()) await client.query(r.restore)
        }
      }
    }
    const prepared = await preparedCosts(client, backend, [captured, single], rounds * RUNS_PER_BLOCK)
    const med = (i: number, key: keyof AppendRun): number => median(runs[i]!.map((r) => r[key]))
    return {
      statement: captured.sql.replace(/\s+/g, ' ').trim(),
      versions: captured.versions,
      ...await medianPlan(client, captured, 9),
      variants: variants.map((v, i) => ({
        label: v.label, without: v.without.map((r) => r.name), cpuMicros: med(i, 'cpuMicros'), wallMicros: med(i, 'wallMicros'), walBytes: med(i, 'walBytes'), runs: runs[i]!.length
      })),
      rounds,
      prepared
    }
  } finally {
    await client.end()
  }
}
