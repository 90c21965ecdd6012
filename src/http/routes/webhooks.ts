import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { refusedTarget, type AllowedHosts } from '../../streams/index.js'
import { createWebhook, removeWebhook, webhook, webhookDeliveries, webhooks, webhookView } from '../../services/webhooks.js'
import { invalid } from '../../versioning/errors.js'
import { decodeCursor, pageBody } from '../cursor.js'
import { answers, doc, page, PageQuery, problems, Query, respond, TypeName } from '../schemas.js'

const T1 = '2025-01-15T09:30:00.000Z'
const webhookExample = { id: 'wh_3kTq9xYb2aLm', url: 'https://hooks.example.com/rewind', types: ['article'], description: 'search index', disabled: null, createdAt: T1 }

const WebhookInput = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2000, description: 'An http(s) URL on a public address (private ones only for hosts in WEBHOOK_ALLOWED_HOSTS).' }),
  types: Type.Optional(Type.Array(TypeName, { minItems: 1, maxItems: 100, description: 'Only transactions that touched one of these types (default: all).' })),
  description: Type.Optional(Type.String({ maxLength: 1000 }))
}, { additionalProperties: false, examples: [{ url: 'https://hooks.example.com/rewind', types: ['article'], description: 'search index' }] })

const WebhookSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  types: Type.Union([Type.Array(Type.String()), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  disabled: Type.Union([Type.Object({ at: Type.String({ format: 'date-time' }), reason: Type.String() }), Type.Null()], { description: 'Set when deliveries failed for good: the endpoint gets nothing more.' }),
  createdAt: Type.String({ format: 'date-time' })
}, { examples: [webhookExample] })

const Created = Type.Object({ ...WebhookSchema.properties, secret: Type.String({ description: 'The whsec_ signing secret (Standard Webhooks): shown this once.' }) },
  { examples: [{ ...webhookExample, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }] })

const Attempt = Type.Object({
  at: Type.String({ format: 'date-time' }),
  status: Type.Union([Type.Integer(), Type.Null()], { description: 'The HTTP status answered (null: none).' }),
  error: Type.Union([Type.String(), Type.Null()]),
  ms: Type.Integer()
})
const Delivery = Type.Object({
  id: Type.String({ description: 'The message id (webhook-id header).' }),
  transactionId: Type.Integer(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Array(Attempt),
  nextAttemptAt: Type.String({ format: 'date-time' }),
  createdAt: Type.String({ format: 'date-time' })
}, { examples: [{ id: 'msg_3kTq9xYb2aLm_0000000000000042', transactionId: 42, status: 'delivered', attempts: [{ at: T1, status: 200, error: null, ms: 35 }], nextAttemptAt: T1, createdAt: T1 }] })

const Params = Type.Object({ id: Type.String({ maxLength: 100 }) })

/** Webhooks: endpoints that receive each recorded transaction, signed per Standard Webhooks. */
export const webhookRoutes = (allowed: AllowedHosts): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/webhooks', { config: { access: 'admin' }, schema: {
    ...doc('createWebhook', 'streams', 'Register a webhook endpoint',
      'Every transaction recorded from now on is delivered at least once as {"type", "timestamp", "data": {"cursor", "transaction", "versions"}}, signed (webhook-id, webhook-timestamp, webhook-signature), retried with backoff (the first retry within 5 s) without holding back later messages.'),
    body: WebhookInput, response: { 201: respond(Created, 'Registered: the secret is shown this once'), ...problems(400, 413, 415) }
  } }, async ({ ctx, body }, reply) => {
    const refused = await refusedTarget(body.url, allowed)
    if (refused !== undefined) throw invalid(`url: ${refused}`)
    return await reply.code(201).send(await createWebhook(ctx, body))
  })

  app.get('/webhooks', { config: { access: 'admin' }, schema: {
    ...doc('listWebhooks', 'streams', 'List webhook endpoints'), querystring: Query(PageQuery), response: answers(page(WebhookSchema), 'A page of webhooks', 400)
  } }, async ({ ctx, query: q }) => pageBody(await webhooks(ctx, decodeCursor('webhooks', q.cursor, 'string'), q.limit ?? 50), 'webhooks', (w) => w.id))

  app.get('/webhooks/:id', { config: { access: 'admin' }, schema: {
    ...doc('getWebhook', 'streams', 'Read a webhook endpoint (disabled, and why, after persistent failure)'), params: Params, response: answers(WebhookSchema, 'The webhook', 400, 404)
  } }, async ({ ctx, params }) => webhookView(await webhook(ctx, params.id)))

  app.delete('/webhooks/:id', { config: { access: 'admin' }, schema: {
    ...doc('deleteWebhook', 'streams', 'Delete a webhook endpoint and its deliveries'), params: Params, response: { 204: { description: 'Deleted', type: 'null' }, ...problems(404) }
  } }, async ({ ctx, params }, reply) => {
    await removeWebhook(ctx, params.id)
    return await reply.code(204).send(null)
  })

  app.get('/webhooks/:id/deliveries', { config: { access: 'admin' }, schema: {
    ...doc('listWebhookDeliveries', 'streams', 'List a webhook\'s deliveries with their attempts', 'In transaction order.'),
    params: Params, querystring: Query(PageQuery), response: answers(page(Delivery), 'A page of deliveries', 400, 404)
  } }, async ({ ctx, params, query: q }) => {
    const found = await webhookDeliveries(ctx, params.id, decodeCursor(`deliveries:${params.id}`, q.cursor, 'string'), q.limit ?? 50)
    return pageBody({ items: found.items.map(({ payload: _payload, webhookId: _webhook, ...d }) => d), next: found.next }, `deliveries:${params.id}`, (d) => d.id)
  })
}
