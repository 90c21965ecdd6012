/**
 * The benchmark: `npm run bench` (quick profile) or `npm run bench -- --full`.
 * Creates a fresh PostgreSQL database, runs the service against it as a child process,
 * measures ingest (against the pgbench ceiling on a minimal schema and on the service's
 * schema, against a Node client of the same SQL and, with BENCH_BASELINE_DIR, against the
 * baseline service, an earlier version), checkpoints and verification, reads at several history
 * sizes and storage, prints a markdown table and writes bench/results/latest.json.
 * `npm run bench -- --only integrity [--versions N]` runs the integrity step alone
 * (bench/results/integrity-latest.json); `--only schema` the reads before and after schema
 * migrations (bench/results/schema-latest.json); `--only ceiling [--rounds N] [--seconds S]`
 * the service against the pgbench ceiling (bench/results/ceiling-latest.json); `--only group-commit`
 * the GROUP_COMMITS settings side by side (bench/results/group-commit-latest.json); `--only young-generation`
 * Node's default young generation against the start scripts' (bench/results/young-generation-latest.json); `--only instances`
 * one service instance against two on one database (bench/results/instances-latest.json); `--only profile`
 * the service's CPU profile, its flame graph and one transaction's accounting (bench/profile.ts).
 * Everything talks to 127.0.0.1 only; the databases are dropped at the end.
 */
import os from 'node:os'
import { measureKeyCheck } from './auth.js'
import { compareInstances, instancesMarkdown } from './instances.js'
import { Baseline } from './baseline.js'
import pg from 'pg'
import { BENCH_DATABASE, CONNECTIONS, adminDatabaseUrl, profileFromArgs } from './config.js'
import { ingestCeiling } from './ceiling.js'
import { interleavedCeiling, type CeilingComparison } from './ceiling-rounds.js'
import { ingestInProcess } from './in-process.js'
import { createBenchDatabase, dropBenchDatabase, serverVersion } from './db.js'
import { createPool, ingestThroughService, registerTypes, type LoadFigures } from './ingest.js'
import { interleavedIngest, type InterleavedIngest } from './ingest-rounds.js'
import { measureIntegrity, type IntegrityFigures } from './integrity.js'
import { readQueries, timeInterleaved } from './reads.js'
import { ReadHistories } from './read-histories.js'
import { measureRelationRevert } from './relation-revert.js'
import { measureSchemaReads, type SchemaFigures } from './schema-reads.js'
import { measureCapture } from './capture.js'
import { GROUP_COMMIT_VARIANTS, YOUNG_GENERATION_VARIANTS, compareServices, comparisonMarkdown, type ServiceVariant } from './side-by-side.js'
import { measureProfile, profileNodeArgs } from './profile.js'
import { profileMarkdown } from './profile-report.js'
import { CEILING_WORKLOADS, PgbenchCeiling, UPDATES_POOL_FIRST, UPDATES_POOL_SIZE } from './pgbench-ceiling.js'
import { NOTHING_COMPACTED } from './compact.js'
import { baselineRatios, ceilingMarkdown, ingestRatios, ingestRoundsMarkdown, integrityMarkdown, machine, markdown, readRatios, readsMarkdown, schemaMarkdown, captureMarkdown, writeJson, writeResults, type ReadSize, type Results } from './report.js'
import { HttpClient, startService, type RunningService, type StartOptions } from './service.js'
import { countStatements } from './statements.js'
import { measureStorage, type StorageFigures } from './storage.js'
import { Workload } from './workload.js'

