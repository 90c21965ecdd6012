import { loadConfig } from './config.js'
import { claimEmbeddedDatabase, openDatabase } from './store/database.js'
import { migrateToLatest } from './store/migrate.js'

// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database).
const config = loadConfig()
const release = config.DATABASE_URL === undefined || config.DATABASE_URL === '' ? claimEmbeddedDatabase(config.DATA_DIR) : () => {}
const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR })
try {
  const applied = await migrateToLatest(db)
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date')
} finally {
  await db.destroy()
  release()
}
