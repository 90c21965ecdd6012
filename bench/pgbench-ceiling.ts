import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { openDatabase } from '../src/store/database.js'
import { migrateToLatest } from '../src/store/migrate.js'
import { DEFAULT_PARTITIONS } from '../src/services/partitions.js'
import { sql } from 'kysely'
import { CONNECTIONS, HOT_SET, PGBENCH_MINIMAL_DATABASE, PGBENCH_SERVICE_DATABASE, TENANT } from './config.js'
import { createBenchDatabase, dropBenchDatabase } from './db.js'
import type { LoadFigures } from './ingest.js'
import { percentile } from './stats.js'
import { BODY, INGEST_TYPE, MIXED, STATUSES, type WorkloadShape } from './workload.js'

/*
 * The ingest ceiling: the service's transactions written by pgbench (the C client,
 * prepared statements, CONNECTIONS clients) with the fastest correct SQL we know: per
 * transaction BEGIN; one statement that draws the entities and takes their advisory locks
 * in sorted order; one statement that reads their latest versions and appends the
 * transaction and its versions (state and changeset computed in SQL); COMMIT. It runs
 * on two databases of its own: a minimal append-only schema (the primary keys only) and
 * the service's own schema (made by its migrations: every index, the foreign key, the
 * checks and triggers), so that the service can be set against both.
 */

export const PGBENCH = path.join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', 'pgbench')

export type CeilingSchema = 'minimal' | 'serviceSchema'
export type CeilingWorkloadName = 'updates' | 'mixed'

/** A workload of the ceiling comparison, the same for pgbench and for the service. */
export interface CeilingWorkload {
  name: CeilingWorkloadName
  description: string
  changesPerTransaction: number
  /** The first key of the pool of seeded articles its updates pick from. */
  poolFirst: number
  shape: WorkloadShape
}

/** The updates workload's pool (the service's mixed workload updates 1..10,000, the Node client's 100,001..110,000). */
export const UPDATES_POOL_FIRST = 200_001
export const UPDATES_POOL_SIZE = 1_000

export const CEILING_WORKLOADS: readonly CeilingWorkload[] = [
  {
    name: 'updates',
    description: `updates of existing entities (10 distinct of ${UPDATES_POOL_SIZE.toLocaleString('en-US')}, uniform)`,
    changesPerTransaction: 10,
    poolFirst: UPDATES_POOL_FIRST,
    shape: { insertShare: 0, poolSize: UPDATES_POOL_SIZE, hotShare: 0, hotSet: HOT_SET }
  },
  {
    name: 'mixed',
    description: `mixed (each change an insert of a new article or, as often, an update of one of ${MIXED.poolSize.toLocaleString('en-US')}, a fifth of the updates on its first ${MIXED.hotSet})`,
    changesPerTransaction: 10,
    poolFirst: 1,
    shape: MIXED
  }
]

/** New articles' keys are (a number from this sequence) × 1000 + 1..n: 50,000,001 and up, clear of the pools. */
const INSERT_IDS = 'bench_insert_ids'
const INSERT_IDS_START = 50_000

