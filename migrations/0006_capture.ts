import { type Kysely, sql } from 'kysely'

/**
 * Capture from PostgreSQL: each source of a tenant (its connection, tables, publication
 * and slot), the source position up to which its transactions are recorded (advanced in
 * the same database transaction as the versions they produced), and its state.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('capture_sources')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('confirmed_lsn', 'text')
    .addColumn('last_commit_at', 'timestamptz')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('starting'))
    .addColumn('reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('capture_sources_pkey', ['tenant', 'name'])
    .execute()
  await sql`grant select, insert, update, delete on capture_sources to rewind_runtime`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('capture_sources').ifExists().execute()
}
