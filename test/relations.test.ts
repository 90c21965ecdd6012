import type { Test } from 'tap'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { ARTICLE, registerBlog, link, unlink } from './helpers/blog.js'
import { hashless } from './helpers/json.js'
import { del, ins, record, tx, upd } from './helpers/changes.js'

// Reading the relations of a version / state as they were at a transaction
// (Continuum's relationship versioning): manyToOne, oneToMany, manyToMany.

async function okGet (t: Test, h: Harness, url: string): Promise<any> {
  const res = await h.get(url)
  t.equal(res.status, 200, `GET ${url} answers 200`)
  return res.body
}

const ids = (list: any[]): string[] => list.map((v) => v.id)
const dataOf = (list: any[]): any[] => list.map((v) => v.data)

eachDatabase('manyToMany: tags added, one removed; the version before the removal still shows both, ordered by id', async (t, h) => {
  await registerBlog(h)
  const created = await tx(h, ins('article', { id: 1, title: 'First' }), ins('tag', { id: 2, name: 'db' }), ins('tag', { id: 1, name: 'api' }))

  // Tag 2 first: the answer must still order by id.
  const tagged = await record(t, h, [link(1, 2), link(1, 1), upd('article', '1', { title: 'Tagged' })])
  const taggedTx = tagged.transaction.id
  t.strictSame(hashless(tagged.versions[0]), {
    type: 'article_tag', id: '1,2', transactionId: taggedTx, endTransactionId: null, operation: 'insert', index: 0,
    data: { article_id: 1, tag_id: 2 }, changeset: { article_id: [null, 1], tag_id: [null, 2] }
  }, 'the association insert is a version of its own (composite key "article_id,tag_id")')
  t.strictSame((await okGet(t, h, '/entity-types/article_tag')).definition.idFields, ['article_id', 'tag_id'],
    'declaring the relation registered the association type')

  const renamed = await tx(h, upd('tag', '1', { name: 'http-api' }))
  const removed = await tx(h, unlink(1, 2))
  const retitled = await tx(h, upd('article', '1', { title: 'Untagged' }))

  const before = await okGet(t, h, `/entities/article/1/versions/${taggedTx}?relations=tags`)
  t.strictSame(Object.keys(before.relations), ['tags'], 'only the requested relation is added')
  t.strictSame(ids(before.relations.tags), ['1', '2'], 'both tags, ordered by id')
  t.strictSame(before.relations.tags.map((v: any) => v.type), ['tag', 'tag'], 'the relation lists tag versions, not associations')
  t.strictSame(dataOf(before.relations.tags), [{ id: 1, name: 'api' }, { id: 2, name: 'db' }], 'tags as they were then (before the rename)')
  t.strictSame(before.relations.tags.map((v: any) => v.transactionId), [created, created])

  const latest = await okGet(t, h, `/entities/article/1/versions/${retitled}?relations=tags`)
  t.strictSame(ids(latest.relations.tags), ['1'], 'after the removal only one tag is left')
  t.strictSame(latest.relations.tags[0].data, { id: 1, name: 'http-api' })
  t.equal(latest.relations.tags[0].transactionId, renamed)

  const created0 = await okGet(t, h, `/entities/article/1/versions/${created}?relations=tags`)
  t.strictSame(created0.relations.tags, [], 'no tags before the associations were inserted')

  const now = await okGet(t, h, '/entities/article/1?relations=tags')
  t.strictSame(ids(now.relations.tags), ['1'])

  const assoc = await okGet(t, h, '/entities/article_tag/1,2/versions')
  t.strictSame(assoc.items.map((v: any) => [v.operation, v.transactionId]), [['insert', taggedTx], ['delete', removed]],
    'membership changes are versions of the association entity')

  const plain = await okGet(t, h, `/entities/article/1/versions/${taggedTx}`)
  t.notOk('relations' in plain, 'no relations member unless asked for')
})

eachDatabase('oneToMany: comments updated, deleted, added and moved after a version are read as they were then', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h,
    ins('article', { id: 1, title: 'One' }), ins('article', { id: 2, title: 'Two' }),
    ins('comment', { id: 1, article_id: 1, text: 'first' }),
    ins('comment', { id: 2, article_id: 1, text: 'second' }),
    ins('comment', { id: 3, article_id: 1, text: 'third' }),
    ins('comment', { id: 4, article_id: 2, text: 'elsewhere' }))
  await tx(h, upd('comment', '1', { text: 'first (edited)' }))
  await tx(h, del('comment', '2'))
  await tx(h, upd('comment', '3', { article_id: 2 }), upd('comment', '4', { article_id: 1 }))
  await tx(h, ins('comment', { id: 5, article_id: 1, text: 'late' }))
  const last = await tx(h, upd('article', '1', { title: 'One!' }))

  const then = await okGet(t, h, `/entities/article/1/versions/${first}?relations=comments`)
  t.strictSame(dataOf(then.relations.comments), [
    { id: 1, article_id: 1, text: 'first' },
    { id: 2, article_id: 1, text: 'second' },
    { id: 3, article_id: 1, text: 'third' }
  ], 'the comments of article 1 at the first transaction, with their texts then')
  t.strictSame(then.relations.comments.map((v: any) => [v.type, v.operation, v.transactionId]),
    [['comment', 'insert', first], ['comment', 'insert', first], ['comment', 'insert', first]])

  const other = await okGet(t, h, `/entities/article/2/versions/${first}?relations=comments`)
  t.strictSame(ids(other.relations.comments), ['4'], 'comment 4 belonged to article 2 then, not comment 3')

  const now = await okGet(t, h, `/entities/article/1/versions/${last}?relations=comments`)
  t.strictSame(dataOf(now.relations.comments), [
    { id: 1, article_id: 1, text: 'first (edited)' },
    { id: 4, article_id: 1, text: 'elsewhere' },
    { id: 5, article_id: 1, text: 'late' }
  ], 'deleted and moved-away comments are gone, moved-in and new ones are there')
})

