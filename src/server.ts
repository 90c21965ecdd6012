import closeWithGrace from 'close-with-grace'
import { loadConfig, type Config } from './config.js'
import { buildApp } from './http/app.js'
import { asRuntimeRole, claimEmbeddedDatabase, openDatabase, type Db } from './store/database.js'
import { purgeIdempotencyKeys } from './store/idempotency.js'
import { migrateToLatest } from './store/migrate.js'
import { bootstrapAdminKey } from './services/api-keys.js'
import { loadSigner, type Signer } from './services/signing-key.js'

/** Start-up failures a person can fix get one clear line, not a stack trace. */
function fail (what: string, error: unknown): never {
  console.error(`rewind: ${what}: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}

let config: Config
try {
  config = loadConfig()
} catch (error) {
  fail('invalid configuration', error)
}
let signing: { signer: Signer, generated?: string }
try {
  signing = loadSigner({ key: config.SIGNING_KEY, keyFile: config.SIGNING_KEY_FILE, dataDir: config.DATA_DIR })
} catch (error) {
  fail('cannot load the checkpoint signing key', error)
}
const embedded = config.DATABASE_URL === undefined || config.DATABASE_URL === ''
const replicated = config.DATABASE_READ_URL !== undefined && config.DATABASE_READ_URL !== ''
if (embedded && replicated) fail('invalid configuration', new Error('DATABASE_READ_URL needs DATABASE_URL: the embedded database has no replicas'))
let release = (): void => {}
if (embedded) {
  try {
    release = claimEmbeddedDatabase(config.DATA_DIR)
  } catch (error) {
    fail('cannot open the embedded database', error)
  }
}
const databaseOptions = {
  databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DB_POOL_SIZE, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS
}
let db: Db = await openDatabase(databaseOptions)
try {
  await migrateToLatest(db)
  // Migrated as the owner; from here on the service works as rewind_runtime (it can only read and add to history).
  db = await asRuntimeRole(db, databaseOptions)
} catch (error) {
  await db.destroy().catch(() => {})
  release()
  fail(`cannot prepare the database${embedded ? ` in ${config.DATA_DIR}` : ''}`, error)
}

let adminKeyFile: string | undefined
try {
  adminKeyFile = await bootstrapAdminKey(db, config.DATA_DIR, config.REWIND_BOOTSTRAP_KEY)
} catch (error) {
  await db.destroy().catch(() => {})
  release()
  fail('cannot create the first admin key', error)
}

// History reads may be answered by a hot standby of the primary, as the runtime role (it only reads).
const readDb = replicated ? await openDatabase({ ...databaseOptions, databaseUrl: config.DATABASE_READ_URL, runtimeRole: true }) : undefined

const app = await buildApp({
  db,
  ...(readDb !== undefined ? { readDb } : {}),
  signer: signing.signer,
  checkpointIntervalMs: config.CHECKPOINT_INTERVAL_MS,
  retentionIntervalMs: config.RETENTION_INTERVAL_MS,
  partitions: { size: config.HISTORY_PARTITION_SIZE, ahead: config.HISTORY_PARTITIONS_AHEAD },
  // The background workers of capture and webhook delivery (each on one instance at a time).
  capture: true,
  webhooks: true,
  webhookAllowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
  uiFrameAncestors: config.UI_FRAME_ANCESTORS.split(/\s+/).filter((s) => s !== ''),
  bodyLimit: config.BODY_LIMIT,
  logger: { level: config.LOG_LEVEL, redact: { paths: ['req.headers.authorization', 'req.headers["idempotency-key"]'], censor: '[redacted]' } },
  latestCacheBytes: Math.round(config.LATEST_CACHE_MB * 1024 * 1024),
  groupCommits: config.GROUP_COMMITS,
  limits: {
    maxChanges: config.MAX_CHANGES,
    maxRelations: config.MAX_RELATIONS,
    maxRevertEntities: config.MAX_REVERT_ENTITIES,
    maxConflictEntities: config.MAX_CONFLICT_ENTITIES,
    maxConflictIds: config.MAX_CONFLICT_IDS,
    maxInlineRelated: config.MAX_INLINE_RELATED,
    maxInlineVersions: config.MAX_INLINE_VERSIONS,
    ratePerSecond: config.RATE_LIMIT_PER_SECOND,
    bodyTimeoutMs: config.BODY_TIMEOUT_MS,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    maxEventLoopDelayMs: config.DATABASE_URL === undefined || config.DATABASE_URL === '' ? 0 : config.MAX_EVENT_LOOP_DELAY_MS
  }
})
if (signing.generated !== undefined) {
  app.log.warn(`checkpoints are signed with the key in ${signing.generated}, beside the data: whoever can rewrite the data can also sign. ` +
    'Keep the key elsewhere (SIGNING_KEY or SIGNING_KEY_FILE) and publish GET /integrity/public-key where clients keep it.')
}
if (adminKeyFile !== undefined) {
  app.log.warn(adminKeyFile === 'REWIND_BOOTSTRAP_KEY'
    ? 'first start: the admin API key of tenant "default" is the one REWIND_BOOTSTRAP_KEY gave'
    : `first start: created an admin API key for tenant "default"; it is in ${adminKeyFile} (readable by this user only)`)
}

// Idempotency keys are kept for the retention period, then purged by the service itself.
const purge = (): void => {
  purgeIdempotencyKeys(db, config.IDEMPOTENCY_RETENTION_HOURS)
    .then((n) => { if (n > 0) app.log.info({ purged: n }, 'purged expired idempotency keys') })
    .catch((err: unknown) => app.log.warn({ err }, 'could not purge idempotency keys'))
}
const timer = setInterval(purge, 15 * 60 * 1000)
timer.unref()
app.addHook('onClose', async () => { clearInterval(timer) })
// After the database is closed (the app's own onClose hook), the embedded database is free again.
app.addHook('onClose', async () => { release() })

// SIGTERM/SIGINT: stop accepting, let in-flight requests finish, then close the database.
closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

await app.listen({ port: config.PORT, host: config.HOST })
purge()
app.log.info(config.DATABASE_URL === undefined || config.DATABASE_URL === '' ? `embedded PGlite database in ${config.DATA_DIR}` : 'PostgreSQL database')
