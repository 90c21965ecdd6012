import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { entityType, entityTypeRevisions, entityTypes, putEntityType } from '../../services/entity-types.js'
import { decodeCursor, pageBody } from '../cursor.js'
import { entityTypeExample, putEntityTypeExamples } from '../examples.js'
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

const Revision = Type.Object({
  revision: Type.Integer({ minimum: 1 }),
  definition: Definition,
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
    response: answers(page(Revision), 'A page of the type\'s revisions, oldest first', 400, 404)
  } }, async ({ ctx, params: { type }, query: q }) =>
    pageBody(await entityTypeRevisions(ctx, type, decodeCursor(`revisions:${type}`, q.cursor), q.limit ?? 50), `revisions:${type}`, (r) => r.revision))
}
