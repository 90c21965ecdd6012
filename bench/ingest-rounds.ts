import type pg from 'pg'
import { ingestCeiling } from './ceiling.js'
import { ingestThroughService, type LoadFigures } from './ingest.js'
import type { Workload } from './workload.js'

/** Versions/s of every run of one transaction size, round by round. */
export interface IngestRounds {
  changesPerTransaction: number
  service: number[]
  ceiling: number[]
  /** service / ceiling of each round (the two runs of a round are back to back). */
  ratios: number[]
}

export interface InterleavedIngest {
  /** The median run of each size (by versions/s). */
  service: LoadFigures[]
  ceiling: LoadFigures[]
  rounds: IngestRounds[]
}

export interface IngestTarget { serviceUrl: string, databaseUrl: string, pool: pg.Pool, serviceLoad: Workload, ceilingLoad: Workload }

/** The middle of odd-length `values` (the lower middle of even-length ones). */
export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0
}

function medianRun (runs: readonly LoadFigures[]): LoadFigures {
  const sorted = [...runs].sort((a, b) => a.versionsPerSecond - b.versionsPerSecond)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const plural = (n: number): string => `${n} change${n > 1 ? 's' : ''}/tx`

/**
 * Measures the service against the ceiling in `rounds` rounds: in each, for each size, one
 * service run and one ceiling run back to back (their order alternating from round to
 * round). A shared machine drifts (other tenants, a growing table): a ratio taken within
 * a round, and the median over rounds, is steadier than two long runs minutes apart.
 */
export async function interleavedIngest (
  target: IngestTarget, sizes: readonly number[], rounds: number, seconds: number, log: (message: string) => void
): Promise<InterleavedIngest> {
  const serviceRuns = new Map<number, LoadFigures[]>(sizes.map((n) => [n, []]))
  const ceilingRuns = new Map<number, LoadFigures[]>(sizes.map((n) => [n, []]))
  const service = async (n: number): Promise<LoadFigures> =>
    await ingestThroughService(target.serviceUrl, target.pool, target.serviceLoad, n, seconds, `service (HTTP), ${plural(n)}`)
  const ceiling = async (n: number): Promise<LoadFigures> =>
    await ingestCeiling(target.databaseUrl, target.ceilingLoad, n, seconds, `ceiling (pg, 1 statement), ${plural(n)}`)
  for (let round = 0; round < rounds; round++) {
    for (const n of sizes) {
      if (round % 2 === 0) {
        serviceRuns.get(n)!.push(await service(n))
        ceilingRuns.get(n)!.push(await ceiling(n))
      } else {
        ceilingRuns.get(n)!.push(await ceiling(n))
        serviceRuns.get(n)!.push(await service(n))
      }
      const s = serviceRuns.get(n)!.at(-1)!.versionsPerSecond
      const c = ceilingRuns.get(n)!.at(-1)!.versionsPerSecond
      log(`  round ${round + 1}/${rounds}, ${plural(n)}: service ${Math.round(s)}, ceiling ${Math.round(c)} versions/s (${(100 * s / c).toFixed(0)} %)`)
    }
  }
  return {
    service: sizes.map((n) => medianRun(serviceRuns.get(n)!)),
    ceiling: sizes.map((n) => medianRun(ceilingRuns.get(n)!)),
    rounds: sizes.map((n) => {
      const s = serviceRuns.get(n)!.map((f) => f.versionsPerSecond)
      const c = ceilingRuns.get(n)!.map((f) => f.versionsPerSecond)
      return { changesPerTransaction: n, service: s, ceiling: c, ratios: s.map((v, i) => v / c[i]!) }
    })
  }
}
