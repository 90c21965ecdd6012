import { Type, type TArray, type TProperties, type TSchema, type TString, type TUnknown } from 'typebox'
import { TYPE_NAME_PATTERN } from '../versioning/entity-type.js'
import { MAX_KEY_LENGTH } from '../versioning/keys.js'
import { CheckpointSchema } from './integrity-schemas.js'
import { exampleParams, transactionExample, versionExample } from './examples.js'

/** Shared TypeBox schemas of the API's payloads; route-specific ones sit beside their routes. */

export const JsonObjectSchema = Type.Object({}, { additionalProperties: true, description: 'A JSON object (any fields).' })
export const TransactionId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'A transaction id.', example: exampleParams.transactionId })
export const TypeName = Type.String({ pattern: TYPE_NAME_PATTERN, description: 'An entity type name.', example: exampleParams.type })
export const EntityId = Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'An entity key: its id values joined by ",".', example: exampleParams.id })
export const Operation = Type.Union([Type.Literal('insert'), Type.Literal('update'), Type.Literal('delete')])
export const Actor = Type.Union([Type.String({ maxLength: 255 }), Type.Null()], { description: 'Who made the change, as the caller names them.' })

export const Problem = Type.Object({
  type: Type.String({ description: 'A URI reference naming the kind of problem.' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.Optional(Type.String())
}, { additionalProperties: true, $id: 'Problem', description: 'An RFC 9457 problem detail.' })

/** Field → [old, new]; `examples` for a response that is one. */
export const changeset = (examples?: unknown[]): ReturnType<typeof Type.Record<TString, TArray<TUnknown>>> =>
  Type.Record(Type.String(), Type.Array(Type.Unknown(), { minItems: 2, maxItems: 2 }), {
    description: 'Field → [old, new] for each versioned field whose value changed.', ...(examples !== undefined ? { examples } : {})
  })
export const Changeset = changeset()

export const Version = Type.Object({
  type: Type.String(),
  id: Type.String(),
  transactionId: TransactionId,
  endTransactionId: Type.Union([TransactionId, Type.Null()]),
  operation: Operation,
  index: Type.Integer({ minimum: 0, description: '0-based position among the entity\'s versions.' }),
  data: JsonObjectSchema,
  changeset: Changeset,
  hash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 (hex) of the version, its transaction and a salted commitment to each value, chained to the entity\'s previous version (see the integrity guide).' })
}, { $id: 'Version', examples: [versionExample] })

export const RecordedBy = Type.Object({
  keyId: Type.Union([Type.String(), Type.Null()]),
  keyName: Type.Optional(Type.String()),
  source: Type.Optional(Type.String({ description: 'The capture source, for transactions captured from PostgreSQL.' }))
}, { description: 'Set by the service from the API key that wrote the transaction: no request body can change it.' })

export const Transaction = Type.Object({
  id: TransactionId,
  issuedAt: Type.String({ format: 'date-time' }),
  recordedAt: Type.String({ format: 'date-time' }),
  actor: Type.Union([Type.String(), Type.Null()]),
  meta: JsonObjectSchema,
  recordedBy: Type.Union([RecordedBy, Type.Null()], { description: 'The API key that recorded it (null for transactions recorded before keys existed).' }),
  revertOf: Type.Optional(JsonObjectSchema)
}, { $id: 'Transaction', examples: [transactionExample] })

export const Change = Type.Object({
  type: Type.String(),
  op: Operation,
  id: Type.String(),
  data: Type.Union([JsonObjectSchema, Type.Null()])
}, { $id: 'Change', description: 'A change for the backend to apply, in the form POST /transactions takes.' })

export const Relations = Type.Record(Type.String(), Type.Union([Type.Ref('Version'), Type.Array(Type.Ref('Version')), Type.Null()]), {
  description: 'Relation name → the related entities as they were: a Version (or null) for manyToOne, a list otherwise.'
})

/** A query string schema: the named parameters, and no others (an unknown one is a 400). */
export const Query = <T extends TProperties>(properties: T): ReturnType<typeof Type.Object<T>> =>
  Type.Object(properties, { additionalProperties: false })

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'Opaque cursor from a previous page\'s nextCursor.' }))
}

export const page = <T extends TSchema>(item: T, examples?: unknown[]): TSchema => Type.Object({
  items: Type.Array(item),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor= for the next page; null on the last.' })
}, examples !== undefined ? { examples } : {})

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ maxLength: 255, description: 'Makes retries safe: the same key and body replay the first answer.' }))
})

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed or schema-invalid request (the detail names the field)',
  404: 'Unknown entity type, entity, version or transaction',
  409: 'The request conflicts with recorded state',
  413: 'The body is larger than BODY_LIMIT',
  415: 'The body is not application/json',
  410: 'What the request needs was pruned by retention, or is in an archived partition of history',
  422: 'The Idempotency-Key was used with another request',
  503: 'The database is not reachable; retry after Retry-After seconds'
}

/** Response entries for the problem statuses a route can answer. */
export function problems (...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {}
  for (const status of statuses) {
    out[status] = { description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem', content: { 'application/problem+json': { schema: Type.Ref('Problem') } } }
  }
  return out
}

/** A response schema with the description the OpenAPI document gives that status. */
export const respond = <T extends TSchema>(schema: T, description: string): T => ({ ...schema, description })

export const sharedSchemas = [Problem, Version, Transaction, Change, CheckpointSchema]

/** A route's entry in the document: its operationId, tag, summary and, if any, a longer description. */
export const doc = (operationId: string, tag: string, summary: string, description?: string): {
  operationId: string, tags: string[], summary: string, description?: string
} => ({ operationId, tags: [tag], summary, ...(description !== undefined ? { description } : {}) })

/** The answers of a read: 200 with `schema` (described by `text`), and the problems it can answer. */
export const answers = <T extends TSchema>(schema: T, text: string, ...statuses: number[]): { 200: T } & Record<number, unknown> =>
  ({ 200: respond(schema, text), ...problems(...statuses) })
