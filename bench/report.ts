import type { AuthFigures } from './auth.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import type { CaptureFigures } from './capture.js'
import type { Compaction } from './compact.js'
import { CONTESTANT_LABELS, type CeilingComparison } from './ceiling-rounds.js'
import type { LoadFigures } from './ingest.js'
import type { IntegrityFigures } from './integrity.js'
import { median, type IngestRounds } from './ingest-rounds.js'
import type { QueryFigures } from './reads.js'
import type { RelationRevertFigures } from './relation-revert.js'
import type { SchemaFigures } from './schema-reads.js'
import type { SeedLayout } from './seed.js'
import type { StatementCounts } from './statements.js'
import type { StorageFigures } from './storage.js'
import { round } from './stats.js'

export interface Machine {
  cores: number
  cpuModel: string
  totalMemoryBytes: number
  platform: string
  node: string
  postgres: string
  /** 1-minute load average at the start and at the end of the run (other work on the machine skews the figures). */
  loadAverage: { start: number, end: number }
}

export interface ReadSize {
  layout: SeedLayout
  seedSeconds: number
  /** The reads on the history as written (each entity's versions interleaved with the others'). */
  queries: QueryFigures[]
  /**
   * The same reads once the closed partitions were compacted, timed in the same interleaved
   * rounds for every size (`partitions` 0 at a size within its first partition: nothing to
   * compact). Absent when no size had a closed partition.
   */
  compacted?: Compaction & { queries: QueryFigures[] }
}

/** The baseline service (BENCH_BASELINE_DIR, an earlier version), run in the same rounds as the current one. */
export interface BaselineIngest {
  commit: string
  /** The median baseline run of each size. */
  runs: LoadFigures[]
  /** The median over the rounds of current / baseline versions/s, by the label of the current service's runs. */
  currentOverBaseline: Record<string, number>
}

export interface Results {
  profile: string
  startedAt: string
  durationSeconds: number
  machine: Machine
  connections: number
  /**
   * service: the median HTTP run of each size, then the in-process runs; ceiling: the Node
   * client's median runs (the same transactions over `pg`); serviceOverCeiling: the median
   * ratio of the rounds to the Node client.
   */
  ingest: { service: LoadFigures[], ceiling: LoadFigures[], rounds: IngestRounds[], serviceOverCeiling: Record<string, number>, baseline?: BaselineIngest }
  /** The service against the pgbench ceiling, on the minimal schema and on the service's schema. */
  pgbenchCeiling?: CeilingComparison
  integrity?: IntegrityFigures
  statements: StatementCounts
  relationRevert: RelationRevertFigures[]
  reads: { sizes: ReadSize[], p99LargestOverSmallest: Record<string, number>, p99CompactedOverSmallest?: Record<string, number> }
  schema?: SchemaFigures
  storage: StorageFigures[]
  auth: AuthFigures
}

export const READ_P99_TARGET = 1.5
export const STORAGE_TARGET = 2
/** Ingest may be at most this much slower than the baseline (the integrity issue's target, set against the service before integrity). */
export const BASELINE_SLOWDOWN_TARGET = 0.1

export function machine (postgres: string, loadAtStart: number): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    postgres,
    loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 }
  }
}

/** The median service / ceiling ratio over the rounds, by the label of the service's runs. */
export function ingestRatios (service: readonly LoadFigures[], rounds: readonly IngestRounds[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of service) {
    const r = rounds.find((x) => x.changesPerTransaction === s.changesPerTransaction)
    if (r !== undefined && r.ratios.length > 0) out[s.label] = median(r.ratios)
  }
  return out
}

/** The median current / baseline ratio over the rounds, by the label of the current service's runs. */
export function baselineRatios (service: readonly LoadFigures[], rounds: readonly IngestRounds[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of service) {
    const r = rounds.find((x) => x.changesPerTransaction === s.changesPerTransaction)
    if (r?.overBaseline !== undefined && r.overBaseline.length > 0) out[s.label] = median(r.overBaseline)
  }
  return out
}

