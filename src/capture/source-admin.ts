import pg from 'pg'
import { invalid } from '../versioning/errors.js'
import type { SourceConfig, TableMapping } from '../services/capture-sources.js'
import { lsnDistance } from './lsn.js'

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`
const qualified = (table: string): string => { const [schema, name] = splitTable(table); return `${quote(schema)}.${quote(name)}` }

/** `schema.table` split in two (a name without a schema is in `public`). */
export function splitTable (table: string): [string, string] {
  const dot = table.indexOf('.')
  return dot < 0 ? ['public', table] : [table.slice(0, dot), table.slice(dot + 1)]
}

/** A short-lived connection to a source (never the replication one). */
export async function withSource<T> (connection: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: connection, connectionTimeoutMillis: 5000, statement_timeout: 15_000, application_name: 'rewind-capture' })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    throw invalid(`connection: cannot connect to the source: ${(error as Error).message}`)
  }
  try {
    return await work(client)
  } finally {
    await client.end().catch(() => {})
  }
}

const problem = (where: string, error: unknown): Error => invalid(`${where}: ${(error as Error).message}`)

/**
 * Prepares a source for capture: checks `wal_level`, each table and its id fields (the
 * primary key unless the mapping names them), creates the publication (or sets its tables)
 * and the slot when missing. Answers each table's id fields and the slot's start position
 * (null when the slot existed: capture resumes where it was).
 */
export async function prepareSource (config: SourceConfig): Promise<{ idFields: Map<string, string[]>, createdAt: string | null }> {
  return await withSource(config.connection, async (client) => {
    const level = (await client.query<{ wal_level: string }>('show wal_level')).rows[0]?.wal_level
    if (level !== 'logical') throw invalid(`connection: the source's wal_level is "${level ?? 'unknown'}": logical replication needs wal_level = logical (postgresql.conf, then a restart)`)
    const idFields = new Map<string, string[]>()
    for (const [table, mapping] of Object.entries(config.tables)) idFields.set(table, await tableKey(client, table, mapping))
    const tables = Object.keys(config.tables).map(qualified).join(', ')
    const exists = (await client.query('select 1 from pg_publication where pubname = $1', [config.publication])).rowCount === 1
    try {
      await client.query(`${exists ? 'alter' : 'create'} publication ${quote(config.publication)} ${exists ? 'set' : 'for'} table ${tables}`)
    } catch (error) {
      throw problem(`publication "${config.publication}"`, error)
    }
    const slot = (await client.query('select 1 from pg_replication_slots where slot_name = $1', [config.slot])).rowCount === 1
    if (slot) return { idFields, createdAt: null }
    try {
      // In a statement of its own: a slot is not created in a transaction that wrote.
      const { rows } = await client.query<{ lsn: string }>(`select lsn::text from pg_create_logical_replication_slot($1, 'pgoutput')`, [config.slot])
      return { idFields, createdAt: rows[0]!.lsn }
    } catch (error) {
      throw problem(`slot "${config.slot}"`, error)
    }
  })
}

async function tableKey (client: pg.Client, table: string, mapping: TableMapping): Promise<string[]> {
  const [schema, name] = splitTable(table)
  const found = await client.query<{ oid: number }>('select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2 and c.relkind in (\'r\', \'p\')', [schema, name])
  if (found.rowCount !== 1) throw invalid(`tables.${table}: the source has no table ${table}`)
  if (mapping.idFields !== undefined) return mapping.idFields
  const { rows } = await client.query<{ name: string }>(`
    select a.attname as name from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = $1 and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)`, [found.rows[0]!.oid])
  if (rows.length === 0) throw invalid(`tables.${table}: the table has no primary key: give idFields`)
  return rows.map((r) => r.name)
}

/** How far behind a source's capture is, and its slot as the source sees it. */
export interface SourceLag { bytes: number, slot: { exists: boolean, active: boolean, retainedBytes: number | null } }

export async function sourceLag (config: SourceConfig, confirmedLsn: string | null): Promise<SourceLag> {
  return await withSource(config.connection, async (client) => {
    const { rows } = await client.query<{ current: string, active: boolean | null, restart: string | null, confirmed: string | null }>(`
      select pg_current_wal_lsn()::text as current, s.active, s.restart_lsn::text as restart, s.confirmed_flush_lsn::text as confirmed
      from (select 1) x left join pg_replication_slots s on s.slot_name = $1`, [config.slot])
    const r = rows[0]!
    const position = confirmedLsn ?? r.confirmed ?? r.current
    return {
      bytes: lsnDistance(position, r.current),
      slot: { exists: r.active !== null, active: r.active === true, retainedBytes: r.restart === null ? null : lsnDistance(r.restart, r.current) }
    }
  })
}

/** Drops a source's slot, ending the session that reads it first (capture stopped, or another instance still on it). */
export async function dropSlot (config: SourceConfig): Promise<void> {
  await withSource(config.connection, async (client) => {
    for (let attempt = 0; attempt < 20; attempt++) {
      await client.query('select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null', [config.slot])
      try {
        await client.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [config.slot])
        return
      } catch (error) {
        if (!/is active/.test((error as Error).message)) throw problem(`slot "${config.slot}"`, error)
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
  })
}

/** A transactional message on the source that moves the slot on when only unmapped tables are written. */
export async function emitHeartbeat (config: SourceConfig): Promise<void> {
  await withSource(config.connection, async (client) => {
    await client.query(`select pg_logical_emit_message(true, 'rewind-heartbeat', '')`)
  })
}

/** The connection string as answers show it: without its password. */
export function maskedConnection (connection: string): string {
  try {
    const url = new URL(connection)
    if (url.password !== '') url.password = '***'
    url.searchParams.delete('password')
    return url.toString()
  } catch {
    return connection.replace(/password=\S+/g, 'password=***')
  }
}
