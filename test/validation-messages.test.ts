import t from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { closest, describeValidation } from '../src/http/validation-errors.js'
import * as ex from '../src/http/examples.js'

// A 400 from schema validation names the field, the allowed values and the unknown property
// (with the closest known name), in `detail` and in `errors: [{ field, message }]`.

interface Case { what: string, send: (h: Harness) => Promise<Reply>, detail: string }

const relation = (value: unknown): object => ({ relations: { author: value } })

const CASES: Case[] = [
  {
    what: 'a wrong op lists the allowed operations',
    send: async (h) => await h.post('/transactions', { changes: [{ type: 'article', op: 'upsert', data: { id: 1 } }] }),
    detail: 'body.changes[0].op must be one of insert, update, delete (got "upsert")'
  },
  {
    what: 'an unknown property is named, with the known one it is a typo of',
    send: async (h) => await h.put('/entity-types/article', { idField: ['id'] }),
    detail: 'body has an unknown property "idField"; did you mean "idFields"?'
  },
  {
    what: 'a snake_case spelling of a known property is suggested too',
    send: async (h) => await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', dta: { id: 1 } }] }),
    detail: 'body.changes[0] has an unknown property "dta"; did you mean "data"?'
  },
  {
    what: 'an unknown property that is no typo lists the known ones',
    send: async (h) => await h.put('/entity-types/article', { foo: 1 }),
    detail: 'body has an unknown property "foo" (known properties: idFields, exclude, relations, redact, retention)'
  },
  {
    what: 'a missing required member',
    send: async (h) => await h.post('/transactions', { actor: 'user-42' }),
    detail: 'body.changes is required'
  },
  {
    what: 'a wrong type in a union with null',
    send: async (h) => await h.post('/transactions', { actor: 5, changes: [] }),
    detail: 'body.actor must be a string or null (got 5)'
  },
  {
    what: 'data that is neither an object nor null',
    send: async (h) => await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: 5 }] }),
    detail: 'body.changes[0].data must be an object or null (got 5)'
  },
  {
    what: 'a body that is JSON null',
    send: async (h) => await h.post('/transactions', 'null'),
    detail: 'body must be an object (got null)'
  },
  {
    what: 'a limit below the range',
    send: async (h) => await h.get('/entity-types?limit=0'),
    detail: 'querystring.limit must be between 1 and 1000 (got 0)'
  },
  {
    what: 'a limit above the range',
    send: async (h) => await h.get('/transactions?limit=5000'),
    detail: 'querystring.limit must be between 1 and 1000 (got 5000)'
  },
  {
    what: 'a limit that is not a number',
    send: async (h) => await h.get('/entity-types?limit=abc'),
    detail: 'querystring.limit must be an integer (got "abc")'
  },
  {
    what: 'a wrong order lists asc and desc',
    send: async (h) => await h.get('/entities/article/1/versions?order=up'),
    detail: 'querystring.order must be one of asc, desc (got "up")'
  },
  {
    what: 'a missing query parameter',
    send: async (h) => await h.get('/entities/article/1/changeset?from=1'),
    detail: 'querystring.to is required'
  },
  {
    what: 'a date-time without a time zone',
    send: async (h) => await h.get('/transactions?since=2024-01-31T09:30:00'),
    detail: 'querystring.since must be a date-time with a time zone, such as 2024-01-31T09:30:00Z (got "2024-01-31T09:30:00")'
  },
  {
    what: 'a path transaction id that is not a number',
    send: async (h) => await h.get('/transactions/abc'),
    detail: 'params.id must be an integer (got "abc")'
  },
  {
    what: 'a path transaction id below 1',
    send: async (h) => await h.get('/transactions/0'),
    detail: 'params.id must be at least 1 (got 0)'
  },
  {
    what: 'a type name that does not match its pattern',
    send: async (h) => await h.put('/entity-types/Article', {}),
    detail: 'params.type must match ^[a-z][a-z0-9_]{0,62}$ (got "Article")'
  },
  {
    what: 'a relation with a wrong kind lists the kinds',
    send: async (h) => await h.put('/entity-types/article', relation({ kind: 'manyToAll', target: 'user', foreignKey: 'author_id' })),
    detail: 'body.relations.author.kind must be one of manyToOne, oneToMany, manyToMany (got "manyToAll")'
  },
  {
    what: 'a relation without kind',
    send: async (h) => await h.put('/entity-types/article', relation({ target: 'user', foreignKey: 'author_id' })),
    detail: 'body.relations.author.kind is required (one of manyToOne, oneToMany, manyToMany)'
  },
  {
    what: 'a manyToOne relation without foreignKey names the member its kind needs',
    send: async (h) => await h.put('/entity-types/article', relation({ kind: 'manyToOne', target: 'user' })),
    detail: 'body.relations.author.foreignKey is required'
  },
  {
    what: 'a manyToMany relation without remoteKey',
    send: async (h) => await h.put('/entity-types/article', {
      relations: { tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id' } }
    }),
    detail: 'body.relations.tags.remoteKey is required'
  },
  {
    what: 'a member another kind of relation has',
    send: async (h) => await h.put('/entity-types/article', relation({ kind: 'oneToMany', target: 'comment', foreignKey: 'article_id', through: 'x' })),
    detail: 'body.relations.author has an unknown property "through" (known properties: kind, target, foreignKey)'
  },
  {
    what: 'a relation that is not an object',
    send: async (h) => await h.put('/entity-types/article', relation('user')),
    detail: 'body.relations.author must be an object (got "user")'
  },
  {
    what: 'a relation name that does not match its pattern',
    send: async (h) => await h.put('/entity-types/article', { relations: { '1st': { kind: 'manyToOne', target: 'user', foreignKey: 'a' } } }),
    detail: 'body.relations has a property "1st" whose name does not match ^[A-Za-z_][A-Za-z0-9_]{0,62}$'
  },
  {
    what: 'a revert without its target',
    send: async (h) => await h.post('/entities/article/1/revert', { actor: 'admin' }),
    detail: 'body.to is required'
  },
  {
    what: 'a header longer than its limit',
    send: async (h) => await h.post('/transactions', { changes: [] }, { 'idempotency-key': 'k'.repeat(256) }),
    detail: 'headers.idempotency-key must be at most 255 characters long (got a string of 256 characters)'
  }
]

