import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { entityType, entityTypeRevisions, entityTypes, putEntityType } from '../../services/entity-types.js'
import { migrateEntityType } from '../../services/schema-changes.js'
import { parseOperations } from '../../versioning/schema-migrations.js'
import { decodeCursor, pageBody } from '../cursor.js'
import { entityTypeExample, migrationExamples, migratedTypeExample, putEntityTypeExamples, revisionsPageExample } from '../examples.js'
import { PageQuery, Query, TypeName, answers, doc, page, problems, respond } from '../schemas.js'

const FieldName = Type.String({ minLength: 1, maxLength: 255 })

const RelationSchema = Type.Union([
  Type.Object({
    kind: Type.Literal('manyToOne'),
    target: TypeName,
    foreignKey: Type.String({ ...FieldName, description: 'The field of THIS type holding the target\'s key (e.g. article.author_id → user).' })
  }, { additionalProperties: false, description: 'Each entity of this type points at one target.' }),
  Type.Object({
    kind: Type.Literal('oneToMany'),
    target: TypeName,
    foreignKey: Type.String({ ...FieldName, description: 'The field of the TARGET type holding this entity\'s key (e.g. comment.article_id → article).' })
  }, { additionalProperties: false, description: 'Entities of the target type point at this one.' }),
  Type.Object({
    kind: Type.Literal('manyToMany'),
    target: TypeName,
    through: Type.String({ ...TypeName, description: 'The association type whose entities link the two (registered when missing).' }),
    localKey: Type.String({ ...FieldName, description: 'The field of the ASSOCIATION type holding this entity\'s key.' }),
    remoteKey: Type.String({ ...FieldName, description: 'The field of the ASSOCIATION type holding the target\'s key.' })
  }, { additionalProperties: false, description: 'Linked through entities of an association type.' })
])

const Redact = Type.Object({
  fields: Type.Array(FieldName, { maxItems: 1000, description: 'Fields whose values are never stored: each new version keeps only their salted commitment (needs `admin`).' })
}, { additionalProperties: false, description: 'Write-time redaction.' })

const Retention = Type.Object({
  keepVersions: Type.Optional(Type.Integer({ minimum: 1, description: 'Keep at least the newest n versions of each entity.' })),
  keepDays: Type.Optional(Type.Integer({ minimum: 0, description: 'Keep versions recorded in the last d days.' }))
}, { additionalProperties: false, description: 'Older versions are pruned (never an entity\'s latest; needs `admin`).' })

const DefinitionInput = Type.Object({
  idFields: Type.Optional(Type.Array(FieldName, { minItems: 1, maxItems: 16 })),
  exclude: Type.Optional(Type.Array(FieldName, { maxItems: 1000 })),
  relations: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' }), RelationSchema, {
    additionalProperties: false
  })),
  redact: Type.Optional(Redact),
  retention: Type.Optional(Retention)
}, { additionalProperties: false, 'x-examples': putEntityTypeExamples })

const Definition = Type.Object({
  idFields: Type.Array(Type.String()),
  exclude: Type.Array(Type.String()),
  relations: Type.Record(Type.String(), RelationSchema),
  redact: Type.Optional(Redact),
  retention: Type.Optional(Retention)
})

const EntityTypeSchema = Type.Object({
  type: Type.String(),
  revision: Type.Integer({ minimum: 1 }),
  definition: Definition,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}, { examples: [entityTypeExample] })

const Operation = Type.Object({
  op: Type.Union([Type.Literal('renameField'), Type.Literal('dropField'), Type.Literal('addField')], {
    description: '`renameField` (`from`, `to`), `dropField` (`field`) or `addField` (`field`, `default`).'
  }),
  from: Type.Optional(Type.String({ ...FieldName, description: 'renameField: the field\'s current name.' })),
  to: Type.Optional(Type.String({ ...FieldName, description: 'renameField: its new name.' })),
  field: Type.Optional(Type.String({ ...FieldName, description: 'dropField, addField: the field.' })),
  default: Type.Optional(Type.Unknown({ description: 'addField: the value versions recorded without the field show (any JSON; required).' }))
}, { additionalProperties: false, description: 'One schema operation.' })

