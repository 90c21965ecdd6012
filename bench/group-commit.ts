import type pg from 'pg'
import { createPool, ingestThroughService, type LoadFigures } from './ingest.js'
import { HttpClient, startService, type RunningService } from './service.js'
import { median } from './ingest-rounds.js'
import { Workload } from './workload.js'

/** The settings of GROUP_COMMITS compared, 0 (each write commits alone) first. */
export const GROUP_COMMIT_SETTINGS = [0, 1, 2, 4] as const

/** Each setting's pool of articles to update: its own, so that no service's latest-state hints go stale under another's writes. */
const POOL_FIRST = 300_001
const POOL_STRIDE = 10_000
const POOL_SIZE = 1_000

export interface GroupCommitRun { setting: number, versionsPerSecond: number, latencyP50Ms: number, latencyP99Ms: number, commits: number, transactions: number }

export interface GroupCommitComparison {
  settings: Array<{ setting: number, versionsPerSecond: number, overNone: number, meanBatch: number | null, latencyP50Ms: number, latencyP99Ms: number }>
  rounds: GroupCommitRun[][]
}

/** The append-batch histogram's count and sum on one service's /metrics. */
async function batches (client: HttpClient): Promise<{ commits: number, transactions: number }> {
  const text = String((await client.request('GET', '/metrics')).body)
  const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? 0)
  return { commits: value('rewind_append_batch_transactions_count'), transactions: value('rewind_append_batch_transactions_sum') }
}

/**
 * `--only group-commit`: one service per GROUP_COMMITS setting on the bench database, each
 * loaded in turn with the updates workload (10 distinct of its own 1,000 articles per
 * transaction, 8 connections), in rounds whose order rotates; per setting the median
 * versions/s, its ratio to the setting 0 of the same rounds (median of the rounds' ratios),
 * and the mean number of transactions per commit.
 */
export async function compareGroupCommits (
  databaseUrl: string, pool: pg.Pool, rounds: number, seconds: number, warmupSeconds: number, log: (message: string) => void
): Promise<GroupCommitComparison> {
  const services: Array<{ setting: number, service: RunningService, client: HttpClient, load: Workload }> = []
  try {
    for (const [i, setting] of GROUP_COMMIT_SETTINGS.entries()) {
      log(`group commit: starting a service with GROUP_COMMITS=${setting} and its ${POOL_SIZE} articles`)
      const service = await startService(databaseUrl, { GROUP_COMMITS: String(setting) })
      const client = new HttpClient(service.port)
      services.push({ setting, service, client, load: Workload.updates(70_000_000 + i * 1_000_000, 11 + i, POOL_FIRST + i * POOL_STRIDE, POOL_SIZE) })
      await createPool(client, POOL_FIRST + i * POOL_STRIDE, POOL_SIZE)
      await ingestThroughService(service.url, pool, services.at(-1)!.load, 10, warmupSeconds, 'warm-up')
    }
    const all: GroupCommitRun[][] = []
    for (let round = 0; round < rounds; round++) {
      const order = services.map((_, i) => services[(i + round) % services.length]!)
      const runs: GroupCommitRun[] = []
      for (const s of order) {
        const before = await batches(s.client)
        const figures: LoadFigures = await ingestThroughService(s.service.url, pool, s.load, 10, seconds, `GROUP_COMMITS=${s.setting}`)
        const after = await batches(s.client)
        runs.push({
          setting: s.setting, versionsPerSecond: figures.versionsPerSecond, latencyP50Ms: figures.latencyP50Ms, latencyP99Ms: figures.latencyP99Ms,
          commits: after.commits - before.commits, transactions: after.transactions - before.transactions
        })
      }
      log(`  round ${round + 1}/${rounds}: ${runs.map((r) => `GROUP_COMMITS=${r.setting} ${Math.round(r.versionsPerSecond)} versions/s`).join(', ')}`)
      all.push(runs)
    }
    const of = (runs: GroupCommitRun[], setting: number): GroupCommitRun => runs.find((r) => r.setting === setting)!
    const settings = GROUP_COMMIT_SETTINGS.map((setting) => {
      const mine = all.map((runs) => of(runs, setting))
      const commits = mine.reduce((n, r) => n + r.commits, 0)
      return {
        setting,
        versionsPerSecond: median(mine.map((r) => r.versionsPerSecond)),
        overNone: median(all.map((runs) => of(runs, setting).versionsPerSecond / of(runs, 0).versionsPerSecond)),
        meanBatch: commits === 0 ? null : mine.reduce((n, r) => n + r.transactions, 0) / commits,
        latencyP50Ms: median(mine.map((r) => r.latencyP50Ms)),
        latencyP99Ms: median(mine.map((r) => r.latencyP99Ms))
      }
    })
    return { settings, rounds: all }
  } finally {
    for (const s of services) {
      s.client.close()
      await s.service.stop().catch(() => {})
    }
  }
}

/** The comparison as a markdown table. */
export function groupCommitMarkdown (c: GroupCommitComparison, seconds: number): string {
  const lines = [
    `**Group commit** (one service per \`GROUP_COMMITS\` setting on one database, the updates workload: 10 distinct of its own 1,000 articles per transaction, 8 connections; ${c.rounds.length} rounds of ${seconds} s runs, order rotating; medians)`,
    '',
    '| `GROUP_COMMITS` | versions/s | / setting 0 | transactions per commit | p50 ms | p99 ms |',
    '|---:|---:|---:|---:|---:|---:|'
  ]
  for (const s of c.settings) {
    lines.push(`| ${s.setting} | ${Math.round(s.versionsPerSecond).toLocaleString('en-US')} | ${(100 * s.overNone).toFixed(0)} % | ${s.meanBatch === null ? '—' : s.meanBatch.toFixed(2)} | ${s.latencyP50Ms.toFixed(1)} | ${s.latencyP99Ms.toFixed(1)} |`)
  }
  return lines.join('\n')
}
