import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { transactionDetail, transactions, transactionVersions } from '../../services/history.js'
import { idempotentRequest } from '../../services/idempotency.js'
import { ingestTransaction } from '../../services/ingest.js'
import { revertTransaction } from '../../services/revert.js'
import type { JsonObject } from '../../versioning/json.js'
import { decodeCursor, pageBody } from '../cursor.js'
import {
  Actor, EntityId, IdempotencyHeaders, JsonObjectSchema, Operation, PageQuery, Query, Transaction, TransactionId, TypeName, page, problems, respond
} from '../schemas.js'
import {
  exampleParams, postTransactionExamples, recordAnswerExample, revertTransactionExamples, transactionDetailExample, transactionRevertAnswerExample, unchangedRecordAnswerExample
} from '../examples.js'
import { revertResponses, sendWrite } from './write-reply.js'

const ChangeInput = Type.Object({
  type: TypeName,
  op: Operation,
  id: Type.Optional(EntityId),
  data: Type.Optional(Type.Union([JsonObjectSchema, Type.Null()], { description: 'insert: the full state; update: the fields that change; delete: none (or null).' })),
  expectedTransactionId: Type.Optional(TransactionId)
}, { additionalProperties: false })

const TransactionInput = Type.Object({
  actor: Type.Optional(Actor),
  meta: Type.Optional(JsonObjectSchema),
  issuedAt: Type.Optional(Type.String({ format: 'date-time' })),
  changes: Type.Array(ChangeInput, { description: 'At most MAX_CHANGES (10,000 by default).' })
}, { additionalProperties: false, 'x-examples': postTransactionExamples })

const RecordAnswer = Type.Object({
  transaction: Type.Union([Type.Ref('Transaction'), Type.Null()]),
  versions: Type.Array(Type.Ref('Version'))
})
const RecordedAnswer = Type.Object(RecordAnswer.properties, { examples: [recordAnswerExample] })
const UnchangedAnswer = Type.Object(RecordAnswer.properties, { examples: [unchangedRecordAnswerExample] })

const TransactionDetail = Type.Object({
  ...Transaction.properties,
  versions: Type.Array(Type.Ref('Version'), {
    description: 'The versions the transaction created, in the order its entities were first touched: at most 1,000 (then versionsTruncated is true: page through GET /transactions/{id}/versions).'
  }),
  versionsTruncated: Type.Optional(Type.Literal(true, { description: 'Present when `versions` lists only the first 1,000.' }))
})

const TransactionRevertInput = Type.Object({
  force: Type.Optional(Type.Boolean()),
  dryRun: Type.Optional(Type.Boolean()),
  actor: Type.Optional(Actor),
  meta: Type.Optional(JsonObjectSchema)
}, { additionalProperties: false, 'x-examples': revertTransactionExamples })

const IdParams = Type.Object({ id: TransactionId })
/** The walk-through undoes its entity revert (transaction 3), which nothing changed since. */
const RevertIdParams = Type.Object({ id: Type.Integer({ ...TransactionId, examples: [exampleParams.revertTransactionId] }) })

/** Recording transactions, reading them, and undoing one. */
export const transactionRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/transactions', {
    config: { access: 'write' },
    schema: {
      operationId: 'recordTransaction',
      tags: ['transactions'],
      summary: 'Record the changes of one database transaction',
      description: 'Records a version per changed entity, as one atomic transaction. A transaction that changes nothing versioned is not recorded (200 with transaction null).',
      headers: IdempotencyHeaders,
      body: TransactionInput,
      response: {
        200: respond(UnchangedAnswer, 'Nothing versioned changed: no transaction was recorded (transaction is null, versions empty)'),
        201: respond(RecordedAnswer, 'Recorded: the transaction and one version per changed entity'),
        ...problems(400, 404, 409, 413, 415, 422)
      }
    }
  }, async (request, reply) => {
    const body = request.body
    const outcome = await ingestTransaction(request.ctx, {
      actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined, issuedAt: body.issuedAt,
      changes: body.changes.map((c) => ({ ...c, data: c.data as JsonObject | undefined }))
    }, idempotentRequest(request.headers['idempotency-key'], 'POST /transactions', body))
    return await sendWrite(reply, outcome)
  })

  app.get('/transactions', {
    config: { access: 'read' },
    schema: {
      operationId: 'listTransactions',
      tags: ['transactions'],
      summary: 'List transactions, newest first',
      querystring: Query({
        ...PageQuery,
        actor: Type.Optional(Type.String()),
        type: Type.Optional(TypeName),
        since: Type.Optional(Type.String({ format: 'date-time', description: 'issuedAt >= since' })),
        until: Type.Optional(Type.String({ format: 'date-time', description: 'issuedAt < until' }))
      }),
      response: { 200: respond(page(Type.Ref('Transaction')), 'A page of transactions, newest first'), ...problems(400) }
    }
  }, async (request) => {
    const { limit = 50, cursor, ...filter } = request.query
    const found = await transactions(request.ctx, { ...filter, limit, before: decodeCursor('transactions', cursor) })
    return pageBody(found, 'transactions', (tx) => tx.id)
  })

  app.get('/transactions/:id', {
    config: { access: 'read' },
    schema: {
      operationId: 'getTransaction',
      tags: ['transactions'],
      summary: 'Read one transaction with every version it created',
      params: IdParams,
      response: { 200: respond(Type.Object(TransactionDetail.properties, { examples: [transactionDetailExample] }), 'The transaction with every version it created'), ...problems(400, 404) }
    }
  }, async (request) => await transactionDetail(request.ctx, request.params.id))

  app.get('/transactions/:id/versions', {
    config: { access: 'read' },
    schema: {
      operationId: 'listTransactionVersions',
      tags: ['transactions'],
      summary: 'Page through every version one transaction created',
      params: IdParams,
      querystring: Query(PageQuery),
      response: { 200: respond(page(Type.Ref('Version')), 'A page of the versions, in the order their entities were first touched'), ...problems(400, 404) }
    }
  }, async (request) => {
    const { id } = request.params
    const found = await transactionVersions(request.ctx, id, decodeCursor(`transaction-versions:${id}`, request.query.cursor), request.query.limit ?? 50)
    return pageBody(found, `transaction-versions:${id}`, (v) => v.position)
  })

  app.post('/transactions/:id/revert', {
    config: { access: 'revert' },
    schema: {
      operationId: 'revertTransaction',
      tags: ['revert'],
      summary: 'Undo what one transaction did, as a new transaction',
      description: 'Each entity the transaction changed goes back to its state just before it. 409 with `conflicts` when a later transaction changed one of them, unless `force` is true.',
      params: RevertIdParams,
      headers: IdempotencyHeaders,
      body: TransactionRevertInput,
      response: { ...revertResponses(transactionRevertAnswerExample), ...problems(400, 404, 409, 413, 415, 422) }
    },
    // Every member is optional, and so is the body itself (a JSON null is still a 400).
    preValidation: async (request) => { if (request.body === undefined) request.body = {} }
  }, async (request, reply) => {
    const { body, params } = request
    const outcome = await revertTransaction(request.ctx,
      { ...body, id: params.id, actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined },
      idempotentRequest(request.headers['idempotency-key'], `POST /transactions/${params.id}/revert`, body))
    return await sendWrite(reply, outcome)
  })
}
