import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { createViewerToken, MAX_VIEWER_TOKEN_SECONDS } from '../../services/viewer-tokens.js'
import { doc, EntityId, problems, respond, TypeName } from '../schemas.js'

const TokenInput = Type.Object({
  type: Type.Optional(TypeName),
  id: Type.Optional(EntityId),
  ttlSeconds: Type.Integer({ minimum: 1, maximum: MAX_VIEWER_TOKEN_SECONDS, description: 'How long the token works, in seconds (at most a day).' })
}, { additionalProperties: false, examples: [{ type: 'article', id: '1', ttlSeconds: 3600 }] })

const CreatedToken = Type.Object({
  token: Type.String({ description: 'The token (rwv_…), usable as a Bearer key and in the viewer\'s URL fragment (#token=…): shown in this answer only.' }),
  expiresAt: Type.String({ format: 'date-time' })
}, { examples: [{ token: 'rwv_kq0H7w3cJ2b1Vt5mR8xZpL4sNf6dGy9aEuTiOo1WQeA', expiresAt: '2026-11-24T11:00:00.000Z' }] })

/** Viewer tokens: what an application hands its own users to show them history (admin). */
export const viewerTokenRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/viewer-tokens', { config: { access: 'admin' }, schema: {
    ...doc('createViewerToken', 'access', 'Create a short-lived, read-only viewer token',
      'Limited to one entity type, or one entity, when named: outside its limit everything answers as missing (404, or left out of lists and relations), ' +
      'and the routes that cannot be limited (stream, export, integrity, redactions) answer 403. It stops working at `expiresAt` or when the key that made it is revoked.'),
    body: TokenInput,
    response: { 201: respond(CreatedToken, 'Created; `token` is shown once'), ...problems(400, 404, 413, 415) }
  } }, async ({ ctx, body }, reply) => await reply.code(201).send(await createViewerToken(ctx, body)))
}
