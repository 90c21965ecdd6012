import { type Kysely, sql } from 'kysely'

/**
 * Access: API keys (stored hashed) of tenants; the key that recorded each transaction;
 * idempotency keys scoped to the API key that sent them.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    // SHA-256 (hex) of the secret: the secret itself is never stored.
    .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute()
  await db.schema.createIndex('api_keys_tenant_idx').on('api_keys').columns(['tenant', 'id']).execute()

  await db.schema.alterTable('transactions').addColumn('recorded_by', 'jsonb').execute()

  await db.schema.alterTable('idempotency_keys').addColumn('api_key_id', 'text', (c) => c.notNull().defaultTo('')).execute()
  await db.schema.alterTable('idempotency_keys').dropConstraint('idempotency_keys_pk').execute()
  await db.schema.alterTable('idempotency_keys').addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant', 'api_key_id', 'key']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_keys').dropConstraint('idempotency_keys_pk').execute()
  await db.schema.alterTable('idempotency_keys').dropColumn('api_key_id').execute()
  await db.schema.alterTable('idempotency_keys').addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant', 'key']).execute()
  await db.schema.alterTable('transactions').dropColumn('recorded_by').execute()
  await db.schema.dropTable('api_keys').ifExists().execute()
}
