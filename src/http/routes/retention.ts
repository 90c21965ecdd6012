import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { redactEntity, redactions } from '../../services/redaction.js'
import { holds, placeHold, releaseHold, runRetention } from '../../services/retention.js'
import { decodeCursor, pageBody } from '../cursor.js'
import { legalHoldExample, pruneReportExample, redactionExample } from '../integrity-examples.js'
import { EntityId, PageQuery, Query, TypeName, answers, doc, page, problems, respond } from '../schemas.js'

const FieldName = Type.String({ minLength: 1, maxLength: 255 })
const RecordedBy = Type.Union([Type.Object({ keyId: Type.Union([Type.String(), Type.Null()]), keyName: Type.Optional(Type.String()) }), Type.Null()])

const RedactInput = Type.Object({
  fields: Type.Array(FieldName, { minItems: 1, maxItems: 1000, description: 'The fields whose values are erased from every version.' }),
  reason: Type.Optional(Type.String({ maxLength: 1000, description: 'Why (e.g. the erasure request): kept in the record.' }))
}, { additionalProperties: false, examples: [{ fields: ['email'], reason: 'erasure request #1234' }] })

const RedactionSchema = Type.Object({
  id: Type.String({ description: 'The redaction id: erased values read as {"$redacted": id}.' }),
  type: Type.String(),
  entityId: Type.String(),
  fields: Type.Array(Type.String()),
  reason: Type.Union([Type.String(), Type.Null()]),
  versions: Type.Integer({ minimum: 0, description: 'Versions that held a value of one of the fields.' }),
  recordedBy: RecordedBy,
  createdAt: Type.String({ format: 'date-time' })
}, { examples: [redactionExample] })

const HoldInput = Type.Object({
  type: TypeName,
  id: Type.Optional(EntityId),
  reason: Type.Optional(Type.String({ maxLength: 1000 }))
}, { additionalProperties: false, examples: [{ type: 'invoice', reason: 'litigation 2025-17' }] })

const HoldSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  entityId: Type.Union([Type.String(), Type.Null()], { description: 'The entity held, or null: the whole type.' }),
  reason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' })
}, { examples: [legalHoldExample] })

const PruneReport = Type.Object({
  versions: Type.Integer({ minimum: 0, description: 'Versions pruned in all.' }),
  entities: Type.Array(Type.Object({ type: Type.String(), id: Type.String(), versions: Type.Integer(), keptFromIndex: Type.Integer() }), { description: 'The entities pruned (the first 1,000).' }),
  truncated: Type.Boolean()
}, { examples: [pruneReportExample] })

const TAG = 'redaction and retention'

/** Redaction (erasure), retention runs and legal holds (admin). */
export const retentionRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/entities/:type/:id/redact', { config: { access: 'admin' }, schema: {
    ...doc('redactEntity', TAG, 'Erase fields\' values from every version of an entity',
      'Data and changesets alike; stored idempotent answers too. Values read as {"$redacted": id}; their salts are erased with them, ' +
      'so nothing kept can be tried against guesses, and verification still passes. Recorded (GET /redactions).'),
    params: Type.Object({ type: TypeName, id: EntityId }), body: RedactInput,
    response: { 201: respond(RedactionSchema, 'Erased and recorded'), ...problems(400, 404, 413, 415) }
  } }, async ({ ctx, params: p, body }, reply) => await reply.code(201).send(await redactEntity(ctx, p.type, p.id, body.fields, body.reason)))

  app.get('/redactions', { config: { access: 'read' }, schema: {
    ...doc('listRedactions', TAG, 'List the redactions, oldest first'), querystring: Query(PageQuery),
    response: answers(page(RedactionSchema, [{ items: [redactionExample], nextCursor: null }]), 'A page of redactions', 400)
  } }, async ({ ctx, query: q }) => pageBody(await redactions(ctx, decodeCursor('redactions', q.cursor), q.limit ?? 50), 'redactions', (r) => r.sequence - 1))

  app.post('/retention/run', { config: { access: 'admin' }, schema: {
    ...doc('runRetention', TAG, 'Prune now what the types\' retention rules let go',
      'Pruning also runs every RETENTION_INTERVAL_MS. An entity\'s latest version is never pruned; held types and entities are skipped.'),
    response: answers(PruneReport, 'What was pruned')
  } }, async ({ ctx }) => await runRetention(ctx))

  app.post('/legal-holds', { config: { access: 'admin' }, schema: {
    ...doc('placeLegalHold', TAG, 'Stop pruning of a type or of one entity'), body: HoldInput,
    response: { 201: respond(HoldSchema, 'The hold'), ...problems(400, 404, 413, 415) }
  } }, async ({ ctx, body }, reply) => await reply.code(201).send(await placeHold(ctx, body.type, body.id, body.reason)))

  app.get('/legal-holds', { config: { access: 'admin' }, schema: {
    ...doc('listLegalHolds', TAG, 'List the legal holds'), querystring: Query(PageQuery),
    response: answers(page(HoldSchema, [{ items: [legalHoldExample], nextCursor: null }]), 'A page of holds', 400)
  } }, async ({ ctx, query: q }) => pageBody(await holds(ctx, decodeCursor('legal-holds', q.cursor, 'string'), q.limit ?? 50), 'legal-holds', (h) => h.id))

  app.delete('/legal-holds/:id', { config: { access: 'admin' }, schema: {
    ...doc('releaseLegalHold', TAG, 'Release a legal hold: pruning resumes'),
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100, example: legalHoldExample.id }) }),
    response: { 204: { description: 'Released', type: 'null' }, ...problems(404) }
  } }, async ({ ctx, params }, reply) => {
    await releaseHold(ctx, params.id)
    return await reply.code(204).send(null)
  })
}
