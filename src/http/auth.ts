import type { FastifyInstance, FastifyRequest } from 'fastify'
import { allows, type Caller, type Requirement } from '../access/index.js'
import type { KeyRing } from '../services/api-keys.js'
import type { ServiceContext } from '../services/context.js'
import type { Tenants } from '../services/tenants.js'
import { forbidden, unauthorized } from '../versioning/errors.js'
import { viewedTenant } from './view-limit.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs, or 'public'. A route that names none is open only under /docs. */
    access?: Requirement
  }
  interface FastifyRequest {
    /** The caller's tenant, its definitions and the caller itself. */
    ctx: ServiceContext
    caller: Caller | undefined
  }
}

const BEARER = /^Bearer +([^\s]+) *$/i

const AUTH_PROBLEMS: Record<number, string> = {
  401: 'No API key, or an unknown or revoked one (WWW-Authenticate: Bearer)',
  403: 'The API key lacks the `%s` scope',
  429: 'Too many requests for this API key: retry after Retry-After seconds'
}

/**
 * Every route needs `Authorization: Bearer <api key>` and the scope its `access` names:
 * no key, or an unknown or revoked one, is 401 (with WWW-Authenticate: Bearer); a key
 * without the scope is 403. An onRequest hook of our own rather than @fastify/bearer-auth,
 * which answers its own (non problem+json) bodies and knows neither tenants nor scopes.
 */
export function registerAuth (app: FastifyInstance, tenants: Tenants, keys: KeyRing): void {
  // The document says what each route needs: public ones no key, the others the 401/403/429 they can answer.
  app.addHook('onRoute', (route) => {
    const access = route.config?.access
    if (access === undefined || route.schema === undefined) return
    if (access === 'public') {
      route.schema = { ...route.schema, security: [] }
      return
    }
    const response = { ...(route.schema.response as Record<number, unknown> | undefined) }
    for (const [status, text] of Object.entries(AUTH_PROBLEMS)) {
      response[Number(status)] ??= { description: text.replace('%s', access), content: { 'application/problem+json': { schema: { $ref: 'Problem' } } } }
    }
    route.schema = { ...route.schema, response, description: [route.schema.description, access === 'admin' ? 'Needs the `admin` scope.' : `Needs the \`${access}\` scope (or \`admin\`).`].filter(Boolean).join(' ') }
  })

  app.decorateRequest('ctx', null as unknown as ServiceContext)
  app.decorateRequest('caller', undefined)
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const needed = request.routeOptions.config?.access ?? (isDocs(request) ? 'public' : 'admin')
    if (needed === 'public') {
      request.ctx = tenants.context(undefined)
      return
    }
    const header = request.headers.authorization
    if (header === undefined || header === '') throw unauthorized('this request needs an API key: send "Authorization: Bearer <key>"')
    const match = BEARER.exec(header)
    if (match === null) throw unauthorized('the Authorization header must be "Bearer <key>"')
    const caller = await keys.authenticate(match[1]!)
    if (caller === undefined) throw unauthorized('the API key is not valid (unknown or revoked)')
    if (!allows(caller.scopes, needed)) throw forbidden(`this API key lacks the "${needed}" scope`)
    request.caller = caller
    if (caller.view === undefined) {
      request.ctx = tenants.context(caller)
    } else {
      const where = viewedTenant(request, { ...caller, view: caller.view })
      request.ctx = tenants.context(caller, where.history, where.types)
    }
  })
}

/** Swagger UI and the OpenAPI document are public; the 404 handler (no route) is too. */
function isDocs (request: FastifyRequest): boolean {
  const url = request.routeOptions.url
  return url === undefined || url === '/docs' || url.startsWith('/docs/')
}
