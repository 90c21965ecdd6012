import type { FastifyRequest } from 'fastify'
import type { Caller, ViewLimit } from '../access/index.js'
import { inView } from '../access/index.js'
import { forbidden } from '../versioning/errors.js'

/**
 * The routes a limited viewer token may use: the history of what it may see. Each one
 * either names a type (and entity) in its path, answered as missing outside the limit,
 * or lists, and lists only what is inside it (see ServiceContext.view).
 */
const OPEN_TO_LIMITED = new Set([
  '/entity-types', '/entity-types/:type', '/entity-types/:type/revisions',
  '/entities/:type', '/entities/:type/:id', '/entities/:type/:id/versions', '/entities/:type/:id/versions/:transactionId',
  '/entities/:type/:id/versions/:transactionId/relations/:name', '/entities/:type/:id/versions/:transactionId/proof',
  '/entities/:type/:id/changeset',
  '/transactions', '/transactions/:id', '/transactions/:id/versions'
])

/** A tenant name no tenant can have (see TENANT_PATTERN): where no history exists, so everything answers as missing. */
export const NOWHERE = '~nowhere'

/**
 * Where a limited viewer token's request is answered: `history`, the tenant whose history
 * it reads, and `types`, the one whose type definitions it reads. Inside the limit both
 * are its tenant. A path naming another type reads both from NOWHERE (an unknown type);
 * one naming another entity of its type reads the types but no history (an entity that
 * never existed): either way the answer is exactly that of one that does not exist.
 * Routes that cannot be limited (stream, export, integrity…) are 403.
 */
export function viewedTenant (request: FastifyRequest, caller: Caller & { view: ViewLimit }): { history: string, types: string } {
  const route = request.routeOptions.url ?? ''
  if (request.method !== 'GET' || !OPEN_TO_LIMITED.has(route)) {
    throw forbidden(`this viewer token only reads the history of ${describe(caller.view)}`)
  }
  const { type, id } = request.params as { type?: string, id?: string }
  if (type !== undefined && type !== caller.view.type) return { history: NOWHERE, types: NOWHERE }
  if (route.startsWith('/entities/:type/:id') && !inView(caller.view, type ?? '', id ?? '')) return { history: NOWHERE, types: caller.tenant }
  return { history: caller.tenant, types: caller.tenant }
}

const describe = (view: ViewLimit): string => view.id === undefined ? `entities of type "${view.type}"` : `${view.type} "${view.id}"`
