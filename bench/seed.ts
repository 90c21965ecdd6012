import type pg from 'pg'
import { HOT_VERSIONS, TENANT } from './config.js'
import { DEFAULT_PARTITIONS } from '../src/services/partitions.js'

/** The service's partition size: its default, or HISTORY_PARTITION_SIZE as the benchmarked service reads it. */
const SERVICE_PARTITION_SIZE = Number(process.env.HISTORY_PARTITION_SIZE ?? DEFAULT_PARTITIONS.size)

/**
 * How a read size is laid out. Transaction 1 holds the fixture: 5 comments and 3 tags of
 * the hot article (article 1) with their article_tag links. Then T timeline transactions
 * (ids 2..T+1), each with G filler versions of A filler entities (articles, every fifth
 * one a comment of the article before it), taken round-robin so that each filler entity
 * gets about 10 versions; every k-th timeline transaction also holds one version of the
 * hot article (H in all: the first an insert, the rest updates).
 */
export interface SeedLayout {
  requested: number
  total: number
  hotVersions: number
  perTransaction: number
  transactions: number
  hotEvery: number
  fillerEntities: number
}

export const HOT_TYPE = 'article'
export const HOT_KEY = '1'
const FIXTURE_VERSIONS = 11
const FILLER_KEY_OFFSET = 1000

export function layoutFor (requested: number): SeedLayout {
  const hotVersions = Math.min(HOT_VERSIONS, Math.floor((requested - FIXTURE_VERSIONS) / 2))
  if (hotVersions < 200) throw new Error(`size ${requested} is too small (the hot entity needs at least 200 versions)`)
  const filler = requested - hotVersions - FIXTURE_VERSIONS
  const perTransaction = Math.max(1, Math.min(4, Math.floor(filler / hotVersions)))
  const transactions = Math.floor(filler / perTransaction)
  const hotEvery = Math.floor(transactions / hotVersions)
  const fillerEntities = Math.max(perTransaction, Math.floor((transactions * perTransaction) / 10))
  return {
    requested,
    total: transactions * perTransaction + hotVersions + FIXTURE_VERSIONS,
    hotVersions,
    perTransaction,
    transactions,
    hotEvery,
    fillerEntities
  }
}

/** The transaction id of the hot article's version with index `seq` (0-based). */
export const hotTransactionId = (layout: SeedLayout, seq: number): number => layout.hotEvery * (seq + 1) + 1

type Fields = Array<[name: string, sql: (key: string, seq: string) => string, changes: boolean]>

// Field values as SQL expressions of the entity's key (an integer) and version index.
const ARTICLE: Fields = [
  ['id', (k) => k, false],
  ['title', (k, s) => `'Article ' || ${k} || ' rev ' || ${s}`, true],
  ['status', (_k, s) => `(array['draft', 'review', 'published'])[${s} % 3 + 1]`, true],
  ['views', (_k, s) => `${s} * 7`, true],
  ['author_id', (k) => `${k} % 97`, false],
  ['body', (k) => `repeat(md5(${k}::text), 5)`, false]
]
const COMMENT: Fields = [
  ['id', (k) => k, false],
  ['article_id', (k) => `${k} - 4`, false],
  ['body', (k, s) => `'Comment ' || ${k} || ' rev ' || ${s}`, true],
  ['votes', (_k, s) => s, true]
]

const data = (fields: Fields, k: string, s: string): string =>
  `jsonb_build_object(${fields.map(([name, expr]) => `'${name}', ${expr(k, s)}`).join(', ')})`
/** An insert's changeset: every (non-null) field from null; an update's: the changing fields [old, new]. */
const changeset = (fields: Fields, k: string, s: string): string => `case when ${s} = 0
  then jsonb_build_object(${fields.map(([name, expr]) => `'${name}', jsonb_build_array(null, ${expr(k, s)})`).join(', ')})
  else jsonb_build_object(${fields.filter((f) => f[2]).map(([name, expr]) => `'${name}', jsonb_build_array(${expr(k, `(${s} - 1)`)}, ${expr(k, s)})`).join(', ')}) end`

/**
 * The seeded history is for read timings only: its versions carry no salts ('{}') and a
 * placeholder hash (two md5s of the version's name: 64 hex digits, as wide as a real
 * SHA-256 one), so it does NOT verify: POST /integrity/verify of the tenant reports every
 * seeded version. Versions with real hashes are written through the service (bench/integrity.ts).
 */
