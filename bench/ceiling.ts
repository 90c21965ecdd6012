import { createHash } from 'node:crypto'
import pg from 'pg'
import { CONNECTIONS, TENANT } from './config.js'
import { loadFigures, type LoadFigures } from './ingest.js'
import type { Change, Workload } from './workload.js'

/** The service's advisory-lock key of an entity: the first 8 bytes of sha1(tenant \0 type \0 key). */
function lockKey (type: string, key: string): bigint {
  return createHash('sha1').update(`${TENANT}\u0000${type}\u0000${key}`).digest().readBigInt64BE(0)
}

const LOCK: pg.QueryConfig = { name: 'ceiling_lock', text: 'select pg_advisory_xact_lock(k) from unnest($1::bigint[]) k' }

/**
 * One statement: reads each entity's latest version (one primary-key probe each), checks
 * the operations against it (insert: absent or deleted; update: live), computes the new
 * state and the [old, new] changeset in SQL, inserts the transaction row (its id taken
 * after the locks) and appends the version rows. Records nothing when a change is
 * rejected (the caller rolls back) or when no change makes a version. Its rows have the
 * service's shape since integrity (a 22-character salt per field, a 64-hex-digit hash) but
 * not its work: the salts are random and the hash a placeholder (nothing is hashed).
 */
const RECORD = {
  name: 'ceiling_record',
  text: `
with input as (
  select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) with ordinality as i(type, key, op, patch, pos)
), cur as (
  select i.*, l.seq as lseq, l.operation as lop, l.data as ldata
  from input i left join lateral (
    select v.seq, v.operation, v.data from versions v
    where v.tenant = $5 and v.type = i.type and v.entity_key = i.key
    order by v.transaction_id desc limit 1
  ) l on true
), planned as (
  select c.type, c.key, c.pos, coalesce(c.lseq + 1, 0) as seq,
    case when c.op = 'insert' then 'insert' else 'update' end as operation,
    case when c.op = 'insert' then c.lop is null or c.lop = 'delete' else c.lop is not null and c.lop <> 'delete' end as ok,
    case when c.op = 'insert' then c.patch else c.ldata || c.patch end as data,
    coalesce((
      select jsonb_object_agg(p.key, jsonb_build_array(case when c.op = 'insert' then null else coalesce(c.ldata -> p.key, 'null'::jsonb) end, p.value))
      from jsonb_each(c.patch) p
      where case when c.op = 'insert' then p.value <> 'null'::jsonb else coalesce(c.ldata -> p.key, 'null'::jsonb) <> p.value end
    ), '{}'::jsonb) as changeset
  from cur c
), tx as (
  insert into transactions (tenant, issued_at, actor, meta)
  select $5, now(), $6, '{}'::jsonb
  where not exists (select 1 from planned where not ok) and exists (select 1 from planned where changeset <> '{}'::jsonb)
  returning id
), ins as (
  insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
  select $5, p.type, p.key, tx.id, p.seq, (row_number() over (order by p.pos) - 1)::int, p.operation, p.data, p.changeset,
    (select jsonb_object_agg(f, left(md5(random()::text), 22)) from jsonb_object_keys(p.data) f),
    md5(p.key || ' ' || p.seq) || md5(p.type || ' ' || tx.id)
  from planned p cross join tx
  where p.changeset <> '{}'::jsonb
  returning 1
)
select (select id from tx) as id, (select count(*) from ins)::int as versions, (select count(*) from planned where not ok)::int as rejected`
}

interface Outcome { versions: number, rejected: boolean }

async function recordOne (client: pg.PoolClient, changes: readonly Change[]): Promise<Outcome> {
  const keys = changes.map((c) => c.id ?? String(c.data.id))
  const locks = [...new Set(changes.map((c, i) => lockKey(c.type, keys[i]!)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  await client.query('begin')
  try {
    await client.query({ ...LOCK, values: [locks.map(String)] })
    const { rows } = await client.query<{ id: string | null, versions: number, rejected: number }>({
      ...RECORD,
      values: [changes.map((c) => c.type), keys, changes.map((c) => c.op), changes.map((c) => JSON.stringify(c.data)), TENANT, 'bench']
    })
    const row = rows[0]
    if (row === undefined || row.rejected > 0) {
      await client.query('rollback')
      return { versions: 0, rejected: true }
    }
    await client.query('commit')
    return { versions: row.versions, rejected: false }
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  }
}

/**
 * The Node client (once the bench's ceiling; the ceiling is now pgbench's, see
 * bench/pgbench-ceiling.ts): the same transactions written straight over `pg` by
 * CONNECTIONS loops for `seconds` (BEGIN; sorted advisory locks; one recording statement;
 * COMMIT). Set beside pgbench's figures it tells what a Node client costs; beside the
 * service, how the service compares on 1-change transactions (where its single statement
 * beats these four round trips) and with its latest-state hints off.
 */
export async function ingestCeiling (
  databaseUrl: string, workload: Workload, changesPerTransaction: number, seconds: number, label: string
): Promise<LoadFigures> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: CONNECTIONS })
  pool.on('error', () => {})
  const latencies: number[] = []
  let transactions = 0
  let versions = 0
  let rejected = 0
  let errors = 0
  const maxIterations = 2_000_000 // a bound besides the clock
  const start = performance.now()
  const deadline = start + seconds * 1000
  try {
    const loops = Array.from({ length: CONNECTIONS }, async () => {
      const client = await pool.connect()
      try {
        for (let i = 0; i < maxIterations && performance.now() < deadline; i++) {
          const changes = workload.transaction(changesPerTransaction)
          const t0 = performance.now()
          try {
            const outcome = await recordOne(client, changes)
            if (outcome.rejected) rejected++
            else { transactions++; versions += outcome.versions }
          } catch {
            errors++
            if (errors > 100) throw new Error(`${label}: too many errors`)
          }
          latencies.push(performance.now() - t0)
        }
      } finally {
        client.release()
      }
    })
    await Promise.all(loops)
  } finally {
    await pool.end()
  }
  return loadFigures(label, changesPerTransaction, start, { transactions, versions, non2xx: rejected, errors }, latencies)
}