const started = Date.now()
const loadAtStart = os.loadavg()[0] ?? 0
const log = (message: string): void => { console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`) }

const SERVICE_POOL = 1
const CEILING_POOL = 100_001

const profile = profileFromArgs(process.argv.slice(2))
const adminUrl = adminDatabaseUrl()
const baseline = profile.only === undefined || profile.only === 'ingest' ? Baseline.fromEnvironment(adminUrl) : undefined

let service: RunningService | undefined
let pool: pg.Pool | undefined
let client: HttpClient | undefined
let ceiling: PgbenchCeiling | undefined
let ceilingStarted = false
let histories: ReadHistories | undefined
let cleaned: Promise<void> | undefined

/** Stops the child services, closes connections and drops the bench databases (once). */
async function cleanup (): Promise<void> {
  cleaned ??= (async () => {
    client?.close()
    await baseline?.close().catch((e: unknown) => { log(`stopping the baseline: ${String(e)}`) })
    await service?.stop().catch((e: unknown) => { log(`stopping the service: ${String(e)}`) })
    await pool?.end().catch(() => {})
    if (ceilingStarted) await (ceiling?.close() ?? PgbenchCeiling.drop(adminUrl)).catch((e: unknown) => { log(`dropping the pgbench ceiling's databases: ${String(e)}`) })
    // BENCH_KEEP_DATABASE=1 keeps the bench database and the read sizes' for a closer look, e.g. EXPLAIN.
    await histories?.close(process.env.BENCH_KEEP_DATABASE === '1')
    if (process.env.BENCH_KEEP_DATABASE === '1') log(`kept the bench database ${BENCH_DATABASE}`)
    else await dropBenchDatabase(adminUrl).catch((e: unknown) => { log(`dropping the bench database: ${String(e)}`) })
  })()
  await cleaned
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`)
    cleanup().finally(() => process.exit(130))
  })
}

/** Creates the bench database and a pool on it; answers the database's URL and the server's version. */
async function connect (): Promise<{ databaseUrl: string, postgres: string }> {
  log(`profile ${profile.name}${profile.only === undefined ? '' : `, only ${profile.only}`}; creating the bench database`)
  const databaseUrl = await createBenchDatabase(adminUrl)
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  pool.on('error', () => {})
  return { databaseUrl, postgres: await serverVersion(pool) }
}

/** connect, then starts the service on the bench database. */
async function setUp (options: StartOptions = {}): Promise<{ databaseUrl: string, postgres: string }> {
  const { databaseUrl, postgres } = await connect()
  log('starting the service')
  service = await startService(databaseUrl, {}, options)
  client = new HttpClient(service.port)
  return { databaseUrl, postgres }
}

async function integrityStep (databaseUrl: string): Promise<IntegrityFigures> {
  log(`integrity: ${profile.integrityVersions.toLocaleString('en-US')} versions through the service, then checkpoints and verification`)
  return await measureIntegrity(databaseUrl, service!.port, profile.integrityVersions, log)
}

/** Ends an `--only` run: cleans up, writes bench/results/`name` (the run, the machine, `figures` and the table) and prints the table. */
async function finishOnly (name: string, postgres: string, figures: object, table: string): Promise<void> {
  await cleanup()
  const body = { profile: profile.name, startedAt: new Date(started).toISOString(), durationSeconds: (Date.now() - started) / 1000, machine: machine(postgres, loadAtStart), ...figures }
  const file = writeJson(name, body, table)
  console.log(table)
  log(`wrote ${file}`)
}

/** `--only integrity`: the integrity step alone. */
async function integrityOnly (): Promise<void> {
  const { databaseUrl, postgres } = await setUp()
  const integrity = await integrityStep(databaseUrl)
  await finishOnly('integrity-latest.json', postgres, { integrity }, integrityMarkdown(integrity))
}

/** Reads of one history before and after schema migrations (type "doc" of the default tenant). */
async function schemaStep (): Promise<SchemaFigures> {
  log('schema: reads before and after migrations of their type, on the same history')
  return await measureSchemaReads(client!, profile, log)
}

/** `--only capture`: what capture from PostgreSQL costs a source and its lag (bench/results/capture-latest.json). */
async function captureOnly (): Promise<void> {
  const { databaseUrl, postgres } = await setUp()
  log(`capture: pgbench on a throwaway source with and without capture, ${profile.ingestRounds} rounds of ${profile.ingestSeconds} s, then lag at fixed rates`)
  const capture = await measureCapture(client!, databaseUrl, profile.ingestRounds, profile.ingestSeconds, log)
  await finishOnly('capture-latest.json', postgres, { capture }, captureMarkdown(capture))
}

/** `--only schema`: the schema step alone (bench/results/schema-latest.json). */
async function schemaOnly (): Promise<void> {
  const { postgres } = await setUp()
  const schema = await schemaStep()
  await finishOnly('schema-latest.json', postgres, { schema }, schemaMarkdown(schema))
}

/** The interleaved ingest rounds: the service against the Node client of bench/ceiling.ts (and the baseline, when there is one). */
async function ingestStep (databaseUrl: string): Promise<{ interleaved: InterleavedIngest, serviceLoad: Workload, ceilingLoad: Workload, statements: Awaited<ReturnType<typeof countStatements>> }> {
  await registerTypes(client!)
  // The service and the Node client update pools of their own: neither writes what the other has cached or read.
  await createPool(client!, SERVICE_POOL)
  await createPool(client!, CEILING_POOL)
  if (baseline !== undefined) log(`starting the baseline service (${baseline.dir}, ${baseline.commit}) on a database of its own`)
  const baselineTarget = await baseline?.start(SERVICE_POOL)

  // Insert ids: the service's workload from 1,000,000, the Node client's from 50,000,000 (the pools of updated articles are 1..10,000 and 100,001..110,000).
  const serviceLoad = new Workload(1_000_000, 1)
  const ceilingLoad = new Workload(50_000_000, 2, 'article', CEILING_POOL)

  log('counting SQL statements per transaction')
  const statements = await countStatements(databaseUrl, client!, serviceLoad, [1, 10])

  log(`ingest: the service against the Node client${baseline === undefined ? '' : ' and the baseline'}, ${profile.ingestRounds} rounds of ${profile.ingestSeconds} s runs (${profile.warmupSeconds} s warm-up first)`)
  await ingestThroughService(service!.url, pool!, serviceLoad, 1, profile.warmupSeconds, 'warm-up')
  if (baselineTarget !== undefined) await ingestThroughService(baselineTarget.serviceUrl, baselineTarget.pool, baselineTarget.load, 1, profile.warmupSeconds, 'warm-up')
  await ingestCeiling(databaseUrl, ceilingLoad, 1, Math.min(3, profile.warmupSeconds), 'warm-up')
  const interleaved = await interleavedIngest({ serviceUrl: service!.url, databaseUrl, pool: pool!, serviceLoad, ceilingLoad, baseline: baselineTarget }, [1, 10], profile.ingestRounds, profile.ingestSeconds, log)
  for (const [label, ratio] of Object.entries(baselineRatios(interleaved.service, interleaved.rounds))) log(`  ${label}: service / baseline ${(100 * ratio).toFixed(0)} % (median of the rounds)`)
  await baseline?.close()
  return { interleaved, serviceLoad, ceilingLoad, statements }
}

/**
 * The service against the pgbench ceiling (bench/pgbench-ceiling.ts): creates the updates
 * workload's pool of articles through the service (the mixed workload's is SERVICE_POOL,
 * already there), the ceiling's two databases, then runs the interleaved rounds; drops the
 * ceiling's databases at the end. `mixedLoad` is the service's mixed workload.
 */
async function ceilingStep (mixedLoad: Workload): Promise<CeilingComparison> {
  log(`pgbench ceiling: creating the service's pool of ${UPDATES_POOL_SIZE} articles for the updates workload, and the ceiling's two databases`)
  await createPool(client!, UPDATES_POOL_FIRST, UPDATES_POOL_SIZE)
  ceilingStarted = true
  ceiling = await PgbenchCeiling.create(adminUrl, CEILING_WORKLOADS, log)
  const loads = { mixed: mixedLoad, updates: Workload.updates(60_000_000, 5, UPDATES_POOL_FIRST, UPDATES_POOL_SIZE) }
  log(`pgbench ceiling: ${profile.ceilingRounds} rounds of ${profile.ceilingSeconds} s runs (pgbench on the minimal schema, on the service's schema, the service over HTTP) per workload`)
  const comparison = await interleavedCeiling({ ceiling, serviceUrl: service!.url, pool: pool!, loads, workloads: CEILING_WORKLOADS }, profile.ceilingRounds, profile.ceilingSeconds, profile.warmupSeconds, log)
  for (const w of comparison.workloads) {
    log(`  ${w.workload}: service / minimal ${(100 * w.ratios.serviceOverMinimal).toFixed(0)} %, service / service's schema ${(100 * w.ratios.serviceOverServiceSchema).toFixed(0)} % (medians of the rounds)`)
  }
  await ceiling.close()
  ceiling = undefined
  ceilingStarted = false
  return comparison
}

