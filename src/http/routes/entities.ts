import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { changesetBetween, entityState, entityVersion, entityVersions } from '../../services/history.js'
import { runWrite } from '../../services/idempotency.js'
import { revertEntity } from '../../services/revert.js'
import { invalid } from '../../versioning/errors.js'
import type { JsonObject } from '../../versioning/json.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import {
  Changeset, EntityId, IdempotencyHeaders, JsonObjectSchema, Operation, PageQuery, Relations, TransactionId, TypeName, page, problems
} from '../schemas.js'
import type { AppContext } from '../context.js'
import { idempotency } from './transactions.js'
import { RevertAnswer, sendWrite } from './write-reply.js'

const EntityParams = Type.Object({ type: TypeName, id: EntityId })
const RelationsQuery = Type.Optional(Type.String({ maxLength: 2000, description: 'Comma-separated relation names, e.g. author,comments,tags.' }))

const VersionDetail = Type.Object({
  type: Type.String(),
  id: Type.String(),
  transactionId: TransactionId,
  endTransactionId: Type.Union([TransactionId, Type.Null()]),
  operation: Operation,
  index: Type.Integer({ minimum: 0 }),
  data: JsonObjectSchema,
  changeset: Changeset,
  previous: Type.Union([TransactionId, Type.Null()]),
  next: Type.Union([TransactionId, Type.Null()]),
  transaction: Type.Ref('Transaction'),
  relations: Type.Optional(Relations)
})

const EntityStateSchema = Type.Object({
  type: Type.String(),
  id: Type.String(),
  data: JsonObjectSchema,
  transactionId: TransactionId,
  relations: Type.Optional(Relations)
})

const RevertInput = Type.Object({
  to: TransactionId,
  relations: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 100 })),
  dryRun: Type.Optional(Type.Boolean()),
  actor: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  meta: Type.Optional(JsonObjectSchema)
}, { additionalProperties: false })

/** An entity's history: versions, one version, its state at a transaction, changesets, revert. */
export const entityRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const { db, tenant } = ctx

  app.get('/entities/:type/:id/versions', {
    schema: {
      tags: ['versions'],
      summary: 'List an entity\'s versions by transaction id',
      params: EntityParams,
      querystring: Type.Object({ ...PageQuery, order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })) }),
      response: { 200: page(Type.Ref('Version')), ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id } = request.params
    const { limit = 50, order = 'asc', cursor } = request.query
    const list = `versions:${order}`
    const found = await entityVersions(ctx, type, id, { order, limit, after: decodeCursor(list, cursor) })
    return { items: found.items, nextCursor: found.next === undefined ? null : encodeCursor(list, found.next.transactionId) }
  })

  app.get('/entities/:type/:id/versions/:transactionId', {
    schema: {
      tags: ['versions'],
      summary: 'Read one version with its neighbours, its transaction and, on request, its relations as they were',
      params: Type.Object({ type: TypeName, id: EntityId, transactionId: TransactionId }),
      querystring: Type.Object({ relations: RelationsQuery }),
      response: { 200: VersionDetail, ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id, transactionId } = request.params
    return await entityVersion(ctx, type, id, transactionId, request.query.relations)
  })

  app.get('/entities/:type/:id', {
    schema: {
      tags: ['entities'],
      summary: 'Read an entity\'s current state, or its state at a transaction',
      params: EntityParams,
      querystring: Type.Object({ at: Type.Optional(TransactionId), relations: RelationsQuery }),
      response: { 200: EntityStateSchema, ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id } = request.params
    return await entityState(ctx, type, id, request.query.at, request.query.relations)
  })

  app.get('/entities/:type/:id/changeset', {
    schema: {
      tags: ['versions'],
      summary: 'The changeset between an entity\'s states at two transactions',
      params: EntityParams,
      querystring: Type.Object({ from: TransactionId, to: TransactionId }),
      response: { 200: Changeset, ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id } = request.params
    return await changesetBetween(ctx, type, id, request.query.from, request.query.to)
  })

  app.post('/entities/:type/:id/revert', {
    schema: {
      tags: ['revert'],
      summary: 'Bring an entity (and the named relations) back to its state at a transaction',
      description: 'Recorded as a new transaction (unless dryRun); the answer lists the changes for the backend to apply, in an order that keeps foreign keys valid.',
      params: EntityParams,
      headers: IdempotencyHeaders,
      body: RevertInput,
      response: { 200: RevertAnswer, 201: RevertAnswer, ...problems(400, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const { type, id } = request.params
    const body = request.body
    if (body.relations?.some((r) => r.trim() === '')) throw invalid('relation names must not be empty')
    const path = `POST /entities/${type}/${id}/revert`
    const outcome = await runWrite(db, tenant, idempotency(request.headers['idempotency-key'], path, body), async (trx) => {
      const result = await revertEntity(ctx, trx, type, id, body.to, body.relations ?? [], {
        dryRun: body.dryRun, actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined
      })
      return { statusCode: result.transaction === null ? 200 : 201, body: result }
    })
    return await sendWrite(reply, outcome)
  })
}