/** Each size's figures as written, or (`compacted`) those timed after compaction (none if there were none). */
const figuresOf = (s: ReadSize, compacted: boolean): readonly QueryFigures[] => compacted ? s.compacted?.queries ?? [] : s.queries

/**
 * p99 at the largest size over p99 at the smallest, per query: as written, or (`compacted`)
 * in the rounds timed after compaction, if any size had closed partitions.
 */
export function readRatios (sizes: readonly ReadSize[], compacted = false): Record<string, number> {
  const out: Record<string, number> = {}
  const first = sizes[0]
  const last = sizes[sizes.length - 1]
  if (first === undefined || last === undefined) return out
  for (const q of figuresOf(last, compacted)) {
    const base = figuresOf(first, compacted).find((x) => x.name === q.name)
    if (base !== undefined && base.p99Ms > 0) out[q.name] = q.p99Ms / base.p99Ms
  }
  return out
}

/** The lowest and highest of the rounds' own p99 ratios (largest size over smallest, round by round). */
function roundRatios (largest: QueryFigures, smallest: QueryFigures): string {
  const ratios = (largest.passesP99Ms ?? []).map((p, i) => p / (smallest.passesP99Ms?.[i] ?? Number.NaN)).filter(Number.isFinite)
  return ratios.length === 0 ? '–' : `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`
}

