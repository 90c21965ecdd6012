import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { transactionDetail, transactions } from '../../services/history.js'
import { requestFingerprint, runWrite } from '../../services/idempotency.js'
import { ingestTransaction } from '../../services/ingest.js'
import { revertTransaction } from '../../services/revert.js'
import type { JsonObject } from '../../versioning/json.js'
import { decodeCursor, encodeCursor } from '../cursor.js'
import {
  EntityId, IdempotencyHeaders, JsonObjectSchema, Operation, PageQuery, TransactionId, TypeName, page, problems
} from '../schemas.js'
import type { AppContext } from '../context.js'
import { RevertAnswer, sendWrite } from './write-reply.js'

const ChangeInput = Type.Object({
  type: TypeName,
  op: Operation,
  id: Type.Optional(EntityId),
  data: Type.Optional(Type.Union([JsonObjectSchema, Type.Null()], { description: 'insert: the full state; update: the fields that change; delete: none (or null).' })),
  expectedTransactionId: Type.Optional(TransactionId)
}, { additionalProperties: false })

const Actor = Type.Union([Type.String({ maxLength: 255 }), Type.Null()])

const TransactionInput = Type.Object({
  actor: Type.Optional(Actor),
  meta: Type.Optional(JsonObjectSchema),
  issuedAt: Type.Optional(Type.String({ format: 'date-time' })),
  changes: Type.Array(ChangeInput, { maxItems: 10000 })
}, { additionalProperties: false })

const RecordAnswer = Type.Object({
  transaction: Type.Union([Type.Ref('Transaction'), Type.Null()]),
  versions: Type.Array(Type.Ref('Version'))
})

const TransactionDetail = Type.Object({
  id: TransactionId,
  issuedAt: Type.String({ format: 'date-time' }),
  recordedAt: Type.String({ format: 'date-time' }),
  actor: Type.Union([Type.String(), Type.Null()]),
  meta: JsonObjectSchema,
  revertOf: Type.Optional(JsonObjectSchema),
  versions: Type.Array(Type.Ref('Version'))
})

const TransactionRevertInput = Type.Object({
  force: Type.Optional(Type.Boolean()),
  dryRun: Type.Optional(Type.Boolean()),
  actor: Type.Optional(Actor),
  meta: Type.Optional(JsonObjectSchema)
}, { additionalProperties: false })

const IdParams = Type.Object({ id: TransactionId })

/** Recording transactions, reading them, and undoing one. */
export const transactionRoutes = (ctx: AppContext): FastifyPluginAsyncTypebox => async (app) => {
  const { db, tenant } = ctx

  app.post('/transactions', {
    schema: {
      tags: ['transactions'],
      summary: 'Record the changes of one database transaction',
      description: 'Records a version per changed entity, as one atomic transaction. A transaction that changes nothing versioned is not recorded (200 with transaction null).',
      headers: IdempotencyHeaders,
      body: TransactionInput,
      response: { 200: RecordAnswer, 201: RecordAnswer, ...problems(400, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const body = request.body
    const outcome = await ingestTransaction(ctx, {
      actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined, issuedAt: body.issuedAt,
      changes: body.changes.map((c) => ({ ...c, data: c.data as JsonObject | undefined }))
    }, idempotency(request.headers['idempotency-key'], 'POST /transactions', body))
    return await sendWrite(reply, outcome)
  })

  app.get('/transactions', {
    schema: {
      tags: ['transactions'],
      summary: 'List transactions, newest first',
      querystring: Type.Object({
        ...PageQuery,
        actor: Type.Optional(Type.String()),
        type: Type.Optional(TypeName),
        since: Type.Optional(Type.String({ format: 'date-time', description: 'issuedAt >= since' })),
        until: Type.Optional(Type.String({ format: 'date-time', description: 'issuedAt < until' }))
      }),
      response: { 200: page(Type.Ref('Transaction')), ...problems(400) }
    }
  }, async (request) => {
    const { limit = 50, cursor, ...filter } = request.query
    const found = await transactions(ctx, { ...filter, limit, before: decodeCursor('transactions', cursor) })
    return { items: found.items, nextCursor: found.next === undefined ? null : encodeCursor('transactions', found.next.id) }
  })

  app.get('/transactions/:id', {
    schema: {
      tags: ['transactions'],
      summary: 'Read one transaction with every version it created',
      params: IdParams,
      response: { 200: TransactionDetail, ...problems(400, 404) }
    }
  }, async (request) => await transactionDetail(ctx, request.params.id))

  app.post('/transactions/:id/revert', {
    schema: {
      tags: ['revert'],
      summary: 'Undo what one transaction did, as a new transaction',
      description: 'Each entity the transaction changed goes back to its state just before it. 409 with `conflicts` when a later transaction changed one of them, unless `force` is true.',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: TransactionRevertInput,
      response: { 200: RevertAnswer, 201: RevertAnswer, ...problems(400, 404, 409, 413, 415, 422) }
    },
    // Every member is optional, and so is the body itself (a JSON null is still a 400).
    preValidation: async (request) => { if (request.body === undefined) request.body = {} }
  }, async (request, reply) => {
    const body = request.body
    const path = `POST /transactions/${request.params.id}/revert`
    const outcome = await runWrite(db, tenant, idempotency(request.headers['idempotency-key'], path, body), async (trx) => {
      const result = await revertTransaction(ctx, trx, request.params.id, { ...body, actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined })
      return { statusCode: result.transaction === null ? 200 : 201, body: result }
    })
    return await sendWrite(reply, outcome)
  })
}

export function idempotency (key: string | undefined, path: string, body: unknown): { key: string, fingerprint: string } | undefined {
  return key === undefined ? undefined : { key, fingerprint: requestFingerprint('POST', path, body) }
}
