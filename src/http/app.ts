import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import helmet from '@fastify/helmet'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Db } from '../store/database.js'
import { KeyRing } from '../services/api-keys.js'
import { DEFAULT_LIMITS, type Limits } from '../services/context.js'
import { Tenants } from '../services/tenants.js'
import { ReadReplica } from '../services/read-replica.js'
import { registerReadRouting } from './read-routing.js'
import { ephemeralSigner, type Signer } from '../services/signing-key.js'
import { registerAuth } from './auth.js'
import { unmarkExactIntegers } from '../versioning/json.js'
import { registerJsonParser } from './json-body.js'
import { sharedSerializers } from './compiled-schemas.js'
import { clientError, timeReadsOnly, registerTrafficLimits, serverWithTimeouts } from './limits.js'
import { swaggerOptions, swaggerUiOptions } from './openapi-config.js'
import { frameworkError, registerProblemHandlers } from './problem.js'
import { sharedSchemas } from './schemas.js'
import { refuseUnknownQueryParameters, registerValidators } from './validation.js'
import { apiKeyRoutes } from './routes/api-keys.js'
import { integrityRoutes } from './routes/integrity.js'
import { retentionRoutes } from './routes/retention.js'
import { startIntegrityJobs } from '../services/jobs.js'
import { DEFAULT_PARTITIONS, keepPartitionsAhead, type PartitionOptions } from '../services/partitions.js'
import { startCapture } from '../capture/index.js'
import { captureRoutes } from './routes/capture.js'
import { streamRoutes } from './routes/stream.js'
import { countRequests, metricsRoutes } from './routes/metrics.js'
import { webhookRoutes } from './routes/webhooks.js'
import { parseAllowedHosts, startWebhookDelivery } from '../streams/index.js'
import { entityRoutes } from './routes/entities.js'
import { entityTypeRoutes } from './routes/entity-types.js'
import { serviceRoutes } from './routes/service.js'
import { transactionRoutes } from './routes/transactions.js'
import { viewerRoutes } from '../ui/index.js'
import { viewerTokenRoutes } from './routes/viewer-tokens.js'

export interface AppOptions {
  db: Db
  /** A read replica of `db` (DATABASE_READ_URL) that history reads are answered from; closed with the app. */
  readDb?: Db
  /** How often the read replica is pinged (ms; default 1000). */
  replicaCheckMs?: number
  bodyLimit?: number
  logger?: FastifyServerOptions['logger']
  /** Destroy the database when the app closes (default true). */
  closeDatabase?: boolean
  /** Bytes of recently written entity states kept to skip reading them on the next write (0: none). */
  latestCacheBytes?: number
  /** Group commits run at once (GROUP_COMMITS; default 2); 0: each write commits alone. */
  groupCommits?: number
  /** Limits of one request (defaults: the contract's). */
  limits?: Partial<Limits & { ratePerSecond: number, bodyTimeoutMs: number, requestTimeoutMs: number, maxEventLoopDelayMs: number }>
  /** How long an authenticated key is trusted without asking the database again (revocation delay). */
  keyCacheMs?: number
  /** The checkpoint signing key (default: one made for this process, which proves nothing once it ends). */
  signer?: Signer
  /** How often each tenant with new history gets a signed checkpoint, and retention runs (ms; 0: only on request). */
  checkpointIntervalMs?: number
  retentionIntervalMs?: number
  /** How `versions` is partitioned (HISTORY_PARTITION_SIZE, HISTORY_PARTITIONS_AHEAD; see docs/partitions.md); false: no partitions are made (a database never written to). */
  partitions?: Partial<PartitionOptions> | false
  /** Capture from PostgreSQL runs on this instance (the service turns it on; default: off); its timings. */
  capture?: boolean
  captureOptions?: { pollMs?: number, leaseMs?: number, heartbeatMs?: number }
  /** Webhook delivery runs on this instance (the service turns it on; default: off); hosts allowed on private addresses (WEBHOOK_ALLOWED_HOSTS, comma-separated); timings. */
  webhooks?: boolean
  webhookAllowedHosts?: string
  webhookOptions?: { retryDelaysMs?: number[], pollMs?: number, timeoutMs?: number }
  /** GET /stream: how often an idle stream polls for new transactions (default 250 ms; tests shorten it). */
  streamOptions?: { pollMs?: number }
  /** Who may embed the viewer in a frame: CSP frame-ancestors sources (UI_FRAME_ANCESTORS; default 'self'). */
  uiFrameAncestors?: string[]
}