const MigrationInput = Type.Object({
  operations: Type.Array(Operation, { minItems: 1, maxItems: 100, description: 'Applied in order, all or none.' })
}, { additionalProperties: false, 'x-examples': migrationExamples })

const Revision = Type.Object({
  revision: Type.Integer({ minimum: 1 }),
  definition: Definition,
  operations: Type.Optional(Type.Array(Operation, { description: 'The operations of a revision made by a migration (absent: made by PUT).' })),
  createdAt: Type.String({ format: 'date-time' })
})

const TypeParams = Type.Object({ type: TypeName })

/** Registering versioned entity types and reading them with their revisions. */
export const entityTypeRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.put('/entity-types/:type', { config: { access: 'types' }, schema: {
    ...doc('putEntityType', 'entity types', 'Register or change a versioned entity type',
      'Excluding a field that was versioned stops recording it: that needs the `admin` scope.'),
    params: TypeParams, body: DefinitionInput,
    response: {
      200: respond(EntityTypeSchema, 'Changed (revision raised) or unchanged'),
      201: respond(EntityTypeSchema, 'Registered: revision 1'),
      ...problems(400, 409, 413, 415)
    }
  } }, async ({ ctx, params, body }, reply) => {
    const { created, entityType } = await putEntityType(ctx, params.type, body)
    return await reply.code(created ? 201 : 200).send(entityType)
  })

  app.get('/entity-types', { config: { access: 'read' }, schema: {
    ...doc('listEntityTypes', 'entity types', 'List the registered entity types (by name)'), querystring: Query(PageQuery),
    response: answers(page(EntityTypeSchema), 'A page of entity types, by name', 400)
  } }, async ({ ctx, query: q }) => pageBody(await entityTypes(ctx, decodeCursor('entity-types', q.cursor, 'string'), q.limit ?? 50), 'entity-types', (t) => t.type))

  app.get('/entity-types/:type', { config: { access: 'read' }, schema: { ...doc('getEntityType', 'entity types', 'Read one entity type'), params: TypeParams, response: answers(EntityTypeSchema, 'The entity type and its current definition', 400, 404) }
  }, async ({ ctx, params }) => await entityType(ctx, params.type))

  app.get('/entity-types/:type/revisions', { config: { access: 'read' }, schema: {
    ...doc('listEntityTypeRevisions', 'entity types', 'List every kept revision of an entity type definition'), params: TypeParams, querystring: Query(PageQuery),
    response: answers(page(Revision, [revisionsPageExample]), 'A page of the type\'s revisions, oldest first', 400, 404)
  } }, async ({ ctx, params: { type }, query: q }) =>
    pageBody(await entityTypeRevisions(ctx, type, decodeCursor(`revisions:${type}`, q.cursor), q.limit ?? 50), `revisions:${type}`, (r) => r.revision))

  app.post('/entity-types/:type/migrations', { config: { access: 'types' }, schema: {
    ...doc('migrateEntityType', 'entity types', 'Migrate a type\'s schema: rename, drop or add fields across its whole history',
      'Call it right after the backend\'s own database migration. Raises the revision once; from then on every read presents history ' +
      'in the current schema (nothing stored is rewritten; `?asRecorded=true` on version reads shows the stored form), relation keys ' +
      'follow a rename, and writes must use the new names.'),
    params: TypeParams, body: MigrationInput,
    response: { 200: respond(Type.Object(EntityTypeSchema.properties, { examples: [migratedTypeExample] }), 'Migrated: the type with its raised revision'), ...problems(400, 404, 413, 415) }
  } }, async ({ ctx, params, body }) => await migrateEntityType(ctx, params.type, parseOperations(body.operations)))
}
