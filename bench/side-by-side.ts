import { readFileSync } from 'node:fs'
import type pg from 'pg'
import { createPool, ingestThroughService } from './ingest.js'
import { median } from './ingest-rounds.js'
import { processCpuMicros } from './process-cpu.js'
import { HttpClient, startService, type RunningService, type StartOptions } from './service.js'
import { Workload } from './workload.js'

/** One service of a side-by-side comparison: how it is started. */
export interface ServiceVariant { label: string, env: Record<string, string>, start?: StartOptions }

/** `--only group-commit`: the settings of GROUP_COMMITS compared, 0 (each write commits alone) first. */
export const GROUP_COMMIT_VARIANTS: ServiceVariant[] = [0, 1, 2, 4].map((n) => ({ label: `GROUP_COMMITS=${n}`, env: { GROUP_COMMITS: String(n) } }))

/**
 * `--only young-generation`: Node's default young generation against the 64 MiB semi-space the
 * start scripts give it, twice each (two services of each kind show how far services alike differ).
 */
export const YOUNG_GENERATION_VARIANTS: ServiceVariant[] = [1, 2].flatMap((n) => [
  { label: `Node's default (${n})`, env: {}, start: { productionFlags: false } },
  { label: `--max-semi-space-size=64 (${n})`, env: {}, start: { productionFlags: false, nodeArgs: ['--max-semi-space-size=64'] } }
])

/** Each variant's pool of articles to update: its own, so that no service's latest-state hints go stale under another's writes. */
const POOL_FIRST = 300_001
const POOL_STRIDE = 10_000
const POOL_SIZE = 1_000

export interface VariantRun {
  label: string
  versionsPerSecond: number
  /** The service's CPU (all its threads) per version written in the run, µs. */
  cpuMicrosPerVersion: number
  latencyP50Ms: number
  latencyP99Ms: number
  commits: number
  transactions: number
}

export interface VariantSummary {
  label: string
  versionsPerSecond: number
  /** Median of the rounds' ratios to the first variant's run. */
  overFirst: number
  cpuMicrosPerVersion: number
  meanBatch: number | null
  latencyP50Ms: number
  latencyP99Ms: number
  /** The service's peak resident memory (VmHWM) at the end, bytes. */
  peakRssBytes: number | null
}

export interface ServiceComparison { variants: VariantSummary[], rounds: VariantRun[][] }

/** The append-batch histogram's count and sum on one service's /metrics. */
async function batches (client: HttpClient): Promise<{ commits: number, transactions: number }> {
  const text = String((await client.request('GET', '/metrics')).body)
  const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? 0)
  return { commits: value('rewind_append_batch_transactions_count'), transactions: value('rewind_append_batch_transactions_sum') }
}