export const DEFAULT_LATEST_CACHE_BYTES = 64 * 1024 * 1024

export const API_VERSION = '1.0.0'

/** Builds the Rewind HTTP application around an open database. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 5 * 1024 * 1024,
    // Entity keys may be up to 1,024 characters, more once percent-encoded.
    routerOptions: { maxParamLength: 4096 },
    frameworkErrors: frameworkError,
    serverFactory: serverWithTimeouts(options.limits?.bodyTimeoutMs ?? 10_000),
    clientErrorHandler: clientError,
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildSerializer: sharedSerializers } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const replica = options.readDb === undefined ? undefined : new ReadReplica(options.readDb, { checkEveryMs: options.replicaCheckMs, log: app.log })
  const tenants = new Tenants(options.db, options.latestCacheBytes ?? DEFAULT_LATEST_CACHE_BYTES, options.signer ?? ephemeralSigner(), { ...DEFAULT_LIMITS, ...options.limits }, replica, options.groupCommits)
  const keys = new KeyRing(options.db, options.keyCacheMs)
  // The jobs stop (and finish what they run) before the database closes. The next transaction
  // ids have a partition before the app answers anything.
  if (options.partitions !== false) {
    const partitionKeeper = keepPartitionsAhead(options.db, { ...DEFAULT_PARTITIONS, ...options.partitions }, app.log)
    app.addHook('onClose', async () => { await partitionKeeper.stop() })
    try {
      await partitionKeeper.ready
    } catch (error) {
      await partitionKeeper.stop()
      throw error
    }
  }
  const jobs = startIntegrityJobs(tenants, { checkpointIntervalMs: options.checkpointIntervalMs ?? 0, retentionIntervalMs: options.retentionIntervalMs ?? 0, log: app.log })
  app.addHook('onClose', async () => { await jobs.stop() })
  const allowedHosts = parseAllowedHosts(options.webhookAllowedHosts)
  if (options.webhooks === true) {
    const delivery = startWebhookDelivery(tenants, { allowedHosts, log: app.log, ...options.webhookOptions })
    app.addHook('onClose', async () => { await delivery.stop() })
  }
  if (options.capture === true) {
    const capture = startCapture(tenants, { log: app.log, ...options.captureOptions })
    app.addHook('onClose', async () => { await capture.stop() })
  }
  if (replica !== undefined) app.addHook('onClose', async () => { await replica.close() })
  if (options.closeDatabase !== false) app.addHook('onClose', async () => { await options.db.destroy() })

  for (const schema of sharedSchemas) app.addSchema(schema)
  registerValidators(app, sharedSchemas)
  refuseUnknownQueryParameters(app)
  registerJsonParser(app)
  registerProblemHandlers(app)
  // Integers beyond ±(2^53−1) leave as the exact digits they came with (bigints: see versioning/json.ts).
  app.addHook('onSend', async (_request, _reply, payload) => typeof payload === 'string' ? unmarkExactIntegers(payload) : payload)
  countRequests(app)
  registerAuth(app, tenants, keys)
  registerReadRouting(app, tenants)
  timeReadsOnly(app, options.limits?.requestTimeoutMs ?? 30_000)
  await registerTrafficLimits(app, { ratePerSecond: options.limits?.ratePerSecond ?? 10_000, maxEventLoopDelayMs: options.limits?.maxEventLoopDelayMs ?? 0 })

  await app.register(swagger, swaggerOptions(API_VERSION))
  // Security headers where HTML is served (/docs); the Content-Security-Policy is what Swagger UI needs
  // (same-origin scripts, inline styles, data: images). Plain HTTP is allowed: no upgrade-insecure-requests.
  await app.register(async (docs) => {
    await docs.register(helmet, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })
    await docs.register(swaggerUi, swaggerUiOptions)
  })

  await app.register(serviceRoutes())
  await app.register(entityTypeRoutes())
  await app.register(transactionRoutes())
  await app.register(entityRoutes())
  await app.register(apiKeyRoutes(keys))
  await app.register(viewerTokenRoutes())
  await app.register(integrityRoutes())
  await app.register(retentionRoutes())
  await app.register(captureRoutes())
  await app.register(streamRoutes(options.streamOptions))
  await app.register(metricsRoutes(options.db))
  await app.register(webhookRoutes(allowedHosts))
  await app.register(viewerRoutes({ frameAncestors: options.uiFrameAncestors ?? ["'self'"] }))
  return app
}
