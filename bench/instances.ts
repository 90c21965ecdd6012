import type pg from 'pg'
import { CONNECTIONS } from './config.js'
import { createPool, defaultLoadGenerator, ingestThroughService } from './ingest.js'
import { median } from './ingest-rounds.js'
import { HttpClient, startService, type RunningService } from './service.js'
import { Workload } from './workload.js'

/*
 * `--only instances`: what a second service instance on the same database does to ingest on this
 * machine. The same load (the updates workload, 10 distinct of 1,000 articles per transaction,
 * CONNECTIONS connections in all) goes to one instance, or half of it to each of two: writing the
 * same articles (each instance's latest-state hints go stale under the other's writes), the same
 * with the hints off (LATEST_CACHE_MB=0: every write reads first), and each its own articles.
 */

export type InstancesSetup = 'one' | 'twoShared' | 'twoSharedNoHints' | 'twoDisjoint'
const SETUPS: readonly InstancesSetup[] = ['one', 'twoShared', 'twoSharedNoHints', 'twoDisjoint']

export const SETUP_LABELS: Record<InstancesSetup, string> = {
  one: 'one instance',
  twoShared: 'two instances, the same articles',
  twoSharedNoHints: 'two instances, the same articles, LATEST_CACHE_MB=0',
  twoDisjoint: 'two instances, each its own articles'
}

const SHARED_POOL = 400_001
const OWN_POOL = 410_001
const POOL_SIZE = 1_000

export interface InstancesComparison {
  loadGenerator: string
  /** versions/s of each setup, round by round. */
  rounds: Array<Record<InstancesSetup, number>>
  medians: Record<InstancesSetup, number>
  /** Median of the rounds' ratios to one instance. */
  overOne: Record<InstancesSetup, number>
}

export async function compareInstances (
  databaseUrl: string, pool: pg.Pool, rounds: number, seconds: number, warmupSeconds: number, log: (message: string) => void
): Promise<InstancesComparison> {
  const services: RunningService[] = []
  try {
    log('instances: starting four services (two with LATEST_CACHE_MB=0) and their articles')
    const [a, b, c, d] = [
      await startService(databaseUrl), await startService(databaseUrl),
      await startService(databaseUrl, { LATEST_CACHE_MB: '0' }), await startService(databaseUrl, { LATEST_CACHE_MB: '0' })
    ] as const
    services.push(a, b, c, d)
    const client = new HttpClient(a.port)
    await createPool(client, SHARED_POOL, POOL_SIZE)
    await createPool(client, OWN_POOL, POOL_SIZE)
    client.close()
    let seed = 20
    const shared = (): Workload => Workload.updates(80_000_000 + seed * 1_000_000, seed++, SHARED_POOL, POOL_SIZE)
    const own = (): Workload => Workload.updates(80_000_000 + seed * 1_000_000, seed++, OWN_POOL, POOL_SIZE)
    const half = Math.max(1, CONNECTIONS / 2)
    // Each instance of a setup and the load it gets; runs of one setup go at once, their versions/s summed.
    const setups: Record<InstancesSetup, Array<{ service: RunningService, load: Workload, connections: number }>> = {
      one: [{ service: a, load: shared(), connections: CONNECTIONS }],
      twoShared: [{ service: a, load: shared(), connections: half }, { service: b, load: shared(), connections: half }],
      twoSharedNoHints: [{ service: c, load: shared(), connections: half }, { service: d, load: shared(), connections: half }],
      twoDisjoint: [{ service: a, load: shared(), connections: half }, { service: b, load: own(), connections: half }]
    }
    const run = async (setup: InstancesSetup, secs: number): Promise<number> => {
      const runs = await Promise.all(setups[setup].map(async (s) =>
        await ingestThroughService(s.service.url, pool, s.load, 10, secs, SETUP_LABELS[setup], defaultLoadGenerator(), s.connections)))
      return runs.reduce((sum, r) => sum + r.versionsPerSecond, 0)
    }
    for (const setup of SETUPS) await run(setup, warmupSeconds)
    // Statistics, as the ceiling comparison takes them after its warm-up: planned on a partition never
    // analyzed, a read of an entity's latest version follows the (tenant, type, entity_key, seq) index
    // and filters every version of the entity on the transaction id, instead of probing the primary key.
    await pool.query('analyze transactions, versions, entity_heads')
    const all: Array<Record<InstancesSetup, number>> = []
    for (let round = 0; round < rounds; round++) {
      const order = SETUPS.map((_, i) => SETUPS[(i + round) % SETUPS.length]!)
      const figures = {} as Record<InstancesSetup, number>
      for (const setup of order) figures[setup] = await run(setup, seconds)
      log(`  round ${round + 1}/${rounds}: ${order.map((s) => `${SETUP_LABELS[s]} ${Math.round(figures[s])}`).join('; ')} versions/s`)
      all.push(figures)
    }
    const of = (f: (r: Record<InstancesSetup, number>) => number): number => median(all.map(f))
    return {
      loadGenerator: defaultLoadGenerator(),
      rounds: all,
      medians: Object.fromEntries(SETUPS.map((s) => [s, of((r) => r[s])])) as Record<InstancesSetup, number>,
      overOne: Object.fromEntries(SETUPS.map((s) => [s, of((r) => r[s] / r.one)])) as Record<InstancesSetup, number>
    }
  } finally {
    for (const s of services) await s.stop()
  }
}

export function instancesMarkdown (c: InstancesComparison, seconds: number): string {
  const lines = [
    `**Instances** (one database; the updates workload, 10 distinct of 1,000 articles per transaction, ${CONNECTIONS} connections in all (${c.loadGenerator}), split evenly between the instances; ` +
      `${c.rounds.length} rounds of ${seconds} s runs, order rotating; medians)`,
    '',
    '| setup | versions/s | / one instance |',
    '|---|---:|---:|'
  ]
  for (const s of SETUPS) lines.push(`| ${SETUP_LABELS[s]} | ${Math.round(c.medians[s]).toLocaleString('en-US')} | ${(100 * c.overOne[s]).toFixed(0)} % |`)
  return lines.join('\n')
}
