import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problem, sendProblem } from '../problem.js'
import { problems } from '../schemas.js'
import { checkDatabase } from '../../services/health.js'

const Status = Type.Object({ status: Type.String() })

/** Liveness and readiness probes. */
export const serviceRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/health', {
    config: { access: 'public' },
    schema: { operationId: 'health', tags: ['service'], summary: 'The process is up', response: { 200: Status } }
  }, async () => ({ status: 'ok' }))

  app.get('/ready', {
    config: { access: 'public' },
    schema: { operationId: 'ready', tags: ['service'], summary: 'The database is reachable', response: { 200: Status, ...problems(503) } }
  }, async (request, reply) => {
    try {
      await checkDatabase(request.ctx)
      return { status: 'ready' }
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable')
      return await sendProblem(reply, problem(503, 'the database is not reachable'))
    }
  })
}
