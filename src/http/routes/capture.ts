import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { capturedSourceView, deleteCapturedSource, putCapturedSource } from '../../capture/index.js'
import { captureSourceExample, putCaptureSourceExamples } from '../capture-examples.js'
import { answers, doc, problems, Query, respond } from '../schemas.js'

const SourceName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,30}$', description: 'The source\'s name (lower case, digits, _).' })
const FieldName = Type.String({ minLength: 1, maxLength: 255 })
const PgName = Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$' })

const TableMapping = Type.Object({
  type: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'The entity type its rows are versions of (registered when missing).' }),
  idFields: Type.Optional(Type.Array(FieldName, { minItems: 1, maxItems: 16, description: 'Default: the table\'s primary key.' })),
  exclude: Type.Optional(Type.Array(FieldName, { maxItems: 1000, description: 'Columns not versioned (when the type is registered here).' }))
}, { additionalProperties: false })

const SourceInput = Type.Object({
  connection: Type.String({ minLength: 1, maxLength: 2000, description: 'A libpq URL of the source database (a role with REPLICATION that owns the tables or may create the publication). Never answered back with its password.' }),
  tables: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_$]*\\.[A-Za-z_][A-Za-z0-9_$]*$' }), TableMapping, {
    description: '`schema.table` → its entity type. Tables not listed are ignored.'
  }),
  publication: Type.Optional(PgName),
  slot: Type.Optional(PgName)
}, { additionalProperties: false, 'x-examples': putCaptureSourceExamples })

const SourceSchema = Type.Object({
  name: Type.String(),
  connection: Type.String({ description: 'Without its password.' }),
  tables: Type.Record(Type.String(), TableMapping),
  publication: Type.String(),
  slot: Type.String(),
  state: Type.Union([Type.Literal('starting'), Type.Literal('streaming'), Type.Literal('reconnecting'), Type.Literal('blocked'), Type.Literal('stopped')]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it is blocked or reconnecting (null when all is well).' }),
  confirmedLsn: Type.Union([Type.String(), Type.Null()], { description: 'The source position up to which its transactions are recorded.' }),
  lastCommitAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The commit time of the last source transaction recorded.' }),
  lag: Type.Object({
    bytes: Type.Union([Type.Integer(), Type.Null()], { description: 'WAL bytes written on the source since the confirmed position (null: the source cannot be reached).' }),
    seconds: Type.Union([Type.Number(), Type.Null()], { description: '0 when caught up; else the age of the last recorded source commit.' })
  }),
  slotStatus: Type.Optional(Type.Object({
    exists: Type.Boolean(),
    active: Type.Boolean({ description: 'A capture session reads it now.' }),
    retainedBytes: Type.Union([Type.Integer(), Type.Null()], { description: 'WAL the source keeps for this slot.' })
  })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}, { examples: [captureSourceExample] })

const Params = Type.Object({ name: SourceName })

/** Capture from PostgreSQL: configuring sources and watching them. */
export const captureRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.put('/capture/sources/:name', { config: { access: 'admin' }, schema: {
    ...doc('putCaptureSource', 'capture', 'Capture a PostgreSQL database\'s changes through logical replication',
      'Checks the source (wal_level = logical, the tables and their keys), creates the publication and the slot when missing and registers the missing entity types; answers once the slot exists: every source transaction committed after the answer is captured.'),
    params: Params, body: SourceInput,
    response: { 200: respond(SourceSchema, 'Changed'), 201: respond(SourceSchema, 'Created'), ...problems(400, 413, 415) }
  } }, async ({ ctx, params, body }, reply) => {
    const { created, view } = await putCapturedSource(ctx, params.name, body)
    return await reply.code(created ? 201 : 200).send(view)
  })

  app.get('/capture/sources/:name', { config: { access: 'admin' }, schema: {
    ...doc('getCaptureSource', 'capture', 'Read a capture source: state, confirmed position, lag and slot'),
    params: Params, response: answers(SourceSchema, 'The source', 400, 404)
  } }, async ({ ctx, params }) => await capturedSourceView(ctx, params.name))

  app.delete('/capture/sources/:name', { config: { access: 'admin' }, schema: {
    ...doc('deleteCaptureSource', 'capture', 'Stop capturing a source', 'With ?dropSlot=true its replication slot is dropped on the source too (the source then keeps no WAL for it).'),
    params: Params, querystring: Query({ dropSlot: Type.Optional(Type.Boolean({ default: false })) }),
    response: { 204: { description: 'Stopped', type: 'null' }, ...problems(400, 404) }
  } }, async ({ ctx, params, query }, reply) => {
    await deleteCapturedSource(ctx, params.name, query.dropSlot === true)
    return await reply.code(204).send(null)
  })
}