eachDatabase('manyToOne: the author as of a version, null when the author did not exist then', async (t, h) => {
  await registerBlog(h)
  const orphan = await tx(h, ins('article', { id: 1, title: 'T', author_id: 7 }))
  await tx(h, ins('user', { id: 7, name: 'Ann' }), ins('user', { id: 8, name: 'Bob' }))
  const withAnn = await tx(h, upd('article', '1', { title: 'T2' }))
  await tx(h, upd('user', '7', { name: 'Ann B.' }))
  const withBob = await tx(h, upd('article', '1', { author_id: 8 }))
  await tx(h, del('user', '8'))

  const v1 = await okGet(t, h, `/entities/article/1/versions/${orphan}?relations=author`)
  t.equal(v1.relations.author, null, 'user 7 did not exist yet')

  const v2 = await okGet(t, h, `/entities/article/1/versions/${withAnn}?relations=author`)
  t.equal(v2.relations.author.type, 'user')
  t.equal(v2.relations.author.id, '7')
  t.strictSame(v2.relations.author.data, { id: 7, name: 'Ann' }, 'the author as it was then, not renamed yet')
  t.notOk(Array.isArray(v2.relations.author), 'a manyToOne is one version, not a list')

  const v3 = await okGet(t, h, `/entities/article/1/versions/${withBob}?relations=author`)
  t.strictSame(v3.relations.author.data, { id: 8, name: 'Bob' })

  const now = await okGet(t, h, '/entities/article/1?relations=author')
  t.equal(now.relations.author, null, 'the author was deleted since')
  const unset = await tx(h, ins('article', { id: 2, title: 'no author', author_id: null }))
  t.equal((await okGet(t, h, `/entities/article/2/versions/${unset}?relations=author`)).relations.author, null, 'a null foreign key: null')
  const atBob = await okGet(t, h, `/entities/article/1?at=${withBob}&relations=author`)
  t.strictSame(atBob.relations.author?.data, { id: 8, name: 'Bob' })
})

eachDatabase('GET /entities/{type}/{id}?at=&relations=author,comments,tags reads the state and all relations then', async (t, h) => {
  await registerBlog(h)
  const setup = await tx(h,
    ins('user', { id: 1, name: 'Ann' }), ins('user', { id: 2, name: 'Bob' }),
    ins('tag', { id: 1, name: 'a' }), ins('tag', { id: 2, name: 'b' }),
    ins('article', { id: 1, title: 'Old', author_id: 1 }),
    ins('comment', { id: 1, article_id: 1, text: 'c1' }),
    link(1, 1))
  const middle = await tx(h, ins('comment', { id: 2, article_id: 1, text: 'c2' }), link(1, 2))
  await tx(h, upd('article', '1', { title: 'New', author_id: 2 }), del('comment', '1'), unlink(1, 1), upd('tag', '2', { name: 'b2' }))

  const state = await okGet(t, h, `/entities/article/1?at=${middle}&relations=author,comments,tags`)
  t.strictSame(state.data, { id: 1, title: 'Old', author_id: 1 })
  t.equal(state.transactionId, setup, 'the version holding that state')
  t.strictSame(Object.keys(state.relations).sort(), ['author', 'comments', 'tags'])
  t.strictSame(state.relations.author.data, { id: 1, name: 'Ann' })
  t.strictSame(dataOf(state.relations.comments), [{ id: 1, article_id: 1, text: 'c1' }, { id: 2, article_id: 1, text: 'c2' }])
  t.strictSame(dataOf(state.relations.tags), [{ id: 1, name: 'a' }, { id: 2, name: 'b' }])

  const now = await okGet(t, h, '/entities/article/1?relations=author,comments,tags')
  t.strictSame(now.data, { id: 1, title: 'New', author_id: 2 })
  t.strictSame(now.relations.author.data, { id: 2, name: 'Bob' })
  t.strictSame(dataOf(now.relations.comments), [{ id: 2, article_id: 1, text: 'c2' }])
  t.strictSame(dataOf(now.relations.tags), [{ id: 2, name: 'b2' }])

})