const placeholderHash = (name: string): string => `md5(${name}) || md5('seed ' || ${name})`

const TABLES = ['transactions', 'versions', 'version_refs', 'entity_heads'] as const

interface Definitions { dropConstraints: string[], dropIndexes: string[], create: string[] }

/**
 * The keys, foreign keys and indexes of the three tables as the migrations made them:
 * dropped before the bulk load and recreated after it, identical.
 */
async function tableDefinitions (client: pg.PoolClient): Promise<Definitions> {
  const { rows: constraints } = await client.query<{ tbl: string, name: string, def: string, kind: string }>(`
    select c.conrelid::regclass::text as tbl, c.conname as name, pg_get_constraintdef(c.oid) as def, c.contype as kind
    from pg_constraint c
    where c.conrelid = any(array[${TABLES.map((t) => `'${t}'::regclass`).join(', ')}]) and c.contype in ('p', 'u', 'f')`)
  const { rows: indexes } = await client.query<{ name: string, def: string }>(`
    select i.indexname as name, i.indexdef as def from pg_indexes i
    where i.schemaname = current_schema() and i.tablename = any($1::text[])
      and not exists (select 1 from pg_constraint c where c.conname = i.indexname and c.contype in ('p', 'u'))`, [[...TABLES]])
  const keys = constraints.filter((c) => c.kind !== 'f')
  const foreign = constraints.filter((c) => c.kind === 'f')
  const add = (c: { tbl: string, name: string, def: string }): string => `alter table ${c.tbl} add constraint ${c.name} ${c.def}`
  return {
    dropConstraints: [...foreign, ...keys].map((c) => `alter table ${c.tbl} drop constraint ${c.name}`),
    dropIndexes: indexes.map((i) => `drop index ${i.name}`),
    // An index of the partitioned versions reads "ON ONLY versions": made on the table, it is made on every partition.
    create: [...keys.map(add), ...indexes.map((i) => i.def.replace(' ON ONLY ', ' ON ')), ...foreign.map(add)]
  }
}

/**
 * Empties the history tables and fills them in bulk (INSERT … SELECT from generate_series)
 * with `layout.total` versions, their transactions and their reference rows.
 */
