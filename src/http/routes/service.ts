import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { problem, sendProblem } from '../problem.js'
import { answers, doc } from '../schemas.js'
import { checkDatabase } from '../../services/health.js'

const Status = Type.Object({ status: Type.String() })

/** Liveness and readiness probes. */
export const serviceRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/health', { config: { access: 'public' }, schema: { ...doc('health', 'service', 'The process is up'), response: { 200: Status } }
  }, async () => ({ status: 'ok' }))

  app.get('/ready', { config: { access: 'public' }, schema: { ...doc('ready', 'service', 'The database is reachable'), response: answers(Status, 'The database answered', 503) }
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