eachDatabase('relations: an unknown relation name or an unregistered target type is 400', async (t, h) => {
  await registerBlog(h)
  t.equal((await h.put('/entity-types/post', { relations: { editor: { kind: 'manyToOne', target: 'editor', foreignKey: 'editor_id' } } })).status, 201,
    'a relation target may be registered later')
  const first = await tx(h, ins('article', { id: 1, title: 'T' }), ins('post', { id: 1, editor_id: 3 }))

  assertProblem(t, await h.get(`/entities/article/1/versions/${first}?relations=authors`), 400)
  assertProblem(t, await h.get(`/entities/article/1/versions/${first}?relations=author,nope`), 400)
  assertProblem(t, await h.get('/entities/article/1?relations=nope'), 400)
  assertProblem(t, await h.get(`/entities/article/1?at=${first}&relations=title`), 400)
  assertProblem(t, await h.get('/entities/article/1?relations=__proto__'), 400)
  assertProblem(t, await h.get('/entities/article/1?relations=toString'), 400)

  assertProblem(t, await h.get(`/entities/post/1/versions/${first}?relations=editor`), 400)
  assertProblem(t, await h.get('/entities/post/1?relations=editor'), 400)

  t.equal((await h.put('/entity-types/editor', {})).status, 201)
  await tx(h, ins('editor', { id: 3, name: 'Eve' }))
  const later = await okGet(t, h, `/entities/post/1/versions/${first}?relations=editor`)
  t.equal(later.relations.editor, null, 'once registered, the relation reads (editor 3 did not exist then)')
  const now = await okGet(t, h, '/entities/post/1?relations=editor')
  t.strictSame(now.relations.editor.data, { id: 3, name: 'Eve' })
})

eachDatabase('relations are ordered by id values: numbers numerically (2 before 10), strings by code point', async (t, h) => {
  await registerBlog(h)
  t.equal((await h.put('/entity-types/shelf', {
    relations: { labels: { kind: 'manyToMany', target: 'label', through: 'shelf_label', localKey: 'shelf_id', remoteKey: 'label_id' } }
  })).status, 201)
  t.equal((await h.put('/entity-types/label', {})).status, 201)

  const first = await tx(h,
    ins('article', { id: 1, title: 'T' }),
    ...[10, 2, 100, 1, 9].map((id) => ins('comment', { id, article_id: 1 })),
    ...[10, 2, 1].map((id) => ins('tag', { id })),
    link(1, 10), link(1, 2), link(1, 1),
    ins('shelf', { id: 's' }),
    ...['b', 'B', 'a', 'é', 'A', 'aa'].map((id) => ins('label', { id })),
    ...['b', 'B', 'a', 'é', 'A', 'aa'].map((id) => ins('shelf_label', { shelf_id: 's', label_id: id })))

  const v = await okGet(t, h, `/entities/article/1/versions/${first}?relations=comments,tags`)
  t.strictSame(ids(v.relations.comments), ['1', '2', '9', '10', '100'])
  t.strictSame(ids(v.relations.tags), ['1', '2', '10'])
  const s = await okGet(t, h, `/entities/shelf/s/versions/${first}?relations=labels`)
  t.strictSame(ids(s.relations.labels), ['A', 'B', 'a', 'aa', 'b', 'é'])
})

eachDatabase('a relation declared after data was ingested still finds the older children and associations', async (t, h) => {
  for (const type of ['article', 'user', 'comment', 'tag']) t.equal((await h.put(`/entity-types/${type}`, {})).status, 201)
  t.equal((await h.put('/entity-types/article_tag', { idFields: ['article_id', 'tag_id'] })).status, 201)

  const first = await tx(h,
    ins('user', { id: 5, name: 'Ann' }),
    ins('article', { id: 1, title: 'T', author_id: 5 }),
    ins('comment', { id: 1, article_id: 1, text: 'old' }),
    ins('comment', { id: 2, article_id: 1, text: 'gone later' }),
    ins('tag', { id: 1 }), ins('tag', { id: 2 }),
    link(1, 1), link(1, 2))
  await tx(h, upd('comment', '1', { text: 'edited' }), del('comment', '2'), unlink(1, 2))

  const declared = await h.put('/entity-types/article', ARTICLE)
  t.equal(declared.status, 200)
  t.equal(declared.body.revision, 2)
  const after = await tx(h, ins('comment', { id: 3, article_id: 1, text: 'new' }), upd('article', '1', { title: 'T2' }))

  const then = await okGet(t, h, `/entities/article/1/versions/${first}?relations=author,comments,tags`)
  t.strictSame(then.relations.author.data, { id: 5, name: 'Ann' })
  t.strictSame(dataOf(then.relations.comments), [{ id: 1, article_id: 1, text: 'old' }, { id: 2, article_id: 1, text: 'gone later' }])
  t.strictSame(ids(then.relations.tags), ['1', '2'])

  const now = await okGet(t, h, `/entities/article/1/versions/${after}?relations=comments,tags`)
  t.strictSame(dataOf(now.relations.comments), [{ id: 1, article_id: 1, text: 'edited' }, { id: 3, article_id: 1, text: 'new' }])
  t.strictSame(ids(now.relations.tags), ['1'])
})
