import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { changesetBetween, entityState, entityVersion, entityVersions, relatedAtVersion } from '../../services/history.js'
import { idempotentRequest } from '../../services/idempotency.js'
import { revertEntity } from '../../services/revert.js'
import { entitiesOfType } from '../../services/entities.js'
import type { JsonObject } from '../../versioning/json.js'
import { decodeCursor, pageBody } from '../cursor.js'
import {
  Actor, Changeset, answers, changeset, doc, EntityId, IdempotencyHeaders, JsonObjectSchema, PageQuery, Query, Relations, TransactionId, TypeName, Version, page,
  problems
} from '../schemas.js'
import {
  changesetExample, entitiesPageExample, entityRevertAnswerExample, entityStateExample, revertEntityExamples, versionDetailExample, versionsPageExample
} from '../examples.js'
import { revertResponses, sendWrite } from './write-reply.js'

const TypeParams = Type.Object({ type: TypeName })
const EntityParams = Type.Object({ type: TypeName, id: EntityId })
const EntitySummary = Type.Object({
  type: Type.String(),
  id: Type.String({ description: 'The entity key.' }),
  transactionId: Type.Integer({ description: 'The transaction of its latest version.' }),
  operation: Type.Union([Type.Literal('insert'), Type.Literal('update'), Type.Literal('delete')], { description: 'Its latest version\'s operation: `delete` for a deleted entity.' }),
  issuedAt: Type.String({ format: 'date-time', description: 'When its latest version\'s transaction was issued.' })
})
const VersionParams = Type.Object({ type: TypeName, id: EntityId, transactionId: TransactionId })
const RelatedParams = Type.Object({ ...VersionParams.properties, name: Type.String({ minLength: 1, maxLength: 63, example: 'comments' }) })
const Order = Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }))
const RelationsQuery = Type.Optional(Type.String({ maxLength: 2000, description: 'Comma-separated relation names, e.g. author,comments,tags.' }))

