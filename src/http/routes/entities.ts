import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { changesetBetween, entityState, entityVersion, entityVersions, relatedAtVersion } from '../../services/history.js'
import { idempotentRequest } from '../../services/idempotency.js'
import { revertEntity } from '../../services/revert.js'
import type { JsonObject } from '../../versioning/json.js'
import { decodeCursor, pageBody } from '../cursor.js'
import {
  Actor, Changeset, changeset, EntityId, IdempotencyHeaders, JsonObjectSchema, PageQuery, Query, Relations, TransactionId, TypeName, Version, page, problems, respond
} from '../schemas.js'
import {
  changesetExample, entityRevertAnswerExample, entityStateExample, revertEntityExamples, versionDetailExample, versionsPageExample
} from '../examples.js'
import { revertResponses, sendWrite } from './write-reply.js'

const EntityParams = Type.Object({ type: TypeName, id: EntityId })
const RelationsQuery = Type.Optional(Type.String({ maxLength: 2000, description: 'Comma-separated relation names, e.g. author,comments,tags.' }))

const VersionDetail = Type.Object({
  ...Version.properties,
  previous: Type.Union([TransactionId, Type.Null()]),
  next: Type.Union([TransactionId, Type.Null()]),
  transaction: Type.Ref('Transaction'),
  relations: Type.Optional(Relations),
  truncatedRelations: Type.Optional(Type.Array(Type.String(), {
    description: 'The to-many relations that list only their first 1,000 targets: page through GET /entities/{type}/{id}/versions/{t}/relations/{name}.'
  }))
})

const EntityStateSchema = Type.Object({
  type: Type.String(),
  id: Type.String(),
  data: JsonObjectSchema,
  transactionId: TransactionId,
  relations: Type.Optional(Relations),
  truncatedRelations: Type.Optional(Type.Array(Type.String(), {
    description: 'The to-many relations that list only their first 1,000 targets: page through GET /entities/{type}/{id}/versions/{t}/relations/{name}.'
  }))
})

const RevertInput = Type.Object({
  to: TransactionId,
  relations: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 100 })),
  dryRun: Type.Optional(Type.Boolean()),
  actor: Type.Optional(Actor),
  meta: Type.Optional(JsonObjectSchema)
}, { additionalProperties: false, 'x-examples': revertEntityExamples })

/** An entity's history: versions, one version, its state at a transaction, changesets, revert. */
export const entityRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/entities/:type/:id/versions', {
    config: { access: 'read' },
    schema: {
      operationId: 'listVersions',
      tags: ['versions'],
      summary: 'List an entity\'s versions by transaction id',
      params: EntityParams,
      querystring: Query({ ...PageQuery, order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })) }),
      response: { 200: respond(page(Type.Ref('Version'), [versionsPageExample]), 'A page of the entity\'s versions'), ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id } = request.params
    const { limit = 50, order = 'asc', cursor } = request.query
    const list = `versions:${order}`
    const found = await entityVersions(request.ctx, type, id, { order, limit, after: decodeCursor(list, cursor) })
    return pageBody(found, list, (v) => v.transactionId)
  })

  app.get('/entities/:type/:id/versions/:transactionId', {
    config: { access: 'read' },
    schema: {
      operationId: 'getVersion',
      tags: ['versions'],
      summary: 'Read one version with its neighbours, its transaction and, on request, its relations as they were',
      params: Type.Object({ type: TypeName, id: EntityId, transactionId: TransactionId }),
      querystring: Query({ relations: RelationsQuery }),
      response: { 200: respond(Type.Object(VersionDetail.properties, { examples: [versionDetailExample] }), 'The version, its neighbours and its transaction'), ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id, transactionId } = request.params
    return await entityVersion(request.ctx, type, id, transactionId, request.query.relations)
  })

  app.get('/entities/:type/:id/versions/:transactionId/relations/:name', {
    config: { access: 'read' },
    schema: {
      operationId: 'listRelatedAtVersion',
      tags: ['versions'],
      summary: 'Page through the entities one relation named as of a version',
      description: 'The targets of a relation of the entity as they were at that transaction, in id order: every one of them, where ?relations= lists 1,000 at most.',
      params: Type.Object({ type: TypeName, id: EntityId, transactionId: TransactionId, name: Type.String({ minLength: 1, maxLength: 63, examples: ['comments'] }) }),
      querystring: Query(PageQuery),
      response: { 200: respond(page(Type.Ref('Version')), 'A page of the related entities\' versions live then'), ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id, transactionId, name } = request.params
    const list = `related:${transactionId}:${name}`
    const found = await relatedAtVersion(request.ctx, type, id, transactionId, name, decodeCursor(list, request.query.cursor), request.query.limit ?? 50)
    return pageBody(found, list, (v) => v.offset)
  })

  app.get('/entities/:type/:id', {
    config: { access: 'read' },
    schema: {
      operationId: 'getEntityState',
      tags: ['entities'],
      summary: 'Read an entity\'s current state, or its state at a transaction',
      params: EntityParams,
      querystring: Query({ at: Type.Optional(TransactionId), relations: RelationsQuery }),
      response: { 200: respond(Type.Object(EntityStateSchema.properties, { examples: [entityStateExample] }), 'The entity\'s state, and the transaction of the version that holds it'), ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id } = request.params
    return await entityState(request.ctx, type, id, request.query.at, request.query.relations)
  })

  app.get('/entities/:type/:id/changeset', {
    config: { access: 'read' },
    schema: {
      operationId: 'getChangeset',
      tags: ['versions'],
      summary: 'The changeset between an entity\'s states at two transactions',
      params: EntityParams,
      querystring: Query({ from: TransactionId, to: TransactionId }),
      response: { 200: respond(changeset([changesetExample]), 'Field → [old, new] for each field that differs'), ...problems(400, 404) }
    }
  }, async (request) => {
    const { type, id } = request.params
    return await changesetBetween(request.ctx, type, id, request.query.from, request.query.to)
  })

  app.post('/entities/:type/:id/revert', {
    config: { access: 'revert' },
    schema: {
      operationId: 'revertEntity',
      tags: ['revert'],
      summary: 'Bring an entity (and the named relations) back to its state at a transaction',
      description: 'Recorded as a new transaction (unless dryRun); the answer lists the changes for the backend to apply, in an order that keeps foreign keys valid.',
      params: EntityParams,
      headers: IdempotencyHeaders,
      body: RevertInput,
      response: { ...revertResponses(entityRevertAnswerExample), ...problems(400, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const { type, id } = request.params
    const body = request.body
    const outcome = await revertEntity(request.ctx, {
      type, key: id, to: body.to, relations: body.relations ?? [], dryRun: body.dryRun, actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined
    }, idempotentRequest(request.headers['idempotency-key'], `POST /entities/${type}/${id}/revert`, body))
    return await sendWrite(reply, outcome)
  })
}