eachDatabase('each schema-invalid request answers a 400 whose detail names the field and what it allows', async (t, h) => {
  for (const c of CASES) {
    const res = await c.send(h)
    assertProblem(t, res, 400, c.what)
    t.equal(res.body.detail, c.detail, c.what)
    t.equal(res.body.type, 'urn:rewind:problem/invalid-request', `${c.what}: problem type`)
  }
  t.equal(await h.count('transactions'), 0, 'nothing was recorded')
  t.equal(await h.count('entity_types'), 0, 'no type was registered')
})

eachDatabase('every problem of a request is listed, in detail and in errors', async (t, h) => {
  const res = await h.put('/entity-types/article', { idFeilds: ['id'], exclude: 'updated_at', relations: { author: { kind: 'manyToOne', target: 'User' } } })
  assertProblem(t, res, 400)
  t.strictSame(res.body.errors, [
    { field: 'body', message: 'has an unknown property "idFeilds"; did you mean "idFields"?' },
    { field: 'body.exclude', message: 'must be an array (got "updated_at")' },
    { field: 'body.relations.author.foreignKey', message: 'is required' },
    { field: 'body.relations.author.target', message: 'must match ^[a-z][a-z0-9_]{0,62}$ (got "User")' }
  ])
  t.equal(res.body.detail, 'body has an unknown property "idFeilds"; did you mean "idFields"?; body.exclude must be an array (got "updated_at"); ' +
    'body.relations.author.foreignKey is required; body.relations.author.target must match ^[a-z][a-z0-9_]{0,62}$ (got "User")')
})

eachDatabase('at most 10 problems are listed, with how many more there are', async (t, h) => {
  const changes = Array.from({ length: 12 }, (_, i) => ({ type: 'article', op: 'upsert', id: String(i) }))
  const res = await h.post('/transactions', { changes })
  assertProblem(t, res, 400)
  t.equal(res.body.errors.length, 10)
  t.strictSame(res.body.errors[9], { field: 'body.changes[9].op', message: 'must be one of insert, update, delete (got "upsert")' })
  t.equal(res.body.detail, Array.from({ length: 10 }, (_, i) => `body.changes[${i}].op must be one of insert, update, delete (got "upsert")`).join('; ') + '; and 2 more')

  const many = await h.post('/transactions', { changes: Array.from({ length: 10000 }, (_, i) => ({ type: 'article', op: 'upsert', id: String(i) })) })
  assertProblem(t, many, 400, '10,000 bad changes')
  t.equal(many.body.errors.length, 10)
  t.equal(many.body.detail.endsWith('body.changes[9].op must be one of insert, update, delete (got "upsert"); and more'), true, many.body.detail.slice(-120))
})

