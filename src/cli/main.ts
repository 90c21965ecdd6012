import { Command, InvalidArgumentError } from 'commander'
import { isScope, SCOPES, type AccessScope } from '../access/index.js'
import type { Db } from '../store/database.js'
import { registerExportCommand } from './export.js'
import { registerImportCommand } from './import.js'
import { registerPartitionsCommand } from './partitions.js'
import { registerVerifyCommand } from './verify.js'

/**
 * `rewind`: the operator's command line. Commands that touch the database use
 * DATABASE_URL (or the embedded database in DATA_DIR, which only one process can open:
 * stop the service first). `verify` checks an export offline, without any database;
 * `export` and `import` talk to a running service over HTTP (REWIND_URL, REWIND_API_KEY).
 */
const program = new Command('rewind')
  .description('Rewind: versioning and audit history as a service')
  .showHelpAfterError()

/** Opens the database for one command. Its modules load here, so that commands without one (verify) start fast. */
async function withDatabase<T> (work: (db: Db) => Promise<T>, migrate = true): Promise<T> {
  const { claimEmbeddedDatabase, openDatabase } = await import('../store/database.js')
  const { migrateToLatest } = await import('../store/migrate.js')
  const { loadConfig } = await import('../config.js') // its schema takes a while to compile: not for commands without a database
  const config = loadConfig()
  // The embedded database is one process's: refused while the service (or another command) has it open.
  const release = config.DATABASE_URL === undefined || config.DATABASE_URL === '' ? claimEmbeddedDatabase(config.DATA_DIR) : () => {}
  try {
    const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 })
    try {
      if (migrate) await migrateToLatest(db)
      return await work(db)
    } finally {
      await db.destroy()
    }
  } finally {
    release()
  }
}

function scopeList (value: string): AccessScope[] {
  const scopes = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const wrong = scopes.filter((s) => !isScope(s))
  if (scopes.length === 0 || wrong.length > 0) {
    throw new InvalidArgumentError(`scopes are a comma-separated list of ${SCOPES.join(', ')}${wrong.length > 0 ? ` (not: ${wrong.join(', ')})` : ''}`)
  }
  return scopes as AccessScope[]
}

program.command('serve')
  .description('start the service (PORT, DATABASE_URL, DATA_DIR… from the environment)')
  .action(async () => { await import('../server.js') })

program.command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const applied = await withDatabase(async (db) => await (await import('../store/migrate.js')).migrateToLatest(db), false)
    console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date')
  })

const keys = program.command('keys').description('API keys of tenants')

keys.command('create')
  .description('create an API key (prints its secret once)')
  .requiredOption('--tenant <tenant>', 'the tenant the key belongs to (created with its first key)')
  .requiredOption('--name <name>', 'who or what uses the key')
  .requiredOption('--scopes <scopes>', `comma-separated: ${SCOPES.join(', ')}`, scopeList)
  .option('--json', 'print the key as one JSON line')
  .action(async (options: { tenant: string, name: string, scopes: AccessScope[], json?: boolean }) => {
    const created = await withDatabase(async (db) => await (await import('../services/api-keys.js')).createApiKey(db, options))
    if (options.json === true) console.log(JSON.stringify(created))
    else console.log(`${created.key}\n(id ${created.id}, tenant ${created.tenant}, scopes ${created.scopes.join(',')}: keep the key now, it is not shown again)`)
  })

keys.command('list')
  .description('list API keys (never their secrets)')
  .option('--tenant <tenant>', 'only this tenant\'s')
  .option('--json', 'one JSON line per key')
  .action(async (options: { tenant?: string, json?: boolean }) => {
    const found = await withDatabase(async (db) => await (await import('../services/operator.js')).listAllKeys(db, options.tenant))
    for (const k of found) {
      console.log(options.json === true ? JSON.stringify(k) : `${k.id}\t${k.tenant}\t${k.name}\t${k.scopes.join(',')}\t${k.revokedAt === null ? 'active' : `revoked ${k.revokedAt}`}`)
    }
  })

keys.command('revoke')
  .description('revoke an API key at once')
  .argument('<id>', 'the key id (key_…)')
  .action(async (id: string) => {
    const revoked = await withDatabase(async (db) => await (await import('../services/operator.js')).revokeKeyById(db, id))
    if (revoked === undefined) {
      console.error(`rewind: no API key "${id}"`)
      process.exitCode = 1
    } else {
      console.log(`revoked ${revoked.id} (${revoked.tenant}, ${revoked.name})`)
    }
  })

registerVerifyCommand(program)
registerExportCommand(program)
registerImportCommand(program)
registerPartitionsCommand(program, withDatabase)

try {
  await program.parseAsync()
} catch (error) {
  console.error(`rewind: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
