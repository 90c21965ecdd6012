import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { transactionDetail, transactions, transactionVersions } from '../../services/history.js'
import { idempotentRequest } from '../../services/idempotency.js'
import { ingestTransaction } from '../../services/ingest.js'
import { revertTransaction } from '../../services/revert.js'
import type { JsonObject } from '../../versioning/json.js'
import { decodeCursor, pageBody } from '../cursor.js'
import {
  Actor, answers, doc, EntityId, IdempotencyHeaders, JsonObjectSchema, Operation, PageQuery, Query, Transaction, TransactionId, TypeName, page, problems,
  respond
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

const TransactionFilter = {
  actor: Type.Optional(Type.String()),
  type: Type.Optional(TypeName),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'issuedAt >= since' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'issuedAt < until' }))
}

const IdParams = Type.Object({ id: TransactionId })
/** The walk-through undoes its entity revert (transaction 3), which nothing changed since. */
const RevertIdParams = Type.Object({ id: Type.Integer({ ...TransactionId, example: exampleParams.revertTransactionId }) })

/** Recording transactions, reading them, and undoing one. */
export const transactionRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/transactions', { config: { access: 'write' }, schema: {
    ...doc('recordTransaction', 'transactions', 'Record the changes of one database transaction',
      'Records a version per changed entity, as one atomic transaction. A transaction that changes nothing versioned is not recorded (200 with transaction null).'),
    headers: IdempotencyHeaders,
    body: TransactionInput,
    response: {
      200: respond(UnchangedAnswer, 'Nothing versioned changed: no transaction was recorded (transaction is null, versions empty)'),
      201: respond(RecordedAnswer, 'Recorded: the transaction and one version per changed entity'),
      ...problems(400, 404, 409, 413, 415, 422)
    }
  } }, async ({ ctx, body, headers }, reply) => await sendWrite(reply, await ingestTransaction(ctx, {
    actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined, issuedAt: body.issuedAt,
    changes: body.changes.map((c) => ({ ...c, data: c.data as JsonObject | undefined }))
  }, idempotentRequest(ctx, headers['idempotency-key'], 'POST /transactions', body))))

  app.get('/transactions', { config: { access: 'read', replica: true }, schema: {
    ...doc('listTransactions', 'transactions', 'List transactions, newest first'),
    querystring: Query({ ...PageQuery, ...TransactionFilter }),
    response: answers(page(Type.Ref('Transaction')), 'A page of transactions, newest first', 400)
  } }, async ({ ctx, query: { limit = 50, cursor, ...filter } }) =>
    pageBody(await transactions(ctx, { ...filter, limit, before: decodeCursor('transactions', cursor) }), 'transactions', (tx) => tx.id))

  app.get('/transactions/:id', { config: { access: 'read', replica: true }, schema: {
    ...doc('getTransaction', 'transactions', 'Read one transaction with every version it created'), params: IdParams,
    response: answers(Type.Object(TransactionDetail.properties, { examples: [transactionDetailExample] }), 'The transaction with every version it created', 400, 404)
  } }, async ({ ctx, params }) => await transactionDetail(ctx, params.id))

  app.get('/transactions/:id/versions', { config: { access: 'read', replica: true }, schema: {
    ...doc('listTransactionVersions', 'transactions', 'Page through every version one transaction created'), params: IdParams, querystring: Query(PageQuery),
    response: answers(page(Type.Ref('Version')), 'A page of the versions, in the order their entities were first touched', 400, 404)
  } }, async ({ ctx, params: { id }, query: q }) =>
    pageBody(await transactionVersions(ctx, id, decodeCursor(`transaction-versions:${id}`, q.cursor), q.limit ?? 50), `transaction-versions:${id}`, (v) => v.position))

  // Every member of the body is optional, and so is the body itself (a JSON null is still a 400).
  const emptyBodyIsNone = async (request: FastifyRequest): Promise<void> => { if (request.body === undefined) request.body = {} }
  app.post('/transactions/:id/revert', { config: { access: 'revert' }, preValidation: emptyBodyIsNone, schema: {
    ...doc('revertTransaction', 'revert', 'Undo what one transaction did, as a new transaction',
      'Each entity the transaction changed goes back to its state just before it. 409 with `conflicts` when a later transaction changed one of them, unless `force` is true.'),
    params: RevertIdParams, headers: IdempotencyHeaders, body: TransactionRevertInput,
    response: { ...revertResponses(transactionRevertAnswerExample), ...problems(400, 404, 409, 413, 415, 422) }
  } }, async ({ ctx, body, params: { id }, headers }, reply) => await sendWrite(reply, await revertTransaction(ctx,
    { ...body, id, actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined },
    idempotentRequest(ctx, headers['idempotency-key'], `POST /transactions/${id}/revert`, body))))
}