/** `--only ceiling`: the service against the pgbench ceiling alone (bench/results/ceiling-latest.json). */
async function ceilingOnly (): Promise<void> {
  const { postgres } = await setUp()
  await registerTypes(client!)
  await createPool(client!, SERVICE_POOL)
  const comparison = await ceilingStep(new Workload(1_000_000, 1))
  const load = `Load average ${loadAtStart.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end (${os.cpus().length} cores).`
  await finishOnly('ceiling-latest.json', postgres, { pgbenchCeiling: comparison }, `${load}\n\n${ceilingMarkdown(comparison)}`)
}

/** `--only profile`: the service under --cpu-prof, its flame graph, one transaction's accounting (bench/results/profile-latest.json). */
async function profileOnly (): Promise<void> {
  const { profileDir, nodeArgs } = profileNodeArgs()
  const { databaseUrl, postgres } = await setUp({ nodeArgs })
  ceilingStarted = true // its index costs run the pgbench ceiling, whose databases cleanup drops
  const figures = await measureProfile({ service: service!, client: client!, pool: pool!, databaseUrl, adminUrl, profileDir }, log)
  ceilingStarted = false
  await finishOnly('profile-latest.json', postgres, { accounting: figures }, profileMarkdown(figures))
}

/**
 * Seeds each read size in a database of its own (bulk SQL), then times the reads on all of
 * them in interleaved rounds; then compacts their closed partitions and times them all again.
 * Adds each size's storage to `storage`.
 */
