import type pg from 'pg'
import { ingestCeiling } from './ceiling.js'
import { ingestThroughService, type LoadFigures } from './ingest.js'
import type { Workload } from './workload.js'

/** Versions/s of every run of one transaction size, round by round. */
export interface IngestRounds {
  changesPerTransaction: number
  service: number[]
  ceiling: number[]
  /** service / ceiling of each round (the runs of a round are back to back). */
  ratios: number[]
  /** The baseline service (BENCH_BASELINE_DIR), when there is one. */
  baseline?: number[]
  /** service / baseline of each round. */
  overBaseline?: number[]
}

export interface InterleavedIngest {
  /** The median run of each size (by versions/s). */
  service: LoadFigures[]
  ceiling: LoadFigures[]
  baseline?: LoadFigures[]
  rounds: IngestRounds[]
}

/** The baseline service (BENCH_BASELINE_DIR): its URL, a pool on its own database (to count what it stored) and its workload. */
export interface BaselineTarget { serviceUrl: string, pool: pg.Pool, load: Workload, label: string }

export interface IngestTarget { serviceUrl: string, databaseUrl: string, pool: pg.Pool, serviceLoad: Workload, ceilingLoad: Workload, baseline?: BaselineTarget }

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

type Contestant = 'baseline' | 'service' | 'ceiling'

/**
 * Measures the service against the Node client of bench/ceiling.ts (`ceiling` here; the
 * ingest ceiling proper is pgbench's, bench/pgbench-ceiling.ts), and against the service
 * of the baseline when `target.baseline` is given, in `rounds` rounds: in each, for each size, one run of each
 * back to back, their order rotating from round to round (so that none always runs first,
 * or right after another). A shared machine drifts (other tenants, growing tables): a ratio
 * taken within a round, and the median over rounds, is steadier than long runs minutes apart.
 */
export async function interleavedIngest (
  target: IngestTarget, sizes: readonly number[], rounds: number, seconds: number, log: (message: string) => void
): Promise<InterleavedIngest> {
  const baseline = target.baseline
  const contestants: Contestant[] = baseline === undefined ? ['service', 'ceiling'] : ['baseline', 'service', 'ceiling']
  const runs = new Map<Contestant, Map<number, LoadFigures[]>>(contestants.map((c) => [c, new Map(sizes.map((n) => [n, []]))]))
  const run = async (who: Contestant, n: number): Promise<LoadFigures> => {
    if (who === 'service') return await ingestThroughService(target.serviceUrl, target.pool, target.serviceLoad, n, seconds, `service (HTTP), ${plural(n)}`)
    if (who === 'ceiling') return await ingestCeiling(target.databaseUrl, target.ceilingLoad, n, seconds, `Node client (pg: BEGIN, locks, 1 statement, COMMIT), ${plural(n)}`)
    return await ingestThroughService(baseline!.serviceUrl, baseline!.pool, baseline!.load, n, seconds, `${baseline!.label}, ${plural(n)}`)
  }
  const versionsPerSecond = (who: Contestant, n: number): number[] => runs.get(who)!.get(n)!.map((f) => f.versionsPerSecond)
  for (let round = 0; round < rounds; round++) {
    const order = [...contestants.slice(round % contestants.length), ...contestants.slice(0, round % contestants.length)]
    for (const n of sizes) {
      for (const who of order) runs.get(who)!.get(n)!.push(await run(who, n))
      const [s, c] = [versionsPerSecond('service', n).at(-1)!, versionsPerSecond('ceiling', n).at(-1)!]
      const b = baseline === undefined ? undefined : versionsPerSecond('baseline', n).at(-1)!
      log(`  round ${round + 1}/${rounds}, ${plural(n)} (${order.join(', ')}): service ${Math.round(s)}, Node client ${Math.round(c)} versions/s (${(100 * s / c).toFixed(0)} %)` +
        (b === undefined ? '' : `; baseline ${Math.round(b)} versions/s (service / baseline ${(100 * s / b).toFixed(0)} %)`))
    }
  }
  const medians = (who: Contestant): LoadFigures[] => sizes.map((n) => medianRun(runs.get(who)!.get(n)!))
  return {
    service: medians('service'),
    ceiling: medians('ceiling'),
    ...(baseline === undefined ? {} : { baseline: medians('baseline') }),
    rounds: sizes.map((n) => {
      const s = versionsPerSecond('service', n)
      const c = versionsPerSecond('ceiling', n)
      const out: IngestRounds = { changesPerTransaction: n, service: s, ceiling: c, ratios: s.map((v, i) => v / c[i]!) }
      if (baseline !== undefined) {
        const b = versionsPerSecond('baseline', n)
        out.baseline = b
        out.overBaseline = s.map((v, i) => v / b[i]!)
      }
      return out
    })
  }
}
