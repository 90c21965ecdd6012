import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'

// API.md, "Entity types": PUT /entity-types/{type}, GET /entity-types, GET /entity-types/{type},
// GET /entity-types/{type}/revisions.

const isTimestamp = (value: unknown): boolean => typeof value === 'string' && Number.isFinite(Date.parse(value))

/** Every revision of a type, following nextCursor. */
async function allRevisions (h: Harness, type: string, limit = 50): Promise<any[]> {
  const items: any[] = []
  let url = `/entity-types/${type}/revisions?limit=${limit}`
  for (let pages = 0; pages < 100; pages++) {
    const res = await h.get(url)
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(res.body)}`)
    items.push(...res.body.items)
    if (res.body.nextCursor === null) return items
    url = `/entity-types/${type}/revisions?limit=${limit}&cursor=${encodeURIComponent(res.body.nextCursor)}`
  }
  throw new Error('revisions never ended')
}

const ARTICLE = {
  idFields: ['id'],
  exclude: ['updated_at'],
  relations: {
    author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' },
    comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' },
    tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
  }
}

eachDatabase('PUT of a new type answers 201 with type, revision 1, the definition and timestamps', async (t, h) => {
  const res = await h.put('/entity-types/article', ARTICLE)
  t.equal(res.status, 201)
  t.match(String(res.headers['content-type']), /^application\/json/)
  t.equal(res.body.type, 'article')
  t.equal(res.body.revision, 1)
  t.same(res.body.definition, ARTICLE)
  t.ok(isTimestamp(res.body.createdAt), 'createdAt is a timestamp')
  t.ok(isTimestamp(res.body.updatedAt), 'updatedAt is a timestamp')

  const read = await h.get('/entity-types/article')
  t.equal(read.status, 200)
  t.same(read.body, res.body, 'GET returns what PUT answered')
})

eachDatabase('PUT of a changed definition answers 200 and raises the revision', async (t, h) => {
  const created = await h.put('/entity-types/article', { exclude: ['updated_at'] })
  t.equal(created.status, 201)

  const changed = await h.put('/entity-types/article', { exclude: ['updated_at', 'cache'] })
  t.equal(changed.status, 200)
  t.equal(changed.body.type, 'article')
  t.equal(changed.body.revision, 2)
  t.same(changed.body.definition.exclude, ['updated_at', 'cache'])
  t.same(changed.body.definition.idFields, ['id'])
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
  t.same(read.body.definition.relations, { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } })
})

eachDatabase('PUT of the same definition answers 200 with the same revision and keeps no new revision', async (t, h) => {
  t.equal((await h.put('/entity-types/article', ARTICLE)).status, 201)
  const first = await h.get('/entity-types/article')

  const same = await h.put('/entity-types/article', ARTICLE)
  t.equal(same.status, 200)
  t.equal(same.body.revision, 1)
  t.same(same.body.definition, ARTICLE)

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
  t.same(read.body, first.body, 'nothing changed')
  t.equal((await allRevisions(h, 'article')).length, 1)
})

eachDatabase('defaults: every member is optional and idFields defaults to ["id"]', async (t, h) => {
  const created = await h.put('/entity-types/note', {})
  t.equal(created.status, 201)
  t.same(created.body.definition.idFields, ['id'])
  t.same(created.body.definition.exclude ?? [], [], 'nothing excluded')
  t.same(created.body.definition.relations ?? {}, {}, 'no relations')

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
  t.same(list.body.items.map((i: any) => i.type).sort(), ['a', 'a1', 'a_b_9', 'x'.repeat(63)].sort())
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
  t.same(read.body.definition.idFields, ['id'])
  t.same(read.body.definition.exclude ?? [], [], 'the exclude of the rejected request was not applied')
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
  t.same(rekeyed.body.definition.idFields, ['email'])
  const insert = await h.post('/transactions', { changes: [{ type: 'user', op: 'insert', data: { email: 'a@example.org' } }] })
  t.equal(insert.status, 201)
  t.equal(insert.body.versions[0].id, 'a@example.org')
})

eachDatabase('a manyToMany relation registers its through type with idFields [localKey, remoteKey]', async (t, h) => {
  const res = await h.put('/entity-types/article', ARTICLE)
  t.equal(res.status, 201, 'targets that are not registered yet are accepted')

  const through = await h.get('/entity-types/article_tag')
  t.equal(through.status, 200, 'the through type exists')
  t.equal(through.body.type, 'article_tag')
  t.equal(through.body.revision, 1)
  t.same(through.body.definition.idFields, ['article_id', 'tag_id'])

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
  t.same(kept.body.definition.exclude, ['created'])
  t.same(kept.body.definition.idFields, ['post_id', 'tag_id'])
})

eachDatabase('GET /entity-types lists every type, paginated with nextCursor', async (t, h) => {
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
  for (const name of names) t.equal((await h.put(`/entity-types/${name}`, { exclude: [`${name}_cache`] })).status, 201)

  const all = await h.get('/entity-types')
  t.equal(all.status, 200)
  t.equal(all.body.nextCursor, null, 'everything fits the default page')
  t.same(all.body.items.map((i: any) => i.type).sort(), names)
  for (const item of all.body.items) {
    t.same(item.definition.exclude, [`${item.type as string}_cache`], `${item.type as string}: its own definition`)
    t.equal(item.revision, 1)
    t.ok(isTimestamp(item.createdAt) && isTimestamp(item.updatedAt), `${item.type as string}: timestamps`)
  }

  const seen: string[] = []
  let url = '/entity-types?limit=2'
  const sizes: number[] = []
  for (let i = 0; i < 10; i++) {
    const res = await h.get(url)
    t.equal(res.status, 200)
    t.ok(res.body.items.length <= 2, 'a page holds at most limit items')
    sizes.push(res.body.items.length)
    seen.push(...res.body.items.map((x: any) => x.type))
    if (res.body.nextCursor === null) break
    t.type(res.body.nextCursor, 'string')
    url = `/entity-types?limit=2&cursor=${encodeURIComponent(res.body.nextCursor)}`
  }
  t.same(sizes, [2, 2, 1], 'three pages')
  t.same([...seen].sort(), names, 'each type exactly once across the pages')

  assertProblem(t, await h.get('/entity-types?limit=1001'), 400, 'limit above 1000')
  assertProblem(t, await h.get('/entity-types?limit=0'), 400, 'limit 0')
  assertProblem(t, await h.get('/entity-types?cursor=not-a-cursor'), 400, 'a cursor that was never issued')
})

eachDatabase('GET /entity-types/{type} reads one type; an unknown type is 404', async (t, h) => {
  t.equal((await h.put('/entity-types/article', ARTICLE)).status, 201)
  const changed = await h.put('/entity-types/article', { ...ARTICLE, exclude: [] })
  const read = await h.get('/entity-types/article')
  t.equal(read.status, 200)
  t.same(read.body, changed.body, 'the latest revision')

  assertProblem(t, await h.get('/entity-types/nothing_here'), 404, 'unknown type')
  assertProblem(t, await h.get('/entity-types/nothing_here/revisions'), 404, 'revisions of an unknown type')
})

eachDatabase('GET /entity-types/{type}/revisions keeps every revision of the definition', async (t, h) => {
  const definitions = [
    { idFields: ['id'], exclude: [], relations: {} },
    { idFields: ['id'], exclude: ['a'], relations: {} },
    { idFields: ['id'], exclude: ['a', 'b'], relations: { owner: { kind: 'manyToOne', target: 'user', foreignKey: 'owner_id' } } },
    { idFields: ['id'], exclude: [], relations: {} } // back to the first: still a change, a new revision
  ]
  const answers: Reply[] = []
  for (const definition of definitions) {
    answers.push(await h.put('/entity-types/doc', definition))
    t.equal((await h.put('/entity-types/doc', definition)).status, 200, 'a repeated PUT is unchanged')
  }
  t.same(answers.map((a) => a.status), [201, 200, 200, 200])
  t.same(answers.map((a) => a.body.revision), [1, 2, 3, 4])

  const revisions = await allRevisions(h, 'doc')
  t.equal(revisions.length, 4, 'every revision kept, unchanged PUTs add none')
  const byRevision = [...revisions].sort((a, b) => a.revision - b.revision)
  t.same(byRevision.map((r) => r.revision), [1, 2, 3, 4])
  t.same(byRevision.map((r) => r.definition), definitions, 'each revision holds its definition')
  for (const r of byRevision) t.ok(isTimestamp(r.createdAt), `revision ${r.revision as number} has createdAt`)

  const paged = await allRevisions(h, 'doc', 1)
  t.same(paged.map((r) => r.revision).sort(), [1, 2, 3, 4], 'pagination by one yields each revision once')
  const first = await h.get('/entity-types/doc/revisions?limit=3')
  t.equal(first.body.items.length, 3)
  t.type(first.body.nextCursor, 'string', 'a further page is announced')

  const current = await h.get('/entity-types/doc')
  t.equal(current.body.revision, 4)
  t.same(current.body.definition, definitions[3])
})
