import type { FastifyInstance } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { httpDuration, httpRequests, observe, registry } from '../../metrics/index.js'
import { poolUsage, type Db } from '../../store/database.js'
import { doc, problems } from '../schemas.js'
import { streamSubscribers } from './stream.js'
import { webhookBacklog } from '../../services/webhooks.js'

/** Counts every answered request by its route template (never its path: no ids, tenants or types in labels). */
export function countRequests (app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) })
    httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
}

/** GET /metrics: Prometheus text format (scope `metrics`). */
export const metricsRoutes = (db: Db): FastifyPluginAsyncTypebox => async (app) => {
  observe('rewind_db_pool_connections', 'Database pool connections: open, idle, and requests waiting for one.', () => poolUsage(db), 'state')
  observe('rewind_stream_subscribers', 'Open GET /stream connections on this process.', () => ({ open: streamSubscribers.count }), 'state')
  observe('rewind_webhook_deliveries', 'Webhook deliveries waiting for an attempt (pending) and failed for good.', async () => await webhookBacklog(db).catch(() => ({})), 'status')
  app.get('/metrics', { config: { access: 'metrics' }, schema: {
    ...doc('metrics', 'service', 'Prometheus metrics of this process', 'Request rate and latency by route, transactions and versions recorded, database pool, stream subscribers, capture lag. No label names a tenant, type or actor.'),
    response: {
      200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' }, example: '# HELP rewind_versions_recorded_total Versions recorded.\n# TYPE rewind_versions_recorded_total counter\nrewind_versions_recorded_total 42\n' } } },
      ...problems(401, 403)
    }
  } }, async (_request, reply) => {
    const text = await registry.metrics()
    return await reply.type(registry.contentType).send(text)
  })
}
