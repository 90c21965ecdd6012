import pg from 'pg'
import { median } from './ingest-rounds.js'
import { threadSchedule } from './process-cpu.js'
import { removables, type Removable } from './removable-indexes.js'

/*
 * What each secondary index and foreign key of `versions` and `transactions` costs per row
 * written, measured where one append's few rows would drown in the noise of a busy machine:
 * a copy of each table with the same indexes and foreign key (`like … including all`,
 * then the foreign key), holding the table's rows but its last ROWS (at most half), then
 * those rows inserted again in their order (as the service appended them) in one
 * statement, in a transaction rolled back after. As is, then without each index or foreign key in turn
 * (dropped in that transaction): the difference of the backend's CPU (schedstat) and of the
 * WAL written, per row, is what that index or key costs a row. An append of n versions
 * writes n rows of `versions` and one of `transactions`.
 */

const ROWS = 5000

export interface IndexRowCost {
  table: string
  name: string
  kind: Removable['kind']
  definition: string
  /** Per row inserted: medians over the rounds. */
  cpuMicrosPerRow: number
  walBytesPerRow: number
}

export interface IndexRowCosts {
  rows: Record<string, number>
  rounds: number
  /** The copy with everything, per row: CPU µs (reading the rows to copy included) and WAL bytes. */
  base: Record<string, { cpuMicrosPerRow: number, walBytesPerRow: number }>
  indexes: IndexRowCost[]
}

interface Probe { table: string, copy: string, order: string, rows: number, removables: Removable[] }

/** Makes the copy of `table` (its rows but the last ROWS) with its indexes and foreign keys, renamed for the copy. */
async function makeProbe (client: pg.Client, table: string, order: string, own: readonly Removable[]): Promise<Probe> {
  const copy = `bench_probe_${table}`
  await client.query(`drop table if exists ${copy}`)
  await client.query(`create table ${copy} (like ${table} including all)`)
  const { rows } = await client.query<{ n: string }>(`select count(*)::text as n from ${table}`)
  const n = Math.min(ROWS, Math.floor(Number(rows[0]!.n) / 2))
  await client.query(`insert into ${copy} select * from ${table} order by ${order} limit (select count(*) - ${n} from ${table})`)
  await client.query(`drop table if exists ${copy}_rows`)
  await client.query(`create table ${copy}_rows as select * from ${table} order by ${order} offset (select count(*) - ${n} from ${table})`)
  const fks = own.filter((r) => r.kind === 'foreign key')
  for (const fk of fks) await client.query(`alter table ${copy} add constraint ${copy}_${fk.name} ${fk.definition}`)
  await client.query(`analyze ${copy}`)
  // The copy's own names for the table's indexes (like … including all names them anew): matched by definition.
  const { rows: indexes } = await client.query<{ name: string, def: string }>(
    "select indexname as name, regexp_replace(indexdef, '^.* USING ', '') as def from pg_indexes where tablename = $1", [copy])
  const mapped: Removable[] = own.map((r) => {
    if (r.kind === 'foreign key') return { ...r, drop: `alter table ${copy} drop constraint ${copy}_${r.name}` }
    const twin = indexes.find((i) => i.def === r.definition)
    if (twin === undefined) throw new Error(`the copy of ${table} has no index like ${r.name} (${r.definition})`)
    return { ...r, drop: `drop index ${twin.name}` }
  })
  return { table, copy, order, rows: n, removables: mapped }
}

/** One insert of the probe's last rows after `ddl`, in a rolled-back transaction: CPU µs and WAL bytes. */
async function insertOnce (client: pg.Client, backend: number, probe: Probe, ddl: readonly string[]): Promise<{ cpu: number, wal: number }> {
  await client.query('begin')
  try {
    for (const statement of ddl) await client.query(statement)
    const lsn = (await client.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn')).rows[0]!.lsn
    const cpu0 = threadSchedule(backend).cpuMicros
    await client.query(`insert into ${probe.copy} select * from ${probe.copy}_rows order by ${probe.order}`)
    const cpu = threadSchedule(backend).cpuMicros - cpu0
    const { rows } = await client.query<{ bytes: string }>('select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint::text as bytes', [lsn])
    return { cpu, wal: Number(rows[0]!.bytes) }
  } finally {
    await client.query('rollback')
  }
}

export async function measureIndexRowCosts (databaseUrl: string, rounds: number): Promise<IndexRowCosts> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid
    const all = await removables(client)
    const probes = [
      await makeProbe(client, 'versions', 'transaction_id, position', all.filter((r) => r.table === 'versions')),
      await makeProbe(client, 'transactions', 'id', all.filter((r) => r.table === 'transactions'))
    ]
    try {
      const variants = probes.flatMap((p) => [{ probe: p, without: undefined as Removable | undefined }, ...p.removables.map((r) => ({ probe: p, without: r }))])
      const runs = variants.map(() => [] as Array<{ cpu: number, wal: number }>)
      for (const v of variants) await insertOnce(client, backend, v.probe, v.without === undefined ? [] : [v.without.drop]) // warm
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < variants.length; k++) {
          const i = (k + round) % variants.length
          const v = variants[i]!
          runs[i]!.push(await insertOnce(client, backend, v.probe, v.without === undefined ? [] : [v.without.drop]))
        }
      }
      const perRow = (i: number): { cpuMicrosPerRow: number, walBytesPerRow: number } => ({
        cpuMicrosPerRow: median(runs[i]!.map((r) => r.cpu)) / variants[i]!.probe.rows,
        walBytesPerRow: median(runs[i]!.map((r) => r.wal)) / variants[i]!.probe.rows
      })
      const base: IndexRowCosts['base'] = {}
      const indexes: IndexRowCost[] = []
      variants.forEach((v, i) => {
        if (v.without === undefined) { base[v.probe.table] = perRow(i); return }
        const b = perRow(variants.findIndex((w) => w.probe === v.probe && w.without === undefined))
        const without = perRow(i)
        indexes.push({
          table: v.probe.table,
          name: v.without.name,
          kind: v.without.kind,
          definition: v.without.definition,
          cpuMicrosPerRow: b.cpuMicrosPerRow - without.cpuMicrosPerRow,
          walBytesPerRow: b.walBytesPerRow - without.walBytesPerRow
        })
      })
      return { rows: Object.fromEntries(probes.map((p) => [p.table, p.rows])), rounds, base, indexes }
    } finally {
      for (const p of probes) await client.query(`drop table if exists ${p.copy}, ${p.copy}_rows`)
    }
  } finally {
    await client.end()
  }
}