async function readSizes (storage: StorageFigures[]): Promise<ReadSize[]> {
  histories = new ReadHistories(adminUrl, log)
  for (const requested of profile.readSizes) storage.push((await histories.add(requested)).storage)
  const seeded = histories.histories
  const targets = []
  for (const h of seeded) targets.push({ client: h.client, queries: await readQueries(h.client, h.layout) })
  // The read routes run for the first time here: one untimed round first, so that no size is measured on a cold process.
  log(`reads: one untimed round, then ${profile.readPasses} rounds over the ${seeded.length} sizes, interleaved`)
  await timeInterleaved(targets, { ...profile, readPasses: 1 })
  const written = await timeInterleaved(targets, profile)
  const sizes: ReadSize[] = seeded.map((h, i) => ({ layout: h.layout, seedSeconds: h.seedSeconds, queries: written[i]! }))
  // Then the same reads once the closed partitions are compacted, as an operator would (docs/partitions.md).
  const compactions = await histories.compact()
  if (compactions.some((c) => c !== undefined)) {
    log('reads again, compacted, interleaved as before')
    const compacted = await timeInterleaved(targets, profile)
    for (const [i, s] of sizes.entries()) s.compacted = { ...compactions[i] ?? NOTHING_COMPACTED, queries: compacted[i]! }
  }
  return sizes
}

/** `--only reads`: the reads at each history size alone (bench/results/reads-latest.json). */
async function readsOnly (): Promise<void> {
  const { postgres } = await connect() // each size has a service of its own: no main one
  const storage: StorageFigures[] = []
  const sizes = await readSizes(storage)
  const ratios = readRatios(sizes)
  await finishOnly('reads-latest.json', postgres, { reads: { sizes, p99LargestOverSmallest: ratios, p99CompactedOverSmallest: readRatios(sizes, true) }, storage }, readsMarkdown(sizes).join('\n'))
}

/** `--only group-commit` or `young-generation`: services started each way, side by side (bench/results/`name`-latest.json). */
async function sideBySideOnly (name: string, title: string, variants: readonly ServiceVariant[]): Promise<void> {
  const { databaseUrl, postgres } = await setUp()
  await registerTypes(client!)
  const comparison = await compareServices(variants, databaseUrl, pool!, profile.ingestRounds, profile.ingestSeconds, profile.warmupSeconds, log)
  await finishOnly(`${name}-latest.json`, postgres, { [name]: comparison }, comparisonMarkdown(title, comparison, profile.ingestSeconds))
}

/** `--only instances`: one service instance against two on one database (bench/results/instances-latest.json). */
async function instancesOnly (): Promise<void> {
  const { databaseUrl, postgres } = await setUp()
  await registerTypes(client!)
  const comparison = await compareInstances(databaseUrl, pool!, profile.ingestRounds, profile.ingestSeconds, profile.warmupSeconds, log)
  await finishOnly('instances-latest.json', postgres, { instances: comparison }, instancesMarkdown(comparison, profile.ingestSeconds))
}

/** `--only ingest`: the interleaved ingest rounds alone (bench/results/ingest-latest.json). */
async function ingestOnly (): Promise<void> {
  const { databaseUrl, postgres } = await setUp()
  const { interleaved } = await ingestStep(databaseUrl)
  await finishOnly('ingest-latest.json', postgres, { ingest: interleaved }, ingestRoundsMarkdown(interleaved))
}