const VersionDetail = Type.Object({
  ...Version.properties,
  previous: Type.Union([TransactionId, Type.Null()]),
  next: Type.Union([TransactionId, Type.Null()]),
  transaction: Type.Ref('Transaction'),
  pruned: Type.Optional(Type.Literal(true, { description: 'On the oldest kept version of an entity whose older versions were pruned (retention): `previous` is null.' })),
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

const AsRecorded = Type.Optional(Type.Boolean({
  description: 'true: data and changeset as they were stored, under the field names of the revision they were recorded under ' +
    '(excluded and redacted values still hidden); default: in the current schema (see POST /entity-types/{type}/migrations).'
}))

/** An entity's history: versions, one version, its state at a transaction, changesets, revert. */
export const entityRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/entities/:type', { config: { access: 'read', replica: true }, schema: {
    ...doc('listEntities', 'entities', 'List the entities of a type that have history, by key',
      'Deleted entities too (their latest operation is `delete`): each with its latest version\'s operation, transaction and time. Keys are in the database\'s text order.'),
    params: TypeParams, querystring: Query(PageQuery),
    response: answers(page(EntitySummary, [entitiesPageExample]), 'A page of the type\'s entities', 400, 404)
  } }, async ({ ctx, params, query: { limit = 50, cursor } }) =>
    pageBody(await entitiesOfType(ctx, params.type, decodeCursor(`entities:${params.type}`, cursor, 'string'), limit), `entities:${params.type}`, (e) => e.id))

  app.get('/entities/:type/:id/versions', { config: { access: 'read', replica: true }, schema: {
    ...doc('listVersions', 'versions', 'List an entity\'s versions by transaction id'), params: EntityParams, querystring: Query({ ...PageQuery, order: Order, asRecorded: AsRecorded }),
    response: answers(page(Type.Ref('Version'), [versionsPageExample]), 'A page of the entity\'s versions', 400, 404, 410)
  } }, async ({ ctx, params, query: { limit = 50, order = 'asc', cursor, asRecorded } }) =>
    pageBody(await entityVersions(ctx, params.type, params.id, { order, limit, after: decodeCursor(`versions:${order}`, cursor) }, asRecorded === true), `versions:${order}`, (v) => v.transactionId))

  app.get('/entities/:type/:id/versions/:transactionId', { config: { access: 'read', replica: true }, schema: {
    ...doc('getVersion', 'versions', 'Read one version with its neighbours, its transaction and, on request, its relations as they were'),
    params: VersionParams, querystring: Query({ relations: RelationsQuery, asRecorded: AsRecorded }),
    response: answers(Type.Object(VersionDetail.properties, { examples: [versionDetailExample] }), 'The version, its neighbours and its transaction', 400, 404, 410)
  } }, async ({ ctx, params: p, query }) => await entityVersion(ctx, p.type, p.id, p.transactionId, query.relations, query.asRecorded === true))

  app.get('/entities/:type/:id/versions/:transactionId/relations/:name', { config: { access: 'read', replica: true }, schema: {
    ...doc('listRelatedAtVersion', 'versions', 'Page through the entities one relation named as of a version',
      'The targets of a relation of the entity as they were at that transaction, in id order: every one of them, where ?relations= lists 1,000 at most.'),
    params: RelatedParams, querystring: Query(PageQuery), response: answers(page(Type.Ref('Version')), 'A page of the related entities\' versions live then', 400, 404, 410)
  } }, async ({ ctx, params: p, query: q }) => pageBody(await relatedAtVersion(ctx, p.type, p.id, p.transactionId, p.name,
    decodeCursor(`related:${p.transactionId}:${p.name}`, q.cursor), q.limit ?? 50), `related:${p.transactionId}:${p.name}`, (v) => v.offset))

  app.get('/entities/:type/:id', { config: { access: 'read', replica: true }, schema: {
    ...doc('getEntityState', 'entities', 'Read an entity\'s current state, or its state at a transaction'),
    params: EntityParams, querystring: Query({ at: Type.Optional(TransactionId), relations: RelationsQuery }),
    response: answers(Type.Object(EntityStateSchema.properties, { examples: [entityStateExample] }), 'The entity\'s state, and the transaction of the version that holds it', 400, 404, 410)
  } }, async ({ ctx, params: p, query: q }) => await entityState(ctx, p.type, p.id, q.at, q.relations))

  app.get('/entities/:type/:id/changeset', { config: { access: 'read', replica: true }, schema: {
    ...doc('getChangeset', 'versions', 'The changeset between an entity\'s states at two transactions'), params: EntityParams,
    querystring: Query({ from: TransactionId, to: TransactionId }), response: answers(changeset([changesetExample]), 'Field → [old, new] for each field that differs', 400, 404, 410)
  } }, async ({ ctx, params: p, query: q }) => await changesetBetween(ctx, p.type, p.id, q.from, q.to))

  app.post('/entities/:type/:id/revert', { config: { access: 'revert' }, schema: {
    ...doc('revertEntity', 'revert', 'Bring an entity (and the named relations) back to its state at a transaction',
      'Recorded as a new transaction (unless dryRun); the answer lists the changes for the backend to apply, in an order that keeps foreign keys valid.'),
    params: EntityParams, headers: IdempotencyHeaders, body: RevertInput,
    response: { ...revertResponses(entityRevertAnswerExample), ...problems(400, 404, 409, 410, 413, 415, 422) }
  } }, async ({ ctx, params: { type, id }, body, headers }, reply) => await sendWrite(reply, await revertEntity(ctx, {
    type, key: id, to: body.to, relations: body.relations ?? [], dryRun: body.dryRun, actor: body.actor ?? undefined, meta: body.meta as JsonObject | undefined
  }, idempotentRequest(ctx, headers['idempotency-key'], `POST /entities/${type}/${id}/revert`, body))))
}