const size = (n: number): string => n >= 1_000_000 ? `${round(n / 1_000_000, 1)}M` : n >= 1000 ? `${round(n / 1000, 1)}k` : String(n)
const ms = (v: number): string => v.toFixed(v < 10 ? 2 : 1)
const int = (v: number): string => Math.round(v).toLocaleString('en-US')
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)} %`

export function markdown (r: Results): string {
  const lines: string[] = []
  const m = r.machine
  lines.push(`Machine: ${m.cores} cores (${m.cpuModel}), ${(m.totalMemoryBytes / 1024 ** 3).toFixed(1)} GiB, Node ${m.node}, ${m.postgres.split(' on ')[0] ?? m.postgres}${/, shared_buffers \S+$/.exec(m.postgres)?.[0] ?? ''}; profile ${r.profile}, ${Math.round(r.durationSeconds)} s in all; load average ${m.loadAverage.start.toFixed(1)} at the start, ${m.loadAverage.end.toFixed(1)} at the end.`)
  lines.push('')
  const seconds = r.ingest.service[0]?.seconds
  const rounds = r.ingest.rounds[0]?.ratios.length ?? 0
  if (r.pgbenchCeiling !== undefined) lines.push(ceilingMarkdown(r.pgbenchCeiling), '')
  lines.push(`**Ingest against a Node client** (POST /transactions, ${r.connections} connections, ~${seconds === undefined ? '?' : Math.round(seconds)} s per run; half inserts of new entities, half updates of a pool of existing ones; ` +
    `${rounds} rounds of a service run and a run of the Node client (the same transactions over \`pg\`: BEGIN, sorted advisory locks, one statement, COMMIT)${r.ingest.baseline === undefined ? '' : ' and a run of the baseline service (BENCH_BASELINE_DIR)'} back to back: ` +
    `each HTTP${r.ingest.baseline === undefined ? '' : ', baseline'} and Node client row is the median run, the ratio the median of the rounds' ratios; ` +
    'the ceiling is pgbench\'s, above: this tells what a Node client costs, and the service against it on 1-change transactions)')
  lines.push('')
  lines.push('| run | changes/tx | requests (tx)/s | versions/s | p50 ms | p99 ms | non-2xx | errors |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|')
  const baseline = r.ingest.baseline
  for (const f of [...r.ingest.service, ...r.ingest.ceiling, ...baseline?.runs ?? []]) {
    lines.push(`| ${f.label} | ${f.changesPerTransaction} | ${int(f.transactionsPerSecond)} | ${int(f.versionsPerSecond)} | ${ms(f.latencyP50Ms)} | ${ms(f.latencyP99Ms)} | ${f.non2xx} | ${f.errors} |`)
  }
  for (const [n, ratio] of Object.entries(r.ingest.serviceOverCeiling)) {
    lines.push(`| **service / Node client**, ${n} | | | **${pct(ratio)}** | | | | |`)
  }
  for (const [n, ratio] of Object.entries(baseline?.currentOverBaseline ?? {})) {
    lines.push(`| **service / baseline**, ${n} | | | **${pct(ratio)}**${ratio >= 1 - BASELINE_SLOWDOWN_TARGET ? '' : ' ✗'} | | | | |`)
  }
  lines.push('')
  const perRound = (label: string, pick: (x: IngestRounds) => number[] | undefined): string =>
    `${label} in each round: ${r.ingest.rounds.map((x) => `${x.changesPerTransaction}-change ${(pick(x) ?? []).map(pct).join(', ')}`).join('; ')}.`
  lines.push(perRound('Service / Node client', (x) => x.ratios))
  if (baseline !== undefined) {
    lines.push('')
    lines.push(`Against the baseline service (commit ${baseline.commit}, its own database, the same workload; each round runs the baseline, the service and the Node client back to back, the order rotating; ` +
      `target: at most ${BASELINE_SLOWDOWN_TARGET * 100} % slower): ${perRound('service / baseline', (x) => x.overBaseline)} ` +
      `Baseline versions/s per round: ${r.ingest.rounds.map((x) => `${x.changesPerTransaction}-change ${(x.baseline ?? []).map(int).join(', ')}`).join('; ')}; ` +
      `the service's: ${r.ingest.rounds.map((x) => `${x.changesPerTransaction}-change ${x.service.map(int).join(', ')}`).join('; ')}.`)
  }
  lines.push('')
  const http10 = r.ingest.service.find((f) => f.changesPerTransaction === 10 && f.label.includes('HTTP'))
  const authShare = http10 === undefined ? undefined : r.auth.cachedMicros * http10.transactionsPerSecond / 1e6
  lines.push(`**Authentication** (every request carries an API key): the key check costs ${r.auth.cachedMicros.toFixed(2)} µs per request ` +
    `(SHA-256 of the secret and a cache probe; ${int(r.auth.uncachedMicros)} µs when the key is read from the database, once per key per 500 ms)` +
    (authShare === undefined ? '.' : `: at the 10-change HTTP rate that is ${(authShare * 100).toFixed(2)} % of one core, the most it can take from ingest throughput.`))
  lines.push('')
  const per = Object.entries(r.statements.perTransaction).map(([n, s]) => `${n}: ${round(s, 1)}`).join('; ')
  lines.push(`**SQL statements per POST /transactions** (${r.statements.method}; no BEGIN/COMMIT: each statement commits on its own): ${per}. The Node client and pgbench: 4 (BEGIN, locks, the statement, COMMIT).`)
  if (r.statements.sample !== undefined) lines.push(`Statements: ${r.statements.sample.map((s) => `\`${s}…\``).join(', ')}.`)
  lines.push('')
  lines.push('**Revert with relations** (POST /entities/article/{id}/revert, relations ["comments"]: every child edited since, a tenth deleted, a tenth added; in-process, PostgreSQL)')
  lines.push('')
  lines.push('| children | changes | ms | SQL statements |')
  lines.push('|---:|---:|---:|---:|')
  for (const f of r.relationRevert) lines.push(`| ${int(f.children)} | ${int(f.changes)} | ${ms(f.ms)} | ${f.statements} |`)
  lines.push('')
  lines.push(...readsMarkdown(r.reads.sizes))
  lines.push(`**Storage** (versions with its indexes + version_refs, after VACUUM; target ≤ ${STORAGE_TARGET}× the JSON payload)`)
  lines.push('')
  lines.push('| data | versions | versions table | of it indexes | version_refs | bytes/version | JSON payload bytes/version | ratio |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const s of r.storage) {
    lines.push(`| ${s.label} | ${int(s.versions)} | ${mb(s.versionsBytes)} | ${mb(s.versionsIndexBytes)} | ${mb(s.refsBytes)} | ${int(s.bytesPerVersion)} | ${int(s.payloadBytes)} | ${s.ratio.toFixed(2)}${s.ratio <= STORAGE_TARGET ? '' : ' ✗'} |`)
  }
  if (r.integrity !== undefined) lines.push('', integrityMarkdown(r.integrity))
  if (r.schema !== undefined) lines.push('', schemaMarkdown(r.schema))
  return lines.join('\n')
}

/** The integrity step's figures (also the whole table of `--only integrity`). */
/** A p99 ratio against the target (✗: missed). */
const ratioCell = (ratio: number | undefined): string => ratio === undefined ? '–' : `${ratio.toFixed(2)}${ratio <= READ_P99_TARGET ? '' : ' ✗'}`

/** How the reads were timed (the first size's first query tells). */
function readsProtocol (sizes: readonly ReadSize[]): string {
  const q = sizes[0]?.queries[0]
  const rounds = q?.passesP99Ms?.length ?? 1
  const perRound = Math.round((q?.requests ?? 0) / rounds)
  return `hot entity; ${rounds} rounds, each timing every size in turn (${perRound} sequential requests per size and query on one keep-alive connection), ` +
    `the sizes taking turns at going first; p50 / p99 ms over all ${q?.requests ?? 0} requests of a cell`
}

/** A table of the reads per size (as written, or `compacted`), with the p99 ratio of the largest size to the smallest, pooled and round by round. */
function readsTable (sizes: readonly ReadSize[], compacted: boolean): string[] {
  const first = sizes[0]!
  const last = sizes[sizes.length - 1]!
  const ratios = readRatios(sizes, compacted)
  const column = (s: ReadSize): string => compacted
    ? `${size(s.layout.total)} versions, ${s.compacted!.partitions === 0 ? 'nothing to compact' : 'compacted'}`
    : `${size(s.layout.total)} versions (hot: ${size(s.layout.hotVersions)})`
  const lines = [
    `| query | ${sizes.map(column).join(' | ')} | p99 ${size(last.layout.total)} / ${size(first.layout.total)} (target ≤ ${READ_P99_TARGET}) | the rounds' own p99 ratios |`,
    `|---|${sizes.map(() => '---:').join('|')}|---:|---:|`
  ]
  for (const [i, q] of figuresOf(first, compacted).entries()) {
    const cells = sizes.map((s) => { const f = figuresOf(s, compacted)[i]!; return `${ms(f.p50Ms)} / ${ms(f.p99Ms)}` })
    lines.push(`| ${q.name} | ${cells.join(' | ')} | ${ratioCell(ratios[q.name])} | ${roundRatios(figuresOf(last, compacted)[i]!, q)} |`)
  }
  return lines
}

