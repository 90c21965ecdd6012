/**
 * Examples for the OpenAPI document: the README quickstart. Sent from /docs' "Try it out" in this order on a fresh
 * database, each request works (test/validation-messages.test.ts sends them and compares the answers):
 * PUT /entity-types/article, POST /transactions (insert, then update), GET /entities/article/1/versions,
 * POST /entities/article/1/revert (records transaction 3), POST /transactions/3/revert (records transaction 4).
 *
 * How to attach them (@fastify/swagger 9, OpenAPI 3.0.3; see node_modules/@fastify/swagger/lib/spec/openapi/utils.js,
 * schemaToMedia): on the ROOT schema of a request body, `'x-examples': putEntityTypeExamples` (a record of
 * `{ summary, value }`) becomes the media type's named `examples` (Swagger UI offers a drop-down and fills "Try it
 * out" with the first one); `examples: [value]` becomes the media type's single `example`, and `examples: [a, b]`
 * unnamed `example1`/`example2` (use one of the two forms per schema, not both). For a path or query parameter,
 * `examples: [exampleParams.type]` on the property's schema (e.g. `TypeName`, `EntityId`, `TransactionId` in
 * schemas.ts, or a route's own copy such as the `id` of POST /transactions/{id}/revert, whose working value is
 * exampleParams.revertTransactionId) becomes the parameter's `example`, which Swagger UI pre-fills; an `examples`
 * nested inside a body becomes that property's schema `example`. For a response, `examples: [recordAnswerExample]`
 * on the root schema of a status (a route-local `Type.Object` such as RecordAnswer) becomes that response's media
 * `example`; a response that is a `Type.Ref('Version')` cannot carry one (@fastify/swagger drops every keyword next
 * to a `$ref`): put `examples: [versionExample]` on the registered shared schema (`Version`, `Transaction`, with an
 * `$id`) instead, and it appears as `components.schemas.Version.example` wherever it is referenced. `examples` is an
 * annotation for ajv; `x-examples` is an unknown keyword that ajv ignores because validation.ts compiles with
 * `strict: false`. Then run `npm run openapi` (test/openapi.test.ts checks the committed document).
 */

/** A named example: the form `'x-examples'` takes (an OpenAPI 3 Example Object). */
export interface NamedExample<T = unknown> {
  summary: string
  description?: string
  value: T
}

/** Values for path and query parameters (the quickstart's article). */
export const exampleParams = {
  /** `{type}` of every /entity-types and /entities path. */
  type: 'article',
  /** `{id}` of /entities/{type}/{id}…: the entity key. */
  id: '1',
  /** `{transactionId}` of /entities/{type}/{id}/versions/{transactionId}, `{id}` of GET /transactions/{id}, `?at=`. */
  transactionId: 1,
  /** `{id}` of POST /transactions/{id}/revert in the walk-through: the entity revert's transaction, undone without conflict. */
  revertTransactionId: 3,
  /** `?from=` and `?to=` of GET /entities/{type}/{id}/changeset. */
  from: 1,
  to: 2
} as const
// No example for `?relations=`: Swagger UI would send it, and with the walk-through's type (no relations) it is a 400.

// ---- Request bodies (each record is ready for `'x-examples'`; its first entry is the walk-through's) ----

/** PUT /entity-types/{type} */
export const putEntityTypeExamples = {
  defaults: {
    summary: 'Register article with the defaults',
    description: 'idFields defaults to ["id"]; nothing excluded, no relations.',
    value: {}
  },
  withRelations: {
    summary: 'Exclude a field and declare relations',
    description: 'The relations name other types (user, comment, tag, article_tag) that need not be registered yet.',
    value: {
      idFields: ['id'],
      exclude: ['updated_at'],
      relations: {
        author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' },
        comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' },
        tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
      }
    }
  }
} satisfies Record<string, NamedExample>