t.test('describeValidation: an error of an unforeseen shape still gives a detail', async (t) => {
  const odd = [{ keyword: 'enum', instancePath: '/x', schemaPath: '#/properties/x/enum', params: {}, message: 'must be equal to one of the allowed values' }]
  t.strictSame(describeValidation(odd, 'body'), {
    detail: 'body.x must be equal to one of the allowed values',
    errors: [{ field: 'body.x', message: 'must be equal to one of the allowed values' }]
  })
  t.strictSame(describeValidation([], 'querystring'), { detail: 'querystring is not valid', errors: [] })
})

t.test('closest: only an obvious match is suggested', async (t) => {
  t.equal(closest('idField', ['idFields', 'exclude', 'relations']), 'idFields')
  t.equal(closest('id_fields', ['idFields', 'exclude', 'relations']), 'idFields')
  t.equal(closest('exlcude', ['idFields', 'exclude', 'relations']), 'exclude')
  t.equal(closest('foo', ['idFields', 'exclude', 'relations']), undefined)
  t.equal(closest('tp', ['to', 'op']), undefined, 'a tie suggests nothing')
})

// ---- The OpenAPI examples (src/http/examples.ts) work in order on a fresh database ----

const TIMES = new Set(['issuedAt', 'recordedAt', 'createdAt', 'updatedAt'])
/** Key ids and hashes (over random salts) are random: compared as markers, like times. */
const MASKED = new Set([...TIMES, 'keyId', 'hash'])
/** The value with every timestamp replaced by a marker (after checking it is one). */
function untimed (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untimed)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) =>
    [k, MASKED.has(k) ? (typeof v === 'string' && (k === 'keyId' || (k === 'hash' ? /^[0-9a-f]{64}$/.test(v) : Number.isFinite(Date.parse(v)))) ? `<${k}>` : v) : untimed(v)]))
}

eachDatabase('the examples of the OpenAPI document work in order and answer as their response examples say', async (t, h) => {
  const same = (res: Reply, status: number, example: unknown, what: string): void => {
    t.equal(res.status, status, `${what}: status`)
    t.strictSame(untimed(res.body), untimed(example), what)
  }
  const { type, id, transactionId, revertTransactionId, from, to } = ex.exampleParams
  same(await h.put(`/entity-types/${type}`, ex.putEntityTypeExamples.defaults.value), 201, ex.entityTypeExample, 'PUT the defaults')
  const richer = await h.put(`/entity-types/${type}`, ex.putEntityTypeExamples.withRelations.value)
  t.equal(richer.status, 200, 'PUT with relations')
  t.strictSame(richer.body.definition, ex.putEntityTypeExamples.withRelations.value)

  same(await h.post('/transactions', ex.postTransactionExamples.insert.value), 201, ex.recordAnswerExample, 'insert')
  same(await h.post('/transactions', ex.postTransactionExamples.update.value), 201, ex.updateRecordAnswerExample, 'update')
  same(await h.get(`/entities/${type}/${id}/versions`), 200, ex.versionsPageExample, 'versions')
  same(await h.get(`/entities/${type}/${id}/versions/${transactionId}`), 200, ex.versionDetailExample, 'one version')
  same(await h.get(`/entities/${type}/${id}?at=${to}`), 200, ex.entityStateExample, 'state at 2')
  same(await h.get(`/entities/${type}/${id}/changeset?from=${from}&to=${to}`), 200, ex.changesetExample, 'changeset')
  same(await h.get(`/transactions/${transactionId}`), 200, ex.transactionDetailExample, 'transaction 1')

  const dry = await h.post(`/entities/${type}/${id}/revert`, ex.revertEntityExamples.dryRun.value)
  t.equal(dry.status, 200, 'entity revert dry run')
  t.strictSame(dry.body.changes, ex.entityRevertAnswerExample.changes)
  same(await h.post(`/entities/${type}/${id}/revert`, ex.revertEntityExamples.toFirstVersion.value), 201, ex.entityRevertAnswerExample, 'entity revert')

  const dryTx = await h.post(`/transactions/${revertTransactionId}/revert`, ex.revertTransactionExamples.dryRun.value)
  t.equal(dryTx.status, 200, 'transaction revert dry run')
  t.strictSame(dryTx.body.changes, ex.transactionRevertAnswerExample.changes)
  same(await h.post(`/transactions/${revertTransactionId}/revert`, ex.revertTransactionExamples.undo.value), 201, ex.transactionRevertAnswerExample, 'transaction revert')

  same(await h.post('/transactions', ex.postTransactionExamples.update.value), 200, ex.unchangedRecordAnswerExample, 'an update that changes nothing')
  const bad = await h.post('/transactions', { changes: [{ type: 'article', op: 'upsert', data: { id: 1 } }] })
  t.equal(bad.status, 400)
  t.strictSame({ ...bad.body }, ex.validationProblemExample, 'the problem example')
})
