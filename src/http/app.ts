import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Db } from '../store/database.js'
import type { AppContext } from './context.js'
import { DefinitionCache } from '../services/definitions.js'
import { LatestVersionCache } from '../services/latest-cache.js'
import { registerJsonParser } from './json-body.js'
import { swaggerOptions, swaggerUiOptions } from './openapi-config.js'
import { frameworkError, registerProblemHandlers } from './problem.js'
import { sharedSchemas } from './schemas.js'
import { registerValidators } from './validation.js'
import { entityRoutes } from './routes/entities.js'
import { entityTypeRoutes } from './routes/entity-types.js'
import { serviceRoutes } from './routes/service.js'
import { transactionRoutes } from './routes/transactions.js'

export interface AppOptions {
  db: Db
  tenant?: string
  bodyLimit?: number
  logger?: FastifyServerOptions['logger']
  /** Destroy the database when the app closes (default true). */
  closeDatabase?: boolean
  /** Bytes of recently written entity states kept to skip reading them on the next write (0: none). */
  latestCacheBytes?: number
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
    ajv: { customOptions: { removeAdditional: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const tenant = options.tenant ?? 'default'
  const cacheBytes = options.latestCacheBytes ?? DEFAULT_LATEST_CACHE_BYTES
  const ctx: AppContext = {
    db: options.db,
    tenant,
    definitions: new DefinitionCache(tenant),
    ...(cacheBytes > 0 ? { latest: new LatestVersionCache(cacheBytes) } : {})
  }
  if (options.closeDatabase !== false) app.addHook('onClose', async () => { await options.db.destroy() })

  for (const schema of sharedSchemas) app.addSchema(schema)
  registerValidators(app, sharedSchemas)
  registerJsonParser(app)
  registerProblemHandlers(app)

  await app.register(swagger, swaggerOptions(API_VERSION))
  await app.register(swaggerUi, swaggerUiOptions)

  await app.register(serviceRoutes(ctx))
  await app.register(entityTypeRoutes(ctx))
  await app.register(transactionRoutes(ctx))
  await app.register(entityRoutes(ctx))
  return app
}
