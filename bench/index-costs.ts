import pg from 'pg'
import { removables, type Removable } from './removable-indexes.js'
import { CONNECTIONS, PGBENCH_SERVICE_DATABASE, databaseUrl } from './config.js'
import { median } from './ingest-rounds.js'
import { CEILING_WORKLOADS, PgbenchCeiling } from './pgbench-ceiling.js'

/*
 * What the service schema's secondary indexes and foreign key cost under concurrency: the
 * pgbench ceiling (bench/pgbench-ceiling.ts, its updates workload: 10 updates per
 * transaction, 8 clients) on the service's schema as migrated, then without some of them
 * (dropped before a run, created again after it), in rounds whose order rotates. Each
 * variant's figure is its median run; a short run on a shared machine scatters by tens of
 * per cent, so only large differences mean anything.
 */

export interface IndexCostRun { label: string, without: string[], versionsPerSecond: number[], medianVersionsPerSecond: number, overAsMigrated: number }
export interface IndexCosts { workload: string, seconds: number, rounds: number, clients: number, variants: IndexCostRun[], minimalVersionsPerSecond: number[] }

/** The variants: as migrated; without each of versions' secondary indexes and its foreign key; without transactions' secondary indexes; without all. */
function variantsOf (all: readonly Removable[]): Array<{ label: string, without: Removable[] }> {
  const versions = all.filter((r) => r.table === 'versions')
  const transactions = all.filter((r) => r.table === 'transactions')
  return [
    { label: 'as migrated', without: [] },
    ...versions.map((r) => ({ label: `without versions' ${r.kind} ${r.name}`, without: [r] })),
    { label: `without transactions' ${transactions.length} secondary indexes`, without: transactions },
    { label: 'without all of them (primary keys only)', without: [...all] }
  ]
}

export async function measureIndexCosts (adminUrl: string, seconds: number, rounds: number, log: (message: string) => void): Promise<IndexCosts> {
  const workload = CEILING_WORKLOADS.find((w) => w.name === 'updates')!
  const ceiling = await PgbenchCeiling.create(adminUrl, [workload], log)
  const client = new pg.Client({ connectionString: databaseUrl(adminUrl, PGBENCH_SERVICE_DATABASE) })
  await client.connect()
  try {
    const variants = variantsOf(await removables(client))
    log(`  warm-up: ${seconds} s of pgbench on each schema, then ANALYZE`)
    await ceiling.run('serviceSchema', workload, seconds, 'warm-up')
    await ceiling.run('minimal', workload, seconds, 'warm-up')
    await ceiling.analyze()
    const runs = variants.map(() => [] as number[])
    const minimal: number[] = []
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k <= variants.length; k++) {
        const i = (k + round) % (variants.length + 1)
        if (i === variants.length) {
          minimal.push((await ceiling.run('minimal', workload, seconds, 'minimal schema')).versionsPerSecond)
          continue
        }
        const v = variants[i]!
        for (const r of v.without) await client.query(r.drop)
        try {
          runs[i]!.push((await ceiling.run('serviceSchema', workload, seconds, v.label)).versionsPerSecond)
        } finally {
          for (const r of [...v.without].reverse()) await client.query(r.restore)
        }
        log(`  round ${round + 1}, ${v.label}: ${Math.round(runs[i]!.at(-1)!)} versions/s`)
      }
    }
    const asMigrated = median(runs[0]!)
    return {
      workload: workload.description,
      seconds,
      rounds,
      clients: CONNECTIONS,
      variants: variants.map((v, i) => ({
        label: v.label, without: v.without.map((r) => r.name), versionsPerSecond: runs[i]!, medianVersionsPerSecond: median(runs[i]!), overAsMigrated: median(runs[i]!) / asMigrated
      })),
      minimalVersionsPerSecond: minimal
    }
  } finally {
    await client.end().catch(() => {})
    await ceiling.close()
  }
}