export async function seed (pool: pg.Pool, layout: SeedLayout): Promise<void> {
  const { perTransaction: G, transactions: T, hotEvery: k, fillerEntities: A, hotVersions: H } = layout
  const client = await pool.connect()
  try {
    await client.query(`set maintenance_work_mem = '512MB'`)
    await client.query(`set synchronous_commit = off`)
    // History is append-only (migration 0004's triggers refuse TRUNCATE); the guard lets this session through,
    // as it lets the owner's audited functions. The checkpoints of the ingest runs' history go with it.
    await client.query(`set rewind.history_change = 'on'`)
    await client.query('truncate versions, version_refs, entity_heads, transactions, idempotency_keys, checkpoints, checkpoint_heads')
    // Emptied, no partition is compacted any more (the database may have been seeded and compacted before).
    await client.query('update version_partitions set compacted_at = null')
    const definitions = await tableDefinitions(client)
    for (const statement of [...definitions.dropConstraints, ...definitions.dropIndexes]) await client.query(statement)

    // The sequence first: versions is partitioned by transaction id (migration 0010), and the
    // partitions the seeded ids need are made as the service makes them, of its size.
    await client.query(`select setval(pg_get_serial_sequence('transactions', 'id'), ${T + 1})`)
    await client.query(`select rewind_ensure_partitions(${SERVICE_PARTITION_SIZE}, 2)`)
    await client.query(`
      insert into transactions (id, tenant, issued_at, recorded_at, actor, meta)
      select i, $1, timestamptz '2026-01-01' + i * interval '1 second', timestamptz '2026-01-01' + i * interval '1 second',
        'seed-' || (i % 50), '{}'::jsonb
      from generate_series(1, ${T + 1}) i`, [TENANT])

    // Transaction 1: the hot article's comments, tags and tag links.
    const fixture: Array<[type: string, key: string, json: Record<string, unknown>]> = [
      ...[1, 2, 3, 4, 5].map((c): [string, string, Record<string, unknown>] => ['comment', String(c), { id: c, article_id: 1, body: `Comment ${c} on the hot article`, votes: 0 }]),
      ...[1, 2, 3].map((t): [string, string, Record<string, unknown>] => ['tag', String(t), { id: t, name: `tag-${t}` }]),
      ...[1, 2, 3].map((t): [string, string, Record<string, unknown>] => ['article_tag', `1,${t}`, { article_id: 1, tag_id: t }])
    ]
    await client.query(`
      insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      select $1, f.type, f.key, 1, 0, (f.pos - 1)::int, 'insert', f.data,
        (select jsonb_object_agg(e.key, jsonb_build_array(null, e.value)) from jsonb_each(f.data) e where e.value <> 'null'::jsonb),
        '{}'::jsonb, ${placeholderHash(`f.type || ' ' || f.key`)}
      from unnest($2::text[], $3::text[], $4::jsonb[]) with ordinality as f(type, key, data, pos)`,
    [TENANT, fixture.map((f) => f[0]), fixture.map((f) => f[1]), fixture.map((f) => JSON.stringify(f[2]))])

    // The filler and the hot article, in one statement, in the order the service writes them
    // (by transaction): each entity's versions among the others', the hot article's one to a
    // table page, as in a history recorded through POST /transactions. The rows come out of the
    // nested loop over transactions in that order (no sort: at 50M it would spill the whole
    // history to disk). The filler: ordinal o = (t - 1) * G + p of timeline transaction t goes
    // to entity o % A, as its version o / A. The hot article: its version t / k - 1 in timeline
    // transaction t = k, 2k, …, Hk, after that transaction's filler versions (position G).
    const ek = 'x.k'
    const es = 'x.s'
    await client.query(`
      insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      select $1, x.type, x.k::text, x.t + 1, x.s, x.p, case when x.s = 0 then 'insert' else 'update' end,
        case when x.type = 'article' then ${data(ARTICLE, ek, es)} else ${data(COMMENT, ek, es)} end,
        case when x.type = 'article' then ${changeset(ARTICLE, ek, es)} else ${changeset(COMMENT, ek, es)} end,
        '{}'::jsonb, case when x.hot then ${placeholderHash(`'hot ' || x.s`)} else ${placeholderHash(`x.type || ' ' || x.k || ' ' || x.s`)} end
      from (
        select t, p, p = ${G} as hot,
          case when p = ${G} then ${HOT_KEY} else (o % ${A})::int + ${FILLER_KEY_OFFSET} end as k,
          case when p = ${G} then t / ${k} - 1 else (o / ${A})::int end as s,
          case when p = ${G} or o % ${A} % 5 <> 4 then 'article' else 'comment' end as type
        from generate_series(1, ${T}) t
          cross join lateral generate_series(0, case when t % ${k} = 0 and t / ${k} <= ${H} then ${G} else ${G - 1} end) p
          cross join lateral (select (t - 1)::bigint * ${G} + p as o) ord
      ) x`, [TENANT])

    // The reference index, as ingest writes it: the foreign keys that a version set (inserts here).
    await client.query(`
      insert into version_refs (tenant, target_type, target_key, source_type, source_field, source_key, transaction_id)
      select v.tenant, r.target, v.data ->> r.field, v.type, r.field, v.entity_key, v.transaction_id
      from versions v
      join (values ('comment', 'article_id', 'article'), ('article_tag', 'article_id', 'article'), ('article_tag', 'tag_id', 'tag'))
        as r(source, field, target) on r.source = v.type
      where v.operation = 'insert'`)

    // Each entity's head, as every append keeps it (migration 0011).
    await client.query(`
      insert into entity_heads (tenant, type, entity_key, first_transaction_id, last_transaction_id)
      select tenant, type, entity_key, min(transaction_id), max(transaction_id) from versions group by tenant, type, entity_key`)

    for (const statement of definitions.create) await client.query(statement)
    for (const table of TABLES) await client.query(`vacuum (analyze) ${table}`)
    // Write the load out now, so that a checkpoint does not land in the middle of the read timings.
    await client.query('checkpoint').catch(() => {})
    const { rows } = await client.query<{ n: string }>('select count(*) as n from versions')
    if (Number(rows[0]?.n) !== layout.total) throw new Error(`seeded ${rows[0]?.n} versions, expected ${layout.total}`)
  } finally {
    await client.query('reset rewind.history_change').catch(() => {})
    client.release()
  }
}