/** The reads tables: each query's p50 / p99 per history size as written, and again once compacted, if it was. */
export function readsMarkdown (sizes: readonly ReadSize[]): string[] {
  if (sizes.length === 0) return []
  const lines = [`**Reads** (${readsProtocol(sizes)})`, '', ...readsTable(sizes, false)]
  lines.push(`| seed time (bulk SQL) | ${sizes.map((s) => `${round(s.seedSeconds, 1)} s`).join(' | ')} | | |`, '')
  if (sizes.some((s) => s.compacted !== undefined)) {
    lines.push('**The same reads with the closed partitions compacted** (rewritten in entity order: `rewind partitions compact --closed`; the same protocol)', '')
    lines.push(...readsTable(sizes, true))
    lines.push(`| compaction | ${sizes.map((s) => s.compacted!.partitions === 0 ? '–' : `${s.compacted!.partitions} partitions, ${size(s.compacted!.versions)} versions, ${round(s.compacted!.seconds, 1)} s`).join(' | ')} | | |`, '')
  }
  return lines
}

export function integrityMarkdown (f: IntegrityFigures): string {
  return [
    `**Integrity** (tenant "${f.tenant}": ${int(f.versions)} versions of ${int(f.entities)} entities written through POST /transactions, ` +
      `${f.changesPerTransaction} changes/tx, ${f.clients} clients, so that they carry real salts and hashes)`,
    '',
    '| step | seconds | versions/s |',
    '|---|---:|---:|',
    `| writing ${size(f.versions)} versions (hashed at ingest) | ${round(f.seedSeconds, 1)} | ${int(f.seedVersionsPerSecond)} |`,
    `| first checkpoint (POST /integrity/checkpoints; ${int(f.entities)} heads) | ${ms(f.checkpointSeconds)} | ${int(f.versions / f.checkpointSeconds)} |`,
    `| incremental checkpoint (after one transaction of ${f.incrementalVersions} versions) | ${ms(f.incrementalCheckpointSeconds)} | |`,
    `| verify (POST /integrity/verify: ${int(f.versionsChecked)} versions, ${f.checkpointsChecked} checkpoints; ok) | ${ms(f.verifySeconds)} | ${int(f.verifyVersionsPerSecond)} |`
  ].join('\n')
}

