/**
 * What one benchmark run does: the quick profile (default) or `--full`; `--only integrity`
 * runs the integrity step alone, `--versions N` sets its size; `--only schema` the reads
 * before and after schema migrations; `--only ceiling` the service against the pgbench
 * ceiling, `--rounds N` and `--seconds S` set that comparison's rounds and run length;
 * `--only profile` the CPU profile of the service and the accounting of one transaction;
 * `--only reads [--sizes 1000,10000000]` the reads at each history size (`--sizes` also sets them for the whole run);
 * `--only group-commit` the GROUP_COMMITS settings side by side; `--only young-generation` Node's
 * default young generation against the one the start scripts set; `--only instances` one service
 * instance against two on one database (bench/instances.ts).
 */
export interface Profile {
  name: 'quick' | 'full'
  /** Seconds of each ingest run (service and ceiling alike). */
  ingestSeconds: number
  /** Rounds of (service run, ceiling run) per transaction size. */
  ingestRounds: number
  /** Seconds of warm-up load on the service before the first measured ingest run. */
  warmupSeconds: number
  /** Total stored versions of each read size. */
  readSizes: number[]
  /** Sequential requests measured per read query, size and round (after the warm-up requests). */
  readRequests: number
  readWarmup: number
  /** Rounds over all read queries and sizes (interleaved: bench/reads.ts); p50 and p99 are over all rounds' requests. */
  readPasses: number
  /** Versions the integrity step writes through the service before timing checkpoints and verification (`--versions N` overrides). */
  integrityVersions: number
  /** Rounds of the pgbench ceiling comparison (each: pgbench on the minimal schema, pgbench on the service's schema, the service, per workload); `--rounds N` overrides. */
  ceilingRounds: number
  /** Seconds of each run of the pgbench ceiling comparison; `--seconds S` overrides. */
  ceilingSeconds: number
  /** `--only integrity`, `ingest`, `schema`, `capture`, `ceiling`, `profile`, `reads`, `group-commit`, `young-generation` or `instances`: that step alone, on a fresh bench database. */
  only?: 'integrity' | 'ingest' | 'schema' | 'capture' | 'ceiling' | 'profile' | 'reads' | 'group-commit' | 'young-generation' | 'instances'
}

export const CONNECTIONS = 8
/** Entities created before the ingest runs, that the updates pick from. */
export const POOL_SIZE = 10_000
/** Updates that go to the first HOT_SET entities of the pool (the rest spread uniformly). */
export const HOT_SET = 100
export const HOT_SHARE = 0.2
/** Versions of the hot entity at the large sizes (the small sizes get half their total). */
export const HOT_VERSIONS = 100_000
export const TENANT = 'default'
/** The admin key the benchmarked service starts with (REWIND_BOOTSTRAP_KEY): every request authenticates. */
export const BENCH_KEY = 'rwd_bench-admin-key-0123456789abcdefghijklmnopq'
export const AUTHORIZATION = `Bearer ${BENCH_KEY}`

/** The value after `flag` in argv, if any. */
const option = (argv: readonly string[], flag: string): string | undefined => {
  const i = argv.indexOf(flag)
  return i < 0 ? undefined : argv[i + 1]
}

export function profileFromArgs (argv: readonly string[]): Profile {
  const full = argv.includes('--full')
  const profile: Profile = full
    ? { name: 'full', ingestSeconds: 15, ingestRounds: 5, warmupSeconds: 5, readSizes: [1_000, 100_000, 1_000_000, 10_000_000], readRequests: 300, readWarmup: 50, readPasses: 5, integrityVersions: 1_000_000, ceilingRounds: 5, ceilingSeconds: 15 }
    : { name: 'quick', ingestSeconds: 6, ingestRounds: 3, warmupSeconds: 3, readSizes: [1_000, 100_000, 1_000_000], readRequests: 300, readWarmup: 50, readPasses: 5, integrityVersions: 100_000, ceilingRounds: 3, ceilingSeconds: 10 }
  const versions = option(argv, '--versions')
  if (versions !== undefined) {
    const n = Number(versions.replaceAll('_', ''))
    if (!Number.isSafeInteger(n) || n < 1000) throw new Error(`--versions takes a whole number of at least 1000, not ${versions}`)
    profile.integrityVersions = n
  }
  const rounds = option(argv, '--rounds')
  if (rounds !== undefined) {
    const n = Number(rounds)
    if (!Number.isSafeInteger(n) || n < 1 || n > 50) throw new Error(`--rounds takes a whole number from 1 to 50, not ${rounds}`)
    profile.ceilingRounds = n
  }
  const seconds = option(argv, '--seconds')
  if (seconds !== undefined) {
    const n = Number(seconds)
    if (!Number.isSafeInteger(n) || n < 2 || n > 600) throw new Error(`--seconds takes a whole number from 2 to 600, not ${seconds}`)
    profile.ceilingSeconds = n
  }
  const sizes = option(argv, '--sizes')
  if (sizes !== undefined) {
    const list = sizes.split(',').map((n) => Number(n.replaceAll('_', '')))
    if (list.length === 0 || list.some((n) => !Number.isSafeInteger(n) || n < 1000)) throw new Error(`--sizes takes comma-separated whole numbers of at least 1000, not ${sizes}`)
    profile.readSizes = list
  }
  const only = option(argv, '--only')
  if (only !== undefined) {
    const steps = ['integrity', 'ingest', 'schema', 'capture', 'ceiling', 'profile', 'reads', 'group-commit', 'young-generation', 'instances'] as const
    const step = steps.find((s) => s === only)
    if (step === undefined) throw new Error(`--only takes ${steps.slice(0, -1).map((s) => `"${s}"`).join(', ')} or "${steps.at(-1)!}", not ${only}`)
    profile.only = step
  }
  return profile
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

/** The admin database URL (the bench database is created next to it); local only. */
export function adminDatabaseUrl (): string {
  const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const host = new URL(url).hostname
  if (!LOCAL_HOSTS.has(host)) throw new Error(`BENCH_DATABASE_URL must point at this machine (127.0.0.1), not ${host}`)
  return url
}

/**
 * The bench database's name: rewind_bench, or BENCH_DATABASE_NAME (so that two runs on one
 * server, each dropping its databases, do not drop each other's); the others are named after it.
 */
export const BENCH_DATABASE = benchDatabaseName()
/** The database of the baseline service (BENCH_BASELINE_DIR), beside the bench database. */
export const BASELINE_DATABASE = `${BENCH_DATABASE}_baseline`
/** The pgbench ceiling's databases: the minimal append-only schema, and the service's schema (its migrations). */
export const PGBENCH_MINIMAL_DATABASE = `${BENCH_DATABASE}_pgbench_minimal`
export const PGBENCH_SERVICE_DATABASE = `${BENCH_DATABASE}_pgbench_service`

function benchDatabaseName (): string {
  const name = process.env.BENCH_DATABASE_NAME ?? 'rewind_bench'
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) throw new Error(`BENCH_DATABASE_NAME must be a lower-case SQL identifier of at most 41 characters, not ${name}`)
  return name
}

/** The same server and credentials, another database. */
export function databaseUrl (adminUrl: string, database: string): string {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}
