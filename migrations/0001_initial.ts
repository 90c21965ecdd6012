import { type Kysely, sql } from 'kysely'

/**
 * Rewind's storage: entity types with their kept revisions, transactions, and the
 * append-only versions table. No DDL per entity type: snapshots are generic JSONB.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('entity_types')
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('entity_types_pk', ['tenant', 'type'])
    .execute()

  await db.schema.createTable('entity_type_revisions')
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('entity_type_revisions_pk', ['tenant', 'type', 'revision'])
    .execute()

  await db.schema.createTable('transactions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor', 'text')
    .addColumn('meta', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('revert_of', 'jsonb')
    .execute()
  await db.schema.createIndex('transactions_tenant_id_idx').on('transactions').columns(['tenant', 'id']).execute()
  await db.schema.createIndex('transactions_tenant_actor_idx').on('transactions').columns(['tenant', 'actor', 'id']).execute()
  await db.schema.createIndex('transactions_tenant_issued_idx').on('transactions').columns(['tenant', 'issued_at']).execute()

  // Append-only: a version row is never updated. endTransactionId is the next row's
  // transaction_id, so "latest version at or before t" is one probe of the primary key.
  await db.schema.createTable('versions')
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('entity_key', 'text', (c) => c.notNull())
    .addColumn('transaction_id', 'bigint', (c) => c.notNull().references('transactions.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull().check(sql`operation in ('insert', 'update', 'delete')`))
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('changeset', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('versions_pk', ['tenant', 'type', 'entity_key', 'transaction_id'])
    .execute()
  await db.schema.createIndex('versions_transaction_idx').on('versions').columns(['transaction_id', 'position']).execute()

  // Declared foreign keys of versioned entities, written at ingest when their value
  // changes: "which entities pointed at X as of t" is an index range, not a scan.
  await db.schema.createTable('version_refs')
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_key', 'text', (c) => c.notNull())
    .addColumn('source_type', 'text', (c) => c.notNull())
    .addColumn('source_field', 'text', (c) => c.notNull())
    .addColumn('source_key', 'text', (c) => c.notNull())
    .addColumn('transaction_id', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('version_refs_pk',
      ['tenant', 'target_type', 'target_key', 'source_type', 'source_field', 'transaction_id', 'source_key'])
    .execute()

  await db.schema.createTable('idempotency_keys')
    .addColumn('tenant', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('response', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant', 'key'])
    .execute()
  await db.schema.createIndex('idempotency_keys_created_idx').on('idempotency_keys').column('created_at').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of ['idempotency_keys', 'version_refs', 'versions', 'transactions', 'entity_type_revisions', 'entity_types']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
