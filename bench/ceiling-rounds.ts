import type pg from 'pg'
import { CONNECTIONS } from './config.js'
import { defaultLoadGenerator, ingestThroughService, type LoadFigures, type LoadGenerator } from './ingest.js'
import { median } from './ingest-rounds.js'
import type { CeilingWorkload, CeilingWorkloadName, PgbenchCeiling } from './pgbench-ceiling.js'
import type { Workload } from './workload.js'

export type CeilingContestant = 'minimal' | 'serviceSchema' | 'service'
const CONTESTANTS: readonly CeilingContestant[] = ['minimal', 'serviceSchema', 'service']

export const CONTESTANT_LABELS: Record<CeilingContestant, string> = {
  minimal: 'pgbench, minimal schema',
  serviceSchema: 'pgbench, service\'s schema',
  service: 'service (HTTP)'
}

/** One round of one workload: versions/s of each run, in the order they ran (back to back). */
export interface CeilingRound { order: CeilingContestant[], minimal: number, serviceSchema: number, service: number }

export interface CeilingRatios {
  serviceOverMinimal: number
  serviceOverServiceSchema: number
  serviceSchemaOverMinimal: number
}

export interface CeilingWorkloadFigures {
  workload: CeilingWorkloadName
  description: string
  changesPerTransaction: number
  rounds: CeilingRound[]
  /** Every run of each contestant, round by round. */
  runs: Record<CeilingContestant, LoadFigures[]>
  /** The median run of each contestant (by versions/s). */
  medians: Record<CeilingContestant, LoadFigures>
  /** The ratios of each round (runs back to back). */
  roundRatios: CeilingRatios[]
  /** The median over the rounds of each ratio. */
  ratios: CeilingRatios
}

/** The service against pgbench on the minimal schema and on the service's schema (bench/pgbench-ceiling.ts). */
export interface CeilingComparison {
  pgbench: string
  /** What drove the service (bench/ingest.ts). */
  loadGenerator: LoadGenerator
  clients: number
  seconds: number
  rounds: number
  /** The pgbench script of each workload, as run. */
  scripts: Record<CeilingWorkloadName, string>
  /** The constraints, indexes and triggers of the two schemas' tables. */
  schemas: { minimal: string[], serviceSchema: string[] }
  workloads: CeilingWorkloadFigures[]
}

export interface CeilingTarget {
  ceiling: PgbenchCeiling
  serviceUrl: string
  /** A pool on the service's database (to count what it stored, and to ANALYZE it). */
  pool: pg.Pool
  /** The service's load of each workload (the same shape as pgbench's). */
  loads: Record<CeilingWorkloadName, Workload>
  workloads: readonly CeilingWorkload[]
}

function medianRun (runs: readonly LoadFigures[]): LoadFigures {
  const sorted = [...runs].sort((a, b) => a.versionsPerSecond - b.versionsPerSecond)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const ratiosOf = (r: { minimal: number, serviceSchema: number, service: number }): CeilingRatios => ({
  serviceOverMinimal: r.service / r.minimal,
  serviceOverServiceSchema: r.service / r.serviceSchema,
  serviceSchemaOverMinimal: r.serviceSchema / r.minimal
})

const pct = (ratio: number): string => `${(100 * ratio).toFixed(0)} %`

/**
 * Warms each contestant up on each workload (`warmupSeconds` runs), ANALYZEs the three
 * databases, then measures `rounds` rounds: in each, for each workload, one run of each
 * contestant back to back, their order rotating from round to round. The machine is
 * shared: only ratios within a round, and medians over rounds, compare.
 */
export async function interleavedCeiling (
  target: CeilingTarget, rounds: number, seconds: number, warmupSeconds: number, log: (message: string) => void
): Promise<CeilingComparison> {
  const { ceiling } = target
  const run = async (who: CeilingContestant, w: CeilingWorkload, secs: number, label: string): Promise<LoadFigures> => {
    if (who === 'service') {
      const figures = await ingestThroughService(target.serviceUrl, target.pool, target.loads[w.name], w.changesPerTransaction, secs, label)
      if (figures.non2xx > 0 || figures.errors > 0) log(`  ${label}: ${figures.non2xx} answers other than 201 and ${figures.errors} errors`)
      return figures
    }
    return await ceiling.run(who, w, secs, label)
  }
  const label = (who: CeilingContestant, w: CeilingWorkload): string => `${CONTESTANT_LABELS[who]}, ${w.name}, ${w.changesPerTransaction} changes/tx`

  log(`  warm-up: ${warmupSeconds} s of each on each workload, then ANALYZE`)
  for (const w of target.workloads) for (const who of CONTESTANTS) await run(who, w, warmupSeconds, `warm-up: ${label(who, w)}`)
  await ceiling.analyze()
  await target.pool.query('analyze transactions, versions')

  const runs = new Map(target.workloads.map((w) => [w.name, { minimal: [], serviceSchema: [], service: [] } as Record<CeilingContestant, LoadFigures[]>]))
  const orders = new Map<CeilingWorkloadName, CeilingContestant[][]>(target.workloads.map((w) => [w.name, []]))
  for (let round = 0; round < rounds; round++) {
    const order = [...CONTESTANTS.slice(round % CONTESTANTS.length), ...CONTESTANTS.slice(0, round % CONTESTANTS.length)]
    for (const w of target.workloads) {
      const these = runs.get(w.name)!
      for (const who of order) these[who].push(await run(who, w, seconds, label(who, w)))
      orders.get(w.name)!.push(order)
      const v = { minimal: these.minimal.at(-1)!.versionsPerSecond, serviceSchema: these.serviceSchema.at(-1)!.versionsPerSecond, service: these.service.at(-1)!.versionsPerSecond }
      const r = ratiosOf(v)
      log(`  round ${round + 1}/${rounds}, ${w.name} (${order.join(', ')}): minimal ${Math.round(v.minimal)}, service's schema ${Math.round(v.serviceSchema)}, ` +
        `service ${Math.round(v.service)} versions/s (service / minimal ${pct(r.serviceOverMinimal)}, / service's schema ${pct(r.serviceOverServiceSchema)})`)
    }
  }

  const workloads = target.workloads.map((w): CeilingWorkloadFigures => {
    const these = runs.get(w.name)!
    const rows = orders.get(w.name)!.map((order, i): CeilingRound => ({
      order, minimal: these.minimal[i]!.versionsPerSecond, serviceSchema: these.serviceSchema[i]!.versionsPerSecond, service: these.service[i]!.versionsPerSecond
    }))
    const roundRatios = rows.map(ratiosOf)
    return {
      workload: w.name,
      description: w.description,
      changesPerTransaction: w.changesPerTransaction,
      rounds: rows,
      runs: these,
      medians: { minimal: medianRun(these.minimal), serviceSchema: medianRun(these.serviceSchema), service: medianRun(these.service) },
      roundRatios,
      ratios: {
        serviceOverMinimal: median(roundRatios.map((r) => r.serviceOverMinimal)),
        serviceOverServiceSchema: median(roundRatios.map((r) => r.serviceOverServiceSchema)),
        serviceSchemaOverMinimal: median(roundRatios.map((r) => r.serviceSchemaOverMinimal))
      }
    }
  })
  return {
    pgbench: ceiling.version,
    loadGenerator: defaultLoadGenerator(),
    clients: CONNECTIONS,
    seconds,
    rounds,
    scripts: ceiling.scripts,
    schemas: { minimal: await ceiling.describe('minimal'), serviceSchema: await ceiling.describe('serviceSchema') },
    workloads
  }
}
