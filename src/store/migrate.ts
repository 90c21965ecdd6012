import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { FileMigrationProvider, Migrator } from 'kysely/migration'
import type { Db } from './database.js'

// migrations/ sits two levels above this file both in the sources (src/store) and in
// the build (dist/src/store → dist/migrations, compiled to .js).
const migrationFolder = fileURLToPath(new URL('../../migrations', import.meta.url))

/** Applies every pending migration; throws when one fails. */
export async function migrateToLatest (db: Db): Promise<string[]> {
  // Kysely looks for its migration tables in every schema unless told which one:
  // keep them in the schema this connection works in (tests use one schema each).
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder }),
    migrationTableSchema: rows[0]!.schema
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    throw error instanceof Error ? error : new Error(String(error))
  }
  return (results ?? []).map((r) => r.migrationName)
}