/** POST /transactions */
export const postTransactionExamples = {
  insert: {
    summary: 'Insert article 1 (transaction 1)',
    value: { actor: 'user-42', changes: [{ type: 'article', op: 'insert', data: { id: 1, name: 'Initial Name', content: 'Initial Content' } }] }
  },
  update: {
    summary: 'Update its name (transaction 2)',
    description: 'An update sends the entity key and the fields that change.',
    value: { actor: 'user-42', changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'Updated Name' } }] }
  }
} satisfies Record<string, NamedExample>

/** POST /entities/{type}/{id}/revert */
export const revertEntityExamples = {
  toFirstVersion: {
    summary: 'Bring article 1 back to its state at transaction 1 (records transaction 3)',
    value: { to: 1, actor: 'admin' }
  },
  dryRun: {
    summary: 'Only show the changes a revert to transaction 1 would make',
    value: { to: 1, dryRun: true }
  }
} satisfies Record<string, NamedExample>

/** POST /transactions/{id}/revert */
export const revertTransactionExamples = {
  undo: {
    summary: 'Undo the transaction (in the walk-through: transaction 3, the entity revert)',
    value: { actor: 'admin' }
  },
  dryRun: {
    summary: 'Only show the changes undoing it would make',
    value: { dryRun: true }
  }
} satisfies Record<string, NamedExample>

// ---- Responses (the answers of the walk-through, with fixed timestamps) ----

const T1 = '2025-01-15T09:30:00.000Z'
const T2 = '2025-01-15T09:31:00.000Z'
const T3 = '2025-01-15T09:32:00.000Z'
const T4 = '2025-01-15T09:33:00.000Z'

/** The key that recorded the walk-through: the first start's admin key (its id is random). */
const RECORDED_BY = { keyId: 'key_Xy3v0Qm9aTbL', keyName: 'bootstrap admin' }

const INITIAL = { id: 1, name: 'Initial Name', content: 'Initial Content' }
const UPDATED = { id: 1, name: 'Updated Name', content: 'Initial Content' }

/** An entity type (PUT /entity-types/article with `{}`, GET /entity-types/article). */
export const entityTypeExample = {
  type: 'article',
  revision: 1,
  definition: { idFields: ['id'], exclude: [], relations: {} },
  createdAt: T1,
  updatedAt: T1
}

/** POST /entity-types/{type}/migrations bodies. */
export const migrationExamples = {
  rename: {
    summary: 'Rename a field',
    description: 'After the backend renamed its column name → title: history reads with title from now on.',
    value: { operations: [{ op: 'renameField', from: 'name', to: 'title' }] }
  },
  several: {
    summary: 'Drop one field, add another',
    description: 'Applied in order, all or none; versions recorded before show status "draft".',
    value: { operations: [{ op: 'dropField', field: 'legacy_code' }, { op: 'addField', field: 'status', default: 'draft' }] }
  }
}

/** The type a migration answers: revision raised. */
export const migratedTypeExample = { ...entityTypeExample, revision: 2, updatedAt: T2 }

/** A page of GET /entity-types/{type}/revisions: a PUT, then a migration. */
export const revisionsPageExample = {
  items: [
    { revision: 1, definition: entityTypeExample.definition, createdAt: T1 },
    { revision: 2, definition: entityTypeExample.definition, operations: [{ op: 'renameField', from: 'name', to: 'title' }], createdAt: T2 }
  ],
  nextCursor: null
}

/** A Transaction (the shared `Transaction` schema): transaction 1. */
export const transactionExample = { id: 1, issuedAt: T1, recordedAt: T1, actor: 'user-42', meta: {}, recordedBy: RECORDED_BY }

/** A Version (the shared `Version` schema): article 1's insert, as listed once transaction 2 updated it. */
export const versionExample = {
  type: 'article',
  id: '1',
  transactionId: 1,
  endTransactionId: 2,
  operation: 'insert',
  index: 0,
  data: INITIAL,
  changeset: { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] },
  hash: '3f7c1d0e9b2a48c6a1e5d7f09c3b2a1e4d6f8a0b2c4e6f8091a3b5c7d9e1f302'
}

