import type { FastifyInstance } from 'fastify'
import { Type, type TObject } from 'typebox'
import type { Tenants } from '../services/tenants.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A history read that a read replica may answer (DATABASE_READ_URL). */
    replica?: boolean
  }
}

/** The minimum-transaction hint: the id of a transaction the caller wrote and wants to read back. */
export const MIN_TRANSACTION_HEADER = 'rewind-min-transaction'

const MinTransaction = Type.Integer({
  minimum: 1, maximum: Number.MAX_SAFE_INTEGER, example: 42,
  description: 'Read-your-writes when the service reads history from a replica: the id of a transaction you recorded. ' +
    'The answer includes it (and all history before it): from the replica once it has replayed that transaction, else from the primary. ' +
    'Without replicas, every read already includes it.'
})

/**
 * History reads (routes marked `replica`) document and accept the minimum-transaction hint,
 * and run in the context Tenants.forReading gives: on the read replica when there is one that
 * has replayed the hinted transaction, else on the primary.
 */
export function registerReadRouting (app: FastifyInstance, tenants: Tenants): void {
  app.addHook('onRoute', (route) => {
    if (route.config?.replica !== true || route.schema === undefined) return
    const headers = route.schema.headers as TObject | undefined
    route.schema = { ...route.schema, headers: Type.Object({ ...headers?.properties, [MIN_TRANSACTION_HEADER]: Type.Optional(MinTransaction) }) }
  })
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config?.replica !== true) return
    const hint = request.headers[MIN_TRANSACTION_HEADER] as unknown
    request.ctx = await tenants.forReading(request.ctx, hint === undefined ? undefined : Number(hint))
  })
}
