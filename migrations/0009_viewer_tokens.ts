import { type Kysely, sql } from 'kysely'

/**
 * Viewer tokens: short-lived, read-only bearer tokens an admin hands to its own users to
 * show them history, optionally limited to one entity type or one entity. Stored hashed,
 * like API keys; a token stops working when it expires or when the key that issued it is
 * revoked.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('viewer_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
    .addColumn('issued_by', 'text', (c) => c.notNull().references('api_keys.id'))
    .addColumn('type', 'text')
    .addColumn('entity_key', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('viewer_tokens_expires_idx').on('viewer_tokens').column('expires_at').execute()
  await sql`grant select, insert, delete on viewer_tokens to rewind_runtime`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('viewer_tokens').ifExists().execute()
}