/** The update's Version: transaction 2. */
export const updateVersionExample = {
  type: 'article',
  id: '1',
  transactionId: 2,
  endTransactionId: null,
  operation: 'update',
  index: 1,
  data: UPDATED,
  changeset: { name: ['Initial Name', 'Updated Name'] },
  hash: '9a0e4c2b7d1f3a5c8e6b0d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c'
}

/** A RecordAnswer (201 of POST /transactions): the insert, transaction 1. */
export const recordAnswerExample = {
  transaction: transactionExample,
  versions: [{ ...versionExample, endTransactionId: null }]
}

/** A RecordAnswer for the update, transaction 2. */
export const updateRecordAnswerExample = {
  transaction: { id: 2, issuedAt: T2, recordedAt: T2, actor: 'user-42', meta: {}, recordedBy: RECORDED_BY },
  versions: [updateVersionExample]
}

/** 200 of POST /transactions when nothing versioned changed: no transaction is recorded. */
export const unchangedRecordAnswerExample = { transaction: null, versions: [] }

/** A page of versions (GET /entities/article/1/versions after the update). */
export const versionsPageExample = { items: [versionExample, updateVersionExample], nextCursor: null }

/** The entities of a type (GET /entities/article after the walk-through's revert). */
export const entitiesPageExample = { items: [{ type: 'article', id: '1', transactionId: 3, operation: 'update', issuedAt: '2026-11-24T10:02:00.000Z' }], nextCursor: null }

/** One version with its neighbours and transaction (GET /entities/article/1/versions/1). */
export const versionDetailExample = { ...versionExample, previous: null, next: 2, transaction: transactionExample }

/** An entity's state (GET /entities/article/1?at=2). */
export const entityStateExample = { type: 'article', id: '1', data: UPDATED, transactionId: 2 }

/** The changeset between two states (GET /entities/article/1/changeset?from=1&to=2). */
export const changesetExample = { name: ['Initial Name', 'Updated Name'] }

/** A transaction with its versions (GET /transactions/1 after the update). */
export const transactionDetailExample = { ...transactionExample, versions: [versionExample] }

/** A RevertAnswer (201 of POST /entities/article/1/revert with `{"to":1,"actor":"admin"}`): transaction 3. */
export const entityRevertAnswerExample = {
  transaction: { id: 3, issuedAt: T3, recordedAt: T3, actor: 'admin', meta: {}, recordedBy: RECORDED_BY, revertOf: { id: '1', to: 1, type: 'article' } },
  changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'Initial Name' } }],
  versions: [{
    type: 'article', id: '1', transactionId: 3, endTransactionId: null, operation: 'update', index: 2,
    data: INITIAL, changeset: { name: ['Updated Name', 'Initial Name'] },
    hash: 'c41d8e2a6b0f4c8e2a6d0b4f8c2e6a0d4b8f2c6e0a4d8b2f6c0e4a8d2b6f0c4e'
  }]
}

/** A RevertAnswer (201 of POST /transactions/3/revert with `{"actor":"admin"}`): transaction 4. */
export const transactionRevertAnswerExample = {
  transaction: { id: 4, issuedAt: T4, recordedAt: T4, actor: 'admin', meta: {}, recordedBy: RECORDED_BY, revertOf: { transaction: 3 } },
  changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'Updated Name' } }],
  versions: [{
    type: 'article', id: '1', transactionId: 4, endTransactionId: null, operation: 'update', index: 3,
    data: UPDATED, changeset: { name: ['Initial Name', 'Updated Name'] },
    hash: '5e9b3f7a1c5e9b3d7f1a5c9e3b7d1f5a9c3e7b1d5f9a3c7e1b5d9f3a7c1e5b9d'
  }]
}

/** A 400 for a request that does not match its schema (the `errors` member lists each field). */
export const validationProblemExample = {
  type: 'urn:rewind:problem/invalid-request',
  title: 'Bad Request',
  status: 400,
  detail: 'body.changes[0].op must be one of insert, update, delete (got "upsert")',
  instance: '/transactions',
  errors: [{ field: 'body.changes[0].op', message: 'must be one of insert, update, delete (got "upsert")' }]
}
