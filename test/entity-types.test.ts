import { eachDatabase } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { allRevisions, ARTICLE_DEFINITION, isTimestamp } from './helpers/entity-types.js'

// API.md, "Entity types": PUT /entity-types/{type} registers or changes a type; its
// definition, revision, validation and the through type of a manyToMany relation.

eachDatabase('PUT of a new type answers 201 with type, revision 1, the definition and timestamps', async (t, h) => {
  const res = await h.put('/entity-types/article', ARTICLE_DEFINITION)
  t.equal(res.status, 201)
  t.match(String(res.headers['content-type']), /^application\/json/)
  t.equal(res.body.type, 'article')
  t.equal(res.body.revision, 1)
  t.strictSame(res.body.definition, ARTICLE_DEFINITION)
  t.ok(isTimestamp(res.body.createdAt), 'createdAt is a timestamp')
  t.ok(isTimestamp(res.body.updatedAt), 'updatedAt is a timestamp')

  const read = await h.get('/entity-types/article')
  t.equal(read.status, 200)
  t.strictSame(read.body, res.body, 'GET returns what PUT answered')
})

eachDatabase('PUT of a changed definition answers 200 and raises the revision', async (t, h) => {
  const created = await h.put('/entity-types/article', { exclude: ['updated_at'] })
  t.equal(created.status, 201)

  const changed = await h.put('/entity-types/article', { exclude: ['updated_at', 'cache'] })
  t.equal(changed.status, 200)
  t.equal(changed.body.type, 'article')
  t.equal(changed.body.revision, 2)
  t.strictSame(changed.body.definition.exclude, ['updated_at', 'cache'])
  t.strictSame(changed.body.definition.idFields, ['id'])
  t.equal(Date.parse(changed.body.createdAt), Date.parse(created.body.createdAt), 'createdAt stays')
  t.ok(Date.parse(changed.body.updatedAt) >= Date.parse(created.body.updatedAt), 'updatedAt does not go back')

  const again = await h.put('/entity-types/article', {
    exclude: ['updated_at', 'cache'],
    relations: { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } }
  })
  t.equal(again.status, 200)
  t.equal(again.body.revision, 3, 'adding a relation is a change too')

  const read = await h.get('/entity-types/article')
  t.equal(read.body.revision, 3)
  t.strictSame(read.body.definition.relations, { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } })
})

eachDatabase('PUT of the same definition answers 200 with the same revision and keeps no new revision', async (t, h) => {
  t.equal((await h.put('/entity-types/article', ARTICLE_DEFINITION)).status, 201)
  const first = await h.get('/entity-types/article')

  const same = await h.put('/entity-types/article', ARTICLE_DEFINITION)
  t.equal(same.status, 200)
  t.equal(same.body.revision, 1)
  t.strictSame(same.body.definition, ARTICLE_DEFINITION)

  // The same definition with its relation members in another key order is still the same.
  const reordered = await h.put('/entity-types/article', {
    relations: {
      tags: { remoteKey: 'tag_id', localKey: 'article_id', through: 'article_tag', target: 'tag', kind: 'manyToMany' },
      comments: { foreignKey: 'article_id', target: 'comment', kind: 'oneToMany' },
      author: { foreignKey: 'author_id', target: 'user', kind: 'manyToOne' }
    },
    exclude: ['updated_at'],
    idFields: ['id']
  })
  t.equal(reordered.status, 200)
  t.equal(reordered.body.revision, 1, 'key order is not a change')

  const read = await h.get('/entity-types/article')
  t.strictSame(read.body, first.body, 'nothing changed')
  t.equal((await allRevisions(h, 'article')).length, 1)
})

eachDatabase('defaults: every member is optional and idFields defaults to ["id"]', async (t, h) => {
  const created = await h.put('/entity-types/note', {})
  t.equal(created.status, 201)
  t.strictSame(created.body.definition.idFields, ['id'])
  t.strictSame(created.body.definition.exclude ?? [], [], 'nothing excluded')
  t.strictSame(created.body.definition.relations ?? {}, {}, 'no relations')

  // Spelling the default out is the same definition.
  const explicit = await h.put('/entity-types/note', { idFields: ['id'] })
  t.equal(explicit.status, 200)
  t.equal(explicit.body.revision, 1)

  // The default id field is used for keys.
  const insert = await h.post('/transactions', { changes: [{ type: 'note', op: 'insert', data: { id: 5, text: 'x' } }] })
  t.equal(insert.status, 201)
  t.equal(insert.body.versions[0].id, '5')
  const noId = await h.post('/transactions', { changes: [{ type: 'note', op: 'insert', data: { code: 6 } }] })
  assertProblem(t, noId, 400, 'insert without the default id field')
})

eachDatabase('type names must match ^[a-z][a-z0-9_]{0,62}$ (else 400, nothing stored)', async (t, h) => {
  for (const name of ['a', 'a1', 'a_b_9', 'x'.repeat(63)]) {
    t.equal((await h.put(`/entity-types/${name}`, {})).status, 201, `"${name}" is a valid name`)
  }
  const before = await h.count('entity_types')
  for (const name of ['Article', 'aRticle', '1article', '_article', 'art-icle', 'art.icle', 'art icle', 'été', 'x'.repeat(64)]) {
    const res = await h.put(`/entity-types/${encodeURIComponent(name)}`, {})
    assertProblem(t, res, 400, `type name "${name}"`)
  }
  t.equal(await h.count('entity_types'), before, 'no invalid type was stored')
  const list = await h.get('/entity-types')
  t.strictSame(list.body.items.map((i: any) => i.type).sort(), ['a', 'a1', 'a_b_9', 'x'.repeat(63)].sort())
})