async function main (): Promise<Results> {
  const { databaseUrl, postgres } = await setUp()
  const { interleaved, serviceLoad, ceilingLoad, statements } = await ingestStep(databaseUrl)
  const pgbenchCeiling = await ceilingStep(serviceLoad)
  const serviceRuns: LoadFigures[] = [...interleaved.service]
  const ratios = ingestRatios(interleaved.service, interleaved.rounds)
  const baselineIngest = baseline === undefined || interleaved.baseline === undefined
    ? undefined
    : { commit: baseline.commit, runs: interleaved.baseline, currentOverBaseline: baselineRatios(interleaved.service, interleaved.rounds) }

  // Hints off: every update reads its entity first (what a write to an entity last written elsewhere costs).
  log('the service with its latest-state hints off (LATEST_CACHE_MB=0), then the Node client again')
  const hintsOff = await startService(databaseUrl, { LATEST_CACHE_MB: '0' })
  try {
    const run = await ingestThroughService(hintsOff.url, pool!, serviceLoad, 10, profile.ingestSeconds, 'service (HTTP), 10 changes/tx, hints off (LATEST_CACHE_MB=0)')
    const node = await ingestCeiling(databaseUrl, ceilingLoad, 10, profile.ingestSeconds, 'Node client')
    serviceRuns.push(run)
    ratios[run.label] = run.versionsPerSecond / node.versionsPerSecond
    log(`  ${run.label}: ${Math.round(run.versionsPerSecond)} versions/s, Node client ${Math.round(node.versionsPerSecond)} (${(100 * ratios[run.label]!).toFixed(0)} %)`)
  } finally {
    await hintsOff.stop()
  }
  log('the service\'s write path in-process (no HTTP, no load generator)')
  const inProcessLoad = new Workload(20_000_000, 3)
  for (const n of [1, 10]) {
    serviceRuns.push(await ingestInProcess(databaseUrl, inProcessLoad, n, profile.ingestSeconds, `service code in-process (no HTTP), ${n} change${n > 1 ? 's' : ''}/tx`))
    log(`  ${serviceRuns.at(-1)!.label}: ${Math.round(serviceRuns.at(-1)!.versionsPerSecond)} versions/s`)
  }
  // The same, with inserts of children whose foreign key is indexed (version_refs): what the reference index costs.
  serviceRuns.push(await ingestInProcess(databaseUrl, new Workload(30_000_000, 4, 'comment'), 10, profile.ingestSeconds,
    'service code in-process (no HTTP), 10 changes/tx, inserts are comments (foreign key indexed)'))
  log(`  ${serviceRuns.at(-1)!.label}: ${Math.round(serviceRuns.at(-1)!.versionsPerSecond)} versions/s`)
  const storage: StorageFigures[] = [await measureStorage(pool!, 'after the ingest runs (written by the service)')]

  log('the cost of the API key check')
  const auth = await measureKeyCheck(databaseUrl)
  log(`  ${auth.cachedMicros.toFixed(2)} µs per request (cached), ${auth.uncachedMicros.toFixed(0)} µs when read from the database`)

  log('revert with relations of an article with many comments')
  const relationRevert = await measureRelationRevert(databaseUrl, [10, 1000])

  const integrity = await integrityStep(databaseUrl)
  const schema = await schemaStep()

  const sizes = await readSizes(storage)

  return {
    profile: profile.name,
    startedAt: new Date(started).toISOString(),
    durationSeconds: 0,
    machine: machine(postgres, loadAtStart),
    connections: CONNECTIONS,
    ingest: { service: serviceRuns, ceiling: interleaved.ceiling, rounds: interleaved.rounds, serviceOverCeiling: ratios, ...(baselineIngest === undefined ? {} : { baseline: baselineIngest }) },
    pgbenchCeiling,
    integrity,
    schema,
    statements,
    relationRevert,
    reads: { sizes, p99LargestOverSmallest: readRatios(sizes), p99CompactedOverSmallest: readRatios(sizes, true) },
    storage,
    auth
  }
}

try {
  if (profile.only === 'integrity') {
    await integrityOnly()
  } else if (profile.only === 'ingest') {
    await ingestOnly()
  } else if (profile.only === 'schema') {
    await schemaOnly()
  } else if (profile.only === 'capture') {
    await captureOnly()
  } else if (profile.only === 'ceiling') {
    await ceilingOnly()
  } else if (profile.only === 'profile') {
    await profileOnly()
  } else if (profile.only === 'reads') {
    await readsOnly()
  } else if (profile.only === 'group-commit') {
    await sideBySideOnly('group-commit', 'Group commit', GROUP_COMMIT_VARIANTS)
  } else if (profile.only === 'young-generation') {
    await sideBySideOnly('young-generation', 'The young generation', YOUNG_GENERATION_VARIANTS)
  } else if (profile.only === 'instances') {
    await instancesOnly()
  } else {
    const results = await main()
    log('stopping the service and dropping the bench database')
    await cleanup()
    results.durationSeconds = (Date.now() - started) / 1000
    const file = writeResults(results)
    console.log(markdown(results))
    log(`wrote ${file}`)
  }
} catch (error) {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  await cleanup()
  process.exitCode = 1
}