const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`

/**
 * The statement that draws a transaction's entities and locks them: `n` changes, each an
 * insert with probability insertShare, the others updates of distinct pool articles (the
 * first distinct ones of a stream of draws, as bench/workload.ts retries; a share hotShare
 * of draws on the pool's first hotSet), then one pg_advisory_xact_lock per key in key order
 * (the lock calls run after the sort). Its row (\gset) gives the sorted keys and which are inserts.
 */
export function drawStatement (w: CeilingWorkload): string {
  const n = w.changesPerTransaction
  const { insertShare, poolSize, hotShare, hotSet } = w.shape
  const pick = hotShare > 0 ? `floor(random() * case when random() < ${hotShare} then ${hotSet} else ${poolSize} end)` : `floor(random() * ${poolSize})`
  const updates = (limit: string): string =>
    `select k from (select g, ${w.poolFirst} + ${pick}::bigint as k from generate_series(1, ${4 * n + 20}) g) c group by k order by min(g) limit ${limit}`
  if (insertShare === 0) {
    return [
      'select array_agg(k order by k)::text as keys, array_agg(false)::text as inserts',
      `from (select k, pg_advisory_xact_lock(k) from (${updates(String(n))}) d order by k) l`
    ].join('\n')
  }
  return [
    `with n as materialized (select count(*) filter (where random() < ${insertShare})::int as inserts from generate_series(1, ${n})),`,
    `upd as (${updates(`(select ${n} - inserts from n)`)}),`,
    `ins as (select b.base * 1000 + g as k from (select nextval('${INSERT_IDS}') as base from n where inserts > 0) b, n, generate_series(1, n.inserts) g),`,
    'drawn as (select k, false as ins from upd union all select k, true from ins)',
    'select array_agg(k order by k)::text as keys, array_agg(ins order by k)::text as inserts',
    'from (select k, ins, pg_advisory_xact_lock(k) from drawn order by k) l'
  ].join('\n')
}

const ARTICLE = (k: string): string =>
  `jsonb_build_object('id', ${k}, 'title', 'Article ' || ${k}, 'status', 'draft', 'views', 0, 'author_id', ${k} % 97, 'body', ${literal(BODY)})`
const UPDATE = (k: string, n: string): string =>
  `jsonb_build_object('title', 'Article ' || ${k} || ' rev ' || ${n}, 'views', ${n}, 'status', (array[${STATUSES.map(literal).join(', ')}])[${n} % 3 + 1])`
const SALTS = (data: string): string => `(select jsonb_object_agg(f, left(md5(random()::text), 22)) from jsonb_object_keys(${data}) f)`
/** A placeholder as wide as the service's SHA-256 (nothing is hashed), as bench/ceiling.ts writes. */
const HASH = (k: string, seq: string, tx: string): string => `md5(${k} || ' ' || ${seq}) || md5(${literal(`${INGEST_TYPE} `)} || ${tx})`

/**
 * The one statement that records: reads each entity's latest version (one probe of the
 * versions' primary key each), checks each change against it (insert: absent or deleted;
 * update: live), computes the new state and its [old, new] changeset as bench/ceiling.ts
 * does, inserts the transaction row (its id drawn after the locks) and appends the
 * versions with the service's integrity columns (a 22-character salt per field, a
 * 64-hex-digit hash placeholder). An update sets a title, views and status from the new
 * version number (as the service's workload sets them from a counter); an insert the full
 * article. Writes nothing when a change is refused: the count check after the run sees it.
 */
export function recordStatement (): string {
  return `with input as (
  select i.k, i.ins, i.pos from unnest(:keys::bigint[], :inserts::bool[]) with ordinality as i(k, ins, pos)
), cur as (
  select i.*, l.seq as lseq, l.operation as lop, l.data as ldata
  from input i left join lateral (
    select v.seq, v.operation, v.data from versions v
    where v.tenant = ${literal(TENANT)} and v.type = ${literal(INGEST_TYPE)} and v.entity_key = i.k::text
    order by v.transaction_id desc limit 1
  ) l on true
), patched as (
  select c.*, coalesce(c.lseq + 1, 0) as seq,
    case when c.ins then ${ARTICLE('c.k')} else ${UPDATE('c.k', '(c.lseq + 1)')} end as patch
  from cur c
), planned as (
  select p.k, p.pos, p.seq,
    case when p.ins then 'insert' else 'update' end as operation,
    case when p.ins then p.lop is null or p.lop = 'delete' else p.lop is not null and p.lop <> 'delete' end as ok,
    case when p.ins then p.patch else p.ldata || p.patch end as data,
    coalesce((
      select jsonb_object_agg(e.key, jsonb_build_array(case when p.ins then null else coalesce(p.ldata -> e.key, 'null'::jsonb) end, e.value))
      from jsonb_each(p.patch) e
      where case when p.ins then e.value <> 'null'::jsonb else coalesce(p.ldata -> e.key, 'null'::jsonb) <> e.value end
    ), '{}'::jsonb) as changeset
  from patched p
), tx as (
  insert into transactions (tenant, issued_at, actor, meta)
  select ${literal(TENANT)}, now(), 'bench', '{"via": "pgbench"}'::jsonb
  where not exists (select 1 from planned where not ok) and exists (select 1 from planned where changeset <> '{}'::jsonb)
  returning id
), written as (
  insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
  select ${literal(TENANT)}, ${literal(INGEST_TYPE)}, p.k::text, tx.id, p.seq, (row_number() over (order by p.pos) - 1)::int,
    p.operation, p.data, p.changeset, ${SALTS('p.data')}, ${HASH('p.k', 'p.seq', 'tx.id')}
  from planned p cross join tx
  where p.changeset <> '{}'::jsonb
  returning 1
)
select count(*) as versions from written`
}

/** The pgbench script of a workload (a transaction: BEGIN, the draw with its locks, the record statement, COMMIT). */
export function pgbenchScript (w: CeilingWorkload): string {
  return `BEGIN;\n${drawStatement(w)}\n\\gset\n${recordStatement()};\nCOMMIT;\n`
}

/** The minimal append-only schema: transactions and versions with their primary keys only (the versions' one finds an entity's latest version). */
export const MINIMAL_SCHEMA = [
  `create table transactions (
  id bigserial primary key, tenant text not null, issued_at timestamptz not null,
  recorded_at timestamptz not null default now(), actor text, meta jsonb not null default '{}'::jsonb)`,
  `create table versions (
  tenant text not null, type text collate "C" not null, entity_key text collate "C" not null, transaction_id bigint not null,
  seq integer not null, position integer not null, operation text not null, data jsonb not null, changeset jsonb not null,
  salts jsonb not null, hash text not null,
  constraint versions_pk primary key (tenant, type, entity_key, transaction_id))`
]

/** The pools, each article in a transaction of its own (so that the transactions table is not a one-page table whose foreign-key probes are planned as scans). */
async function seedPools (client: pg.Client, workloads: readonly CeilingWorkload[]): Promise<number> {
  let offset = 0
  for (const w of workloads) {
    const { poolSize } = w.shape
    await client.query(`
      insert into transactions (id, tenant, issued_at, recorded_at, actor, meta)
      select ${offset} + i, $1, now(), now(), 'bench-pool', '{}'::jsonb from generate_series(1, ${poolSize}) i`, [TENANT])
    await client.query(`
      insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      select $1, $2, x.k::text, x.tx, 0, 0, 'insert', x.data,
        (select jsonb_object_agg(e.key, jsonb_build_array(null, e.value)) from jsonb_each(x.data) e),
        ${SALTS('x.data')}, ${HASH('x.k', '0', 'x.tx')}
      from (select ${w.poolFirst - 1} + i as k, ${offset} + i as tx, ${ARTICLE(`(${w.poolFirst - 1} + i)`)} as data from generate_series(1, ${poolSize}) i) x`,
    [TENANT, INGEST_TYPE])
    offset += poolSize
  }
  await client.query(`select setval(pg_get_serial_sequence('transactions', 'id'), ${offset})`)
  await client.query(`create sequence ${INSERT_IDS} start with ${INSERT_IDS_START}`)
  await client.query('vacuum analyze transactions')
  await client.query('vacuum analyze versions')
  return offset
}

interface Target { schema: CeilingSchema, database: string, url: string }

/** What pgbench printed of one run. */
export interface PgbenchOutput { processed: number, failed: number, tps: number, latencyAverageMs: number }

export function parsePgbench (out: string): PgbenchOutput {
  const number = (re: RegExp): number => {
    const m = re.exec(out)
    if (m === null) throw new Error(`pgbench printed no ${re.source}:\n${out}`)
    return Number(m[1])
  }
  return {
    processed: number(/number of transactions actually processed: (\d+)/),
    // pgbench 15 prints it; earlier versions stop a client at its first error (and exit non-zero).
    failed: /number of failed transactions: (\d+)/.test(out) ? number(/number of failed transactions: (\d+)/) : 0,
    tps: number(/tps = ([\d.]+)/),
    latencyAverageMs: number(/latency average = ([\d.]+) ms/)
  }
}

/** The two databases of the ceiling, their seeded pools and the pgbench scripts; `run` measures one pgbench run. */
export class PgbenchCeiling {
  private constructor (
    private readonly adminUrl: string,
    private readonly dir: string,
    private readonly targets: Record<CeilingSchema, Target>,
    readonly scripts: Record<CeilingWorkloadName, string>,
    readonly version: string
  ) {}

  /** Drops the ceiling's databases (whatever of them exists). */
  static async drop (adminUrl: string): Promise<void> {
    for (const name of [PGBENCH_MINIMAL_DATABASE, PGBENCH_SERVICE_DATABASE]) await dropBenchDatabase(adminUrl, name)
  }

  /** Creates both databases (the service's schema by its own migrations), seeds the workloads' pools and writes the scripts to a temporary folder. */
  static async create (adminUrl: string, workloads: readonly CeilingWorkload[], log: (message: string) => void): Promise<PgbenchCeiling> {
    const version = await new Promise<string>((resolve, reject) => {
      execFile(PGBENCH, ['--version'], (error, stdout) => { error === null ? resolve(stdout.trim()) : reject(new Error(`${PGBENCH} does not run (set PG_BIN): ${error.message}`)) })
    })
    const minimal = await createBenchDatabase(adminUrl, PGBENCH_MINIMAL_DATABASE)
    const service = await createBenchDatabase(adminUrl, PGBENCH_SERVICE_DATABASE)
    const db = await openDatabase({ databaseUrl: service, poolSize: 1 })
    try {
      await migrateToLatest(db)
      // versions is partitioned by transaction id: the partitions the runs' ids need, made as the service makes them.
      await sql`select rewind_ensure_partitions(${DEFAULT_PARTITIONS.size}, 5)`.execute(db)
    } finally {
      await db.destroy()
    }
    for (const [url, ddl] of [[minimal, MINIMAL_SCHEMA], [service, []]] as const) {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        for (const statement of ddl) await client.query(statement)
        const seeded = await seedPools(client, workloads)
        log(`  ${url === minimal ? 'minimal schema' : 'service\'s schema (its migrations)'}: seeded ${seeded.toLocaleString('en-US')} articles, one transaction each`)
      } finally {
        await client.end()
      }
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rewind-pgbench-ceiling-'))
    const scripts = {} as Record<CeilingWorkloadName, string>
    for (const w of workloads) {
      scripts[w.name] = pgbenchScript(w)
      writeFileSync(path.join(dir, `${w.name}.sql`), scripts[w.name])
    }
    return new PgbenchCeiling(adminUrl, dir, {
      minimal: { schema: 'minimal', database: PGBENCH_MINIMAL_DATABASE, url: minimal },
      serviceSchema: { schema: 'serviceSchema', database: PGBENCH_SERVICE_DATABASE, url: service }
    }, scripts, version)
  }

  /** The indexes and constraints of the versions and transactions tables of a schema (for the report). */
  async describe (schema: CeilingSchema): Promise<string[]> {
    return await this.withClient(schema, async (client) => {
      const { rows } = await client.query<{ def: string }>(`
        select c.conrelid::regclass::text || ': ' || pg_get_constraintdef(c.oid) as def from pg_constraint c
        where c.conrelid in ('transactions'::regclass, 'versions'::regclass)
        union all
        select i.tablename || ': ' || case when i.indexdef like 'CREATE UNIQUE%' then 'unique ' else '' end || regexp_replace(i.indexdef, '^.* USING ', '') from pg_indexes i
        where i.schemaname = current_schema() and i.tablename in ('transactions', 'versions')
          and not exists (select 1 from pg_constraint c where c.conname = i.indexname)
        union all
        select t.tgrelid::regclass::text || ': trigger ' || t.tgname from pg_trigger t
        where t.tgrelid in ('transactions'::regclass, 'versions'::regclass) and not t.tgisinternal
        order by 1`)
      return rows.map((r) => r.def)
    })
  }

  /** ANALYZE both schemas' tables (after a warm-up: plans made on fresh statistics). */
  async analyze (): Promise<void> {
    for (const schema of ['minimal', 'serviceSchema'] as const) await this.withClient(schema, async (client) => { await client.query('analyze transactions, versions') })
  }

  /**
   * One pgbench run of `seconds` on `schema`: `-M prepared`, CONNECTIONS clients, the
   * workload's script. Versions/s is pgbench's tps (without connection time) × the changes
   * per transaction; throws when pgbench fails, reports a failed transaction, or when the
   * rows written (counted before and after) are not processed × (1 transaction row, n versions).
   */
  async run (schema: CeilingSchema, w: CeilingWorkload, seconds: number, label: string): Promise<LoadFigures> {
    const target = this.targets[schema]
    const before = await this.count(schema)
    const prefix = `${w.name}-${schema}-${Date.now()}`
    const url = new URL(target.url)
    const threads = Math.max(1, Math.min(CONNECTIONS, os.cpus().length))
    const args = ['-n', '-M', 'prepared', '-c', String(CONNECTIONS), '-j', String(threads), '-T', String(seconds),
      '-f', path.join(this.dir, `${w.name}.sql`), '-l', `--log-prefix=${path.join(this.dir, prefix)}`,
      '-h', url.hostname, '-p', url.port === '' ? '5432' : url.port, '-U', decodeURIComponent(url.username || 'postgres'), target.database]
    const env = { ...process.env, PGAPPNAME: 'rewind-bench-pgbench', ...(url.password === '' ? {} : { PGPASSWORD: decodeURIComponent(url.password) }) }
    const out = await new Promise<string>((resolve, reject) => {
      execFile(PGBENCH, args, { env, timeout: (seconds + 120) * 1000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${label}: pgbench failed (${error.message})\n${stdout}\n${stderr}`))
        else resolve(stdout)
      })
    })
    const latencies = this.latencies(prefix)
    const result = parsePgbench(out)
    const after = await this.count(schema)
    const n = w.changesPerTransaction
    if (result.failed !== 0) throw new Error(`${label}: pgbench reports ${result.failed} failed transactions\n${out}`)
    if (after.transactions - before.transactions !== result.processed || after.versions - before.versions !== result.processed * n) {
      throw new Error(`${label}: pgbench processed ${result.processed} transactions (${result.processed * n} versions) but ` +
        `${after.transactions - before.transactions} transactions and ${after.versions - before.versions} versions were written`)
    }
    latencies.sort((a, b) => a - b)
    return {
      label,
      changesPerTransaction: n,
      seconds: result.processed / result.tps,
      transactions: result.processed,
      versions: result.processed * n,
      transactionsPerSecond: result.tps,
      versionsPerSecond: result.tps * n,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      non2xx: result.failed,
      errors: 0
    }
  }

  /** Drops both databases and the scripts' folder. */
  async close (): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true })
    await PgbenchCeiling.drop(this.adminUrl)
  }

  /** Per-transaction latencies (ms) from pgbench's logs of the run `prefix` (one file per thread), which it then removes. */
  private latencies (prefix: string): number[] {
    const out: number[] = []
    for (const file of readdirSync(this.dir).filter((f) => f.startsWith(`${prefix}.`))) {
      const full = path.join(this.dir, file)
      for (const line of readFileSync(full, 'utf8').split('\n')) {
        const micros = Number(line.split(' ')[2])
        if (line !== '' && Number.isFinite(micros)) out.push(micros / 1000)
      }
      rmSync(full, { force: true })
    }
    return out
  }

  private async count (schema: CeilingSchema): Promise<{ transactions: number, versions: number }> {
    return await this.withClient(schema, async (client) => {
      const { rows } = await client.query<{ t: string, v: string }>('select (select count(*) from transactions) as t, (select count(*) from versions) as v')
      return { transactions: Number(rows[0]!.t), versions: Number(rows[0]!.v) }
    })
  }

  private async withClient<T> (schema: CeilingSchema, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.targets[schema].url })
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  }
}
