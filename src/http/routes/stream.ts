import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { decodeFeedCursor, followFeed, type FeedEvent } from '../../services/feed.js'
import { unmarkExactIntegers } from '../../versioning/json.js'
import { doc, problems, Query, TypeName } from '../schemas.js'

/** Subscribers of /stream on this process (for /metrics). */
export const streamSubscribers = { count: 0 }

const KEEP_ALIVE_MS = 15_000

const eventText = (e: FeedEvent): string =>
  `id: ${e.cursor}\nevent: transaction\ndata: ${unmarkExactIntegers(JSON.stringify({ transaction: e.transaction, versions: e.versions }))}\n\n`

export interface StreamOptions {
  /** How often an idle stream looks for new transactions (default 250 ms). */
  pollMs?: number
}

/** GET /stream: the tenant's recorded transactions as Server-Sent Events, resumable. */
export const streamRoutes = (options: StreamOptions = {}): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/stream', { config: { access: 'read' }, schema: {
    ...doc('streamTransactions', 'streams', 'Follow recorded transactions as Server-Sent Events',
      'One `transaction` event per recorded transaction (`{"transaction", "versions"}`), in the order their writes ended. The event id is a ' +
      'cursor: reconnect with `Last-Event-ID` (or `?after=`) to resume with nothing skipped and nothing repeated, even when transactions ' +
      'commit out of id order. A comment line every 15 s keeps idle connections open.'),
    querystring: Query({
      type: Type.Optional(TypeName),
      actor: Type.Optional(Type.String({ maxLength: 255 })),
      after: Type.Optional(Type.String({ maxLength: 200, description: 'Resume after this cursor (an event id).' }))
    }),
    headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 200 })) }),
    response: {
      200: { description: 'An event stream (text/event-stream)', content: { 'text/event-stream': { schema: { type: 'string' }, example: 'id: MTIzNC41Ng\nevent: transaction\ndata: {"transaction":{"id":56,...},"versions":[...]}\n\n' } } },
      ...problems(400)
    }
  } }, async (request, reply) => {
    const resume = request.headers['last-event-id'] ?? request.query.after
    const after = resume === undefined || resume === '' ? undefined : decodeFeedCursor(resume, request.headers['last-event-id'] === undefined ? 'after' : 'Last-Event-ID')
    const abort = new AbortController()
    request.raw.once('close', () => { abort.abort() })
    reply.raw.once('close', () => { abort.abort() })
    reply.hijack()
    const out = reply.raw
    out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    out.write(': stream open\n\n')
    streamSubscribers.count++
    let quietSince = Date.now()
    try {
      for await (const item of followFeed(request.ctx, after, { type: request.query.type, actor: request.query.actor }, abort.signal, options.pollMs)) {
        if (item === 'idle') {
          if (Date.now() - quietSince < KEEP_ALIVE_MS) continue
        }
        quietSince = Date.now()
        if (abort.signal.aborted || out.destroyed) break
        if (!out.write(item === 'idle' ? ': keep-alive\n\n' : eventText(item))) {
          // Until the client takes more, or goes (a destroyed response never drains).
          await new Promise<void>((resolve) => {
            const done = (): void => { out.off('drain', done); out.off('close', done); resolve() }
            out.once('drain', done)
            out.once('close', done)
            if (out.destroyed) done()
          })
        }
      }
    } catch (error) {
      request.log.warn({ err: error }, 'the stream stopped')
    } finally {
      streamSubscribers.count--
      out.end()
    }
  })
}