/** The schema step's figures (also the whole table of `--only schema`). */
export function schemaMarkdown (f: SchemaFigures): string {
  const cell = (q: QueryFigures): string => `${ms(q.p50Ms)} / ${ms(q.p99Ms)}`
  return [
    `**Reads across schema migrations** ("${f.type}": ${int(f.entities)} entities × ${f.versionsPerEntity} versions written through POST /transactions in ${round(f.writeSeconds, 1)} s, ` +
      `${f.changesPerTransaction} changes/tx, ${f.clients} clients; then ${f.migrations} migrations of single renames, adds and drops in ${round(f.migrateSeconds, 1)} s, which every stored version reads through; ` +
      `random entities and versions, ${f.before[0]?.passesP99Ms?.length ?? 1} rounds of sequential requests on one keep-alive connection; p50 / p99 ms over all ${f.before[0]?.requests ?? 0} requests of a cell)`,
    '',
    `| query | after 0 migrations | after ${f.migrations} migrations | p50 ${f.migrations} / p50 0 |`,
    '|---|---:|---:|---:|',
    ...f.before.map((q, i) => `| ${q.name} | ${cell(q)} | ${cell(f.after[i]!)} | ${(f.p50AfterOverBefore[q.name] ?? 0).toFixed(2)} |`)
  ].join('\n')
}

export function captureMarkdown (f: CaptureFigures): string {
  return [
    `**Capture from PostgreSQL** (pgbench on a throwaway source cluster, 4 clients, single-row updates of 10,000 rows; rounds alternate runs without capture (no slot) and with it)`,
    '',
    '| round | source tx/s without capture | with capture | ratio |',
    '|---|---:|---:|---:|',
    ...f.rounds.map((r, i) => `| ${i + 1} | ${int(r.without)} | ${int(r.with)} | ${(100 * r.ratio).toFixed(0)} % |`),
    `| median | | | ${(100 * f.ratio).toFixed(0)} % |`,
    '',
    '| source rate | source tx/s | captured | lag p50 / p99 ms | keeps up (p99 < 1 s) |',
    '|---|---:|---:|---:|---|',
    ...f.rates.map((r) => `| ${r.label} | ${int(r.sourceTps)} | ${int(r.recorded ?? 0)} | ${ms(r.lagP50Ms ?? 0)} / ${ms(r.lagP99Ms ?? 0)} | ${r.keptUp === true ? 'yes' : 'no'} |`)
  ].join('\n')
}

/** Writes bench/results/`name` (with the markdown table) and answers its path. */
export function writeJson (name: string, body: object, table: string): string {
  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  const file = `${dir}${name}`
  writeFileSync(file, `${JSON.stringify({ ...body, table }, null, 2)}\n`)
  return file
}

export const writeResults = (r: Results): string => writeJson('latest.json', r, markdown(r))

