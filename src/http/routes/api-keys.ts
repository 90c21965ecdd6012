import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { SCOPES, type AccessScope } from '../../access/index.js'
import { createTenantKey, revokeTenantKey, tenantKeys, type KeyRing } from '../../services/api-keys.js'
import { decodeCursor, pageBody } from '../cursor.js'
import { PageQuery, Query, answers, doc, page, problems, respond } from '../schemas.js'

const Scope = Type.Unsafe<AccessScope>({ type: 'string', enum: [...SCOPES], description: 'What the key may do.' })

const KeyInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255, description: 'A name for people: who or what uses the key.' }),
  scopes: Type.Array(Scope, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true })
}, { additionalProperties: false, examples: [{ name: 'billing backend', scopes: ['write', 'read'] }] })

const KeyFields = {
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Scope),
  tenant: Type.String(),
  createdAt: Type.String({ format: 'date-time' })
}
const CreatedKey = Type.Object({ ...KeyFields, key: Type.String({ description: 'The secret (rwd_…): shown in this answer only.' }) })
const ListedKey = Type.Object({ ...KeyFields, revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) })

/** API keys of the caller's tenant (admin). */
export const apiKeyRoutes = (keys: KeyRing): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/api-keys', { config: { access: 'admin' }, schema: {
    ...doc('createApiKey', 'access', 'Create an API key in the caller\'s tenant',
      'The key gets the named scopes, which the caller must hold itself. The secret is in this answer only: it is stored hashed.'),
    body: KeyInput,
    response: { 201: respond(CreatedKey, 'Created; `key` is the secret, shown once'), ...problems(400, 413, 415) }
  } }, async ({ ctx, body }, reply) => await reply.code(201).send(await createTenantKey(ctx, body.name, body.scopes)))

  app.get('/api-keys', { config: { access: 'admin' }, schema: {
    ...doc('listApiKeys', 'access', 'List the API keys of the caller\'s tenant (never their secrets)'), querystring: Query(PageQuery),
    response: answers(page(ListedKey), 'A page of keys, by id, revoked ones included', 400)
  } }, async ({ ctx, query: q }) => pageBody(await tenantKeys(ctx, decodeCursor('api-keys', q.cursor, 'string'), q.limit ?? 50), 'api-keys', (k) => k.id))

  app.delete('/api-keys/:id', { config: { access: 'admin' }, schema: {
    ...doc('revokeApiKey', 'access', 'Revoke an API key at once (every instance within 1 s)'),
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, example: 'key_3fQm0Zx1bLk9' }) }),
    response: answers(ListedKey, 'Revoked (or already revoked)', 400, 404)
  } }, async ({ ctx, params }) => await revokeTenantKey(ctx, keys, params.id))
}
