import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { pingDatabase } from '../../store/database.js'
import { problem, sendProblem } from '../problem.js'
import { problems } from '../schemas.js'
import type { AppContext } from '../context.js'

const Status = Type.Object({ status: Type.String() })

/** Liveness and readiness probes. */
export const serviceRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/health', {
    schema: { tags: ['service'], summary: 'The process is up', response: { 200: Status } }
  }, async () => ({ status: 'ok' }))

  app.get('/ready', {
    schema: { tags: ['service'], summary: 'The database is reachable', response: { 200: Status, ...problems(503) } }
  }, async (request, reply) => {
    try {
      await pingDatabase(ctx.db)
      return { status: 'ready' }
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable')
      return await sendProblem(reply, problem(503, 'the database is not reachable'))
    }
  })
}
