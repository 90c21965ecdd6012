import { type Kysely, sql } from 'kysely'

/**
 * The change stream's order: each transaction row keeps the id of the database transaction
 * that wrote it (`xid`, assigned after the writer's locks). A reader delivers transactions
 * in (xid, id) order and only those whose xid is below its snapshot's xmin, so a writer
 * still running (whatever transaction id it drew) can only land after the cursor. Rows
 * written before this migration have none: they come first, in id order.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql`alter table transactions add column xid xid8`.execute(db)
  await sql`alter table transactions alter column xid set default pg_current_xact_id()`.execute(db)
  await sql`create index transactions_stream_idx on transactions (tenant, (coalesce(xid, '0'::xid8)), id)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index if exists transactions_stream_idx`.execute(db)
  await sql`alter table transactions drop column if exists xid`.execute(db)
}
