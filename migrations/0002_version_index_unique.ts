import type { Kysely } from 'kysely'

/**
 * An entity's version numbers (its `index`) are unique: two writers that read the same
 * latest version cannot both append the next one. The write path relies on it to read
 * the latest versions without holding a database transaction open (see src/store/append.ts).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('versions_entity_seq_key').unique()
    .on('versions').columns(['tenant', 'type', 'entity_key', 'seq'])
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('versions_entity_seq_key').ifExists().execute()
}