/** A process's peak resident memory (VmHWM), bytes; null once it has ended. */
function peakRss (pid: number | undefined): number | null {
  try {
    const line = readFileSync(`/proc/${String(pid)}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))
    return line === undefined ? null : 1024 * Number(/(\d+)/.exec(line)![1])
  } catch {
    return null
  }
}

/**
 * One service per variant on the bench database, each loaded in turn with the updates
 * workload (10 distinct of its own 1,000 articles per transaction, 8 connections), in rounds
 * whose order rotates; per variant the median versions/s, its ratio to the first variant
 * in the same rounds (median of the rounds' ratios), the service's CPU per version (/proc,
 * all its threads), the mean number of transactions per commit and its peak memory.
 */
export async function compareServices (
  variants: readonly ServiceVariant[], databaseUrl: string, pool: pg.Pool, rounds: number, seconds: number, warmupSeconds: number, log: (message: string) => void
): Promise<ServiceComparison> {
  const services: Array<{ label: string, service: RunningService, client: HttpClient, load: Workload }> = []
  try {
    for (const [i, v] of variants.entries()) {
      log(`side by side: starting a service with ${v.label} and its ${POOL_SIZE} articles`)
      const service = await startService(databaseUrl, v.env, v.start)
      const client = new HttpClient(service.port)
      services.push({ label: v.label, service, client, load: Workload.updates(70_000_000 + i * 1_000_000, 11 + i, POOL_FIRST + i * POOL_STRIDE, POOL_SIZE) })
      await createPool(client, POOL_FIRST + i * POOL_STRIDE, POOL_SIZE)
      await ingestThroughService(service.url, pool, services.at(-1)!.load, 10, warmupSeconds, 'warm-up')
    }
    const all: VariantRun[][] = []
    for (let round = 0; round < rounds; round++) {
      const order = services.map((_, i) => services[(i + round) % services.length]!)
      const runs: VariantRun[] = []
      for (const s of order) {
        const before = await batches(s.client)
        const cpuBefore = processCpuMicros(s.service.child.pid!)
        const figures = await ingestThroughService(s.service.url, pool, s.load, 10, seconds, s.label)
        const cpu = processCpuMicros(s.service.child.pid!) - cpuBefore
        const after = await batches(s.client)
        runs.push({
          label: s.label, versionsPerSecond: figures.versionsPerSecond, cpuMicrosPerVersion: cpu / Math.max(1, figures.versions),
          latencyP50Ms: figures.latencyP50Ms, latencyP99Ms: figures.latencyP99Ms,
          commits: after.commits - before.commits, transactions: after.transactions - before.transactions
        })
      }
      log(`  round ${round + 1}/${rounds}: ${runs.map((r) => `${r.label} ${Math.round(r.versionsPerSecond)} versions/s, ${r.cpuMicrosPerVersion.toFixed(0)} µs CPU per version`).join('; ')}`)
      all.push(runs)
    }
    const of = (runs: VariantRun[], label: string): VariantRun => runs.find((r) => r.label === label)!
    const first = variants[0]!.label
    const summaries = services.map(({ label, service }) => {
      const mine = all.map((runs) => of(runs, label))
      const commits = mine.reduce((n, r) => n + r.commits, 0)
      return {
        label,
        versionsPerSecond: median(mine.map((r) => r.versionsPerSecond)),
        overFirst: median(all.map((runs) => of(runs, label).versionsPerSecond / of(runs, first).versionsPerSecond)),
        cpuMicrosPerVersion: median(mine.map((r) => r.cpuMicrosPerVersion)),
        meanBatch: commits === 0 ? null : mine.reduce((n, r) => n + r.transactions, 0) / commits,
        latencyP50Ms: median(mine.map((r) => r.latencyP50Ms)),
        latencyP99Ms: median(mine.map((r) => r.latencyP99Ms)),
        peakRssBytes: peakRss(service.child.pid)
      }
    })
    return { variants: summaries, rounds: all }
  } finally {
    for (const s of services) {
      s.client.close()
      await s.service.stop().catch(() => {})
    }
  }
}

/** The comparison as a markdown table. */
export function comparisonMarkdown (title: string, c: ServiceComparison, seconds: number): string {
  const lines = [
    `**${title}** (one service per variant on one database, the updates workload: 10 distinct of its own 1,000 articles per transaction, 8 connections; ${c.rounds.length} rounds of ${seconds} s runs, order rotating; medians)`,
    '',
    `| variant | versions/s | / ${c.variants[0]?.label ?? 'the first'} | service CPU µs per version | transactions per commit | p50 ms | p99 ms | peak memory MB |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const v of c.variants) {
    lines.push(`| ${v.label} | ${Math.round(v.versionsPerSecond).toLocaleString('en-US')} | ${(100 * v.overFirst).toFixed(0)} % | ${v.cpuMicrosPerVersion.toFixed(0)} | ` +
      `${v.meanBatch === null ? '—' : v.meanBatch.toFixed(2)} | ${v.latencyP50Ms.toFixed(1)} | ${v.latencyP99Ms.toFixed(1)} | ${v.peakRssBytes === null ? '—' : (v.peakRssBytes / 1e6).toFixed(0)} |`)
  }
  return lines.join('\n')
}