eachDatabase('unknown or ill-typed members of a definition are 400 problems and store nothing', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const before = await h.count('entity_types')
  const invalid: Array<[string, unknown]> = [
    ['unknown top-level member', { idField: ['id'] }],
    ['unknown member next to valid ones', { idFields: ['id'], versioned: true }],
    ['unknown member in a relation', { relations: { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id', cascade: true } } }],
    ['unknown relation kind', { relations: { author: { kind: 'oneToOne', target: 'user', foreignKey: 'author_id' } } }],
    ['manyToMany without through', { relations: { tags: { kind: 'manyToMany', target: 'tag', localKey: 'a', remoteKey: 'b' } } }],
    ['manyToOne without foreignKey', { relations: { author: { kind: 'manyToOne', target: 'user' } } }],
    ['relation target not a type name', { relations: { author: { kind: 'manyToOne', target: 'User', foreignKey: 'author_id' } } }],
    ['through not a type name', { relations: { tags: { kind: 'manyToMany', target: 'tag', through: 'Article-Tag', localKey: 'a', remoteKey: 'b' } } }],
    ['idFields not an array', { idFields: 'id' }],
    ['idFields empty', { idFields: [] }],
    ['idFields with a non-string', { idFields: [1] }],
    ['exclude not an array', { exclude: 'updated_at' }],
    ['relations not an object', { relations: [] }],
    ['body is an array', []]
  ]
  for (const [what, body] of invalid) {
    assertProblem(t, await h.put('/entity-types/article', body), 400, what)
    assertProblem(t, await h.put('/entity-types/fresh', body), 400, `${what} (new type)`)
  }
  t.equal(await h.count('entity_types'), before, 'nothing stored')
  const read = await h.get('/entity-types/article')
  t.equal(read.body.revision, 1, 'the existing type is untouched')
  t.equal((await h.get('/entity-types/fresh')).status, 404, 'the new type was not created')
})

eachDatabase('changing idFields of a type that has versions is 409; other changes and types without versions are fine', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 1, slug: 'a' } }] })).status, 201)

  const before = await h.count('entity_types')
  assertProblem(t, await h.put('/entity-types/article', { idFields: ['slug'] }), 409, 'idFields replaced')
  assertProblem(t, await h.put('/entity-types/article', { idFields: ['id', 'slug'] }), 409, 'idFields extended')
  assertProblem(t, await h.put('/entity-types/article', { idFields: ['slug'], exclude: ['cache'] }), 409, 'idFields changed with other members')
  t.equal(await h.count('entity_types'), before, 'nothing stored')

  const read = await h.get('/entity-types/article')
  t.equal(read.body.revision, 1)
  t.strictSame(read.body.definition.idFields, ['id'])
  t.strictSame(read.body.definition.exclude ?? [], [], 'the exclude of the rejected request was not applied')
  t.equal((await allRevisions(h, 'article')).length, 1)

  // Other members of a type with versions may change.
  const excluded = await h.put('/entity-types/article', { exclude: ['cache'] })
  t.equal(excluded.status, 200)
  t.equal(excluded.body.revision, 2)

  // A type without versions may change its idFields.
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  const rekeyed = await h.put('/entity-types/user', { idFields: ['email'] })
  t.equal(rekeyed.status, 200)
  t.equal(rekeyed.body.revision, 2)
  t.strictSame(rekeyed.body.definition.idFields, ['email'])
  const insert = await h.post('/transactions', { changes: [{ type: 'user', op: 'insert', data: { email: 'a@example.org' } }] })
  t.equal(insert.status, 201)
  t.equal(insert.body.versions[0].id, 'a@example.org')
})

eachDatabase('a manyToMany relation registers its through type with idFields [localKey, remoteKey]', async (t, h) => {
  const res = await h.put('/entity-types/article', ARTICLE_DEFINITION)
  t.equal(res.status, 201, 'targets that are not registered yet are accepted')

  const through = await h.get('/entity-types/article_tag')
  t.equal(through.status, 200, 'the through type exists')
  t.equal(through.body.type, 'article_tag')
  t.equal(through.body.revision, 1)
  t.strictSame(through.body.definition.idFields, ['article_id', 'tag_id'])

  const list = await h.get('/entity-types')
  t.ok(list.body.items.some((i: any) => i.type === 'article_tag'), 'listed with the others')

  // Membership is recorded through it, keyed by both fields.
  const member = await h.post('/transactions', { changes: [{ type: 'article_tag', op: 'insert', data: { article_id: 1, tag_id: 2 } }] })
  t.equal(member.status, 201)
  t.equal(member.body.versions[0].type, 'article_tag')
  t.equal(member.body.versions[0].id, '1,2')

  // The target can be registered later.
  t.equal((await h.put('/entity-types/tag', {})).status, 201, 'the target is registered later (created)')

  // A through type registered beforehand is kept as it is.
  const own = { idFields: ['post_id', 'tag_id'], exclude: ['created'] }
  t.equal((await h.put('/entity-types/post_tag', own)).status, 201)
  const post = await h.put('/entity-types/post', {
    relations: { tags: { kind: 'manyToMany', target: 'tag', through: 'post_tag', localKey: 'post_id', remoteKey: 'tag_id' } }
  })
  t.equal(post.status, 201)
  const kept = await h.get('/entity-types/post_tag')
  t.equal(kept.body.revision, 1)
  t.strictSame(kept.body.definition.exclude, ['created'])
  t.strictSame(kept.body.definition.idFields, ['post_id', 'tag_id'])
})