/** `--only ingest`: each size's median runs and the ratios of every round. */
export function ingestRoundsMarkdown (ingest: { service: LoadFigures[], ceiling: LoadFigures[], baseline?: LoadFigures[], rounds: IngestRounds[] }): string {
  const lines = ['| run | changes/tx | versions/s | p50 ms | p99 ms |', '|---|---:|---:|---:|---:|']
  for (const f of [...ingest.service, ...ingest.ceiling, ...ingest.baseline ?? []]) {
    lines.push(`| ${f.label} | ${f.changesPerTransaction} | ${int(f.versionsPerSecond)} | ${ms(f.latencyP50Ms)} | ${ms(f.latencyP99Ms)} |`)
  }
  lines.push('')
  for (const x of ingest.rounds) {
    lines.push(`${x.changesPerTransaction}-change: service / Node client ${x.ratios.map(pct).join(', ')} (median ${pct(median(x.ratios))})` +
      (x.overBaseline === undefined ? '' : `; service / baseline ${x.overBaseline.map(pct).join(', ')} (median ${pct(median(x.overBaseline))})`))
  }
  return lines.join('\n')
}

/** The service against the pgbench ceiling (also the whole table of `--only ceiling`). */
export function ceilingMarkdown (c: CeilingComparison): string {
  const lines: string[] = []
  lines.push(`**Ingest against the pgbench ceiling** (pgbench ${/\d+(\.\d+)+/.exec(c.pgbench)?.[0] ?? ''}: the C client, \`-M prepared\`, ${c.clients} clients; per transaction BEGIN, ` +
    'one statement that draws 10 distinct entities and takes their advisory locks in key order, one statement that reads their latest versions and appends ' +
    'the transaction and the versions, COMMIT; on a minimal schema (primary keys only) and on the service\'s schema (its migrations: indexes, foreign key, checks). ' +
    `The service: POST /transactions over HTTP, ${c.clients} keep-alive connections (${c.loadGenerator === 'wrk' ? 'wrk, a C client' : 'autocannon, in the bench\'s process'}). ${c.rounds} rounds of ${c.seconds} s runs, the three runs of a workload back to back, ` +
    'their order rotating; versions/s of the median runs, ratios the median of the rounds\' ratios)')
  lines.push('')
  lines.push('| workload | pgbench, minimal schema | pgbench, service\'s schema | service (HTTP) | service / minimal | service / service\'s schema | service\'s schema / minimal |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|')
  for (const w of c.workloads) {
    lines.push(`| ${w.description}, ${w.changesPerTransaction} changes/tx | ${int(w.medians.minimal.versionsPerSecond)} | ${int(w.medians.serviceSchema.versionsPerSecond)} | ` +
      `${int(w.medians.service.versionsPerSecond)} | **${pct(w.ratios.serviceOverMinimal)}** | **${pct(w.ratios.serviceOverServiceSchema)}** | ${pct(w.ratios.serviceSchemaOverMinimal)} |`)
  }
  lines.push('')
  lines.push('| workload, round (order) | minimal | service\'s schema | service | service / minimal | service / service\'s schema |')
  lines.push('|---|---:|---:|---:|---:|---:|')
  const short: Record<string, string> = { minimal: 'minimal', serviceSchema: 'service\'s schema', service: 'service' }
  for (const w of c.workloads) {
    w.rounds.forEach((r, i) => {
      const ratio = w.roundRatios[i]!
      lines.push(`| ${w.workload}, ${i + 1} (${r.order.map((o) => short[o]).join(', ')}) | ${int(r.minimal)} | ${int(r.serviceSchema)} | ${int(r.service)} | ${pct(ratio.serviceOverMinimal)} | ${pct(ratio.serviceOverServiceSchema)} |`)
    })
  }
  lines.push('')
  lines.push('| median run | versions/s | tx/s | p50 ms | p99 ms | failed / non-2xx | errors |')
  lines.push('|---|---:|---:|---:|---:|---:|---:|')
  for (const w of c.workloads) {
    for (const who of ['minimal', 'serviceSchema', 'service'] as const) {
      const f = w.medians[who]
      lines.push(`| ${CONTESTANT_LABELS[who]}, ${w.workload} | ${int(f.versionsPerSecond)} | ${int(f.transactionsPerSecond)} | ${ms(f.latencyP50Ms)} | ${ms(f.latencyP99Ms)} | ${f.non2xx} | ${f.errors} |`)
    }
  }
  return lines.join('\n')
}
