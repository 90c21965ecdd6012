import { eachDatabase } from './helpers/harness.js'
import { registerBlog, link, unlink } from './helpers/blog.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { keepsForeignKeysValid, revert, sorted, state, USER_WITH_ARTICLES } from './helpers/revert.js'

// POST /entities/{type}/{id}/revert with "relations": the related entities and the
// memberships are reverted too, in an order that keeps foreign keys valid.

eachDatabase('entity revert with ["tags"]: a removed tag comes back as a new association version, a later one is deleted', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h,
    ins('article', { id: 1, title: 'A' }),
    ins('tag', { id: 1, name: 'one' }), ins('tag', { id: 2, name: 'two' }), ins('tag', { id: 3, name: 'three' }),
    link(1, 1), link(1, 2))
  await tx(h, unlink(1, 2), link(1, 3), upd('tag', '1', { name: 'uno' }))

  const res = await revert(h, 'article', '1', { to: first, relations: ['tags'] })
  t.equal(res.status, 201)
  t.strictSame(sorted(res.body.changes), [
    { type: 'article_tag', op: 'insert', id: '1,2', data: { article_id: 1, tag_id: 2 } },
    { type: 'article_tag', op: 'delete', id: '1,3' },
    { type: 'tag', op: 'update', id: '1', data: { name: 'one' } }
  ], 'membership as it was, and the related tag as it was')
  keepsForeignKeysValid(t, res.body.changes)
  const rev = res.body.transaction.id

  const now = await state(h, 'article', '1', '?relations=tags')
  t.strictSame(now.body.relations.tags.map((v: any) => v.data), [{ id: 1, name: 'one' }, { id: 2, name: 'two' }])
  const back = await h.get('/entities/article_tag/1,2/versions')
  t.strictSame(back.body.items.map((v: any) => v.operation), ['insert', 'delete', 'insert'])
  t.equal(back.body.items[2].transactionId, rev)
  const later = await h.get('/entities/article_tag/1,3/versions')
  t.strictSame(later.body.items.map((v: any) => v.operation), ['insert', 'delete'])
  t.strictSame((await state(h, 'tag', '3')).body.data, { id: 3, name: 'three' }, 'the tag itself stays; only the association goes')
})

eachDatabase('entity revert with ["comments"]: updated, deleted, moved-away and newly added children', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h,
    ins('article', { id: 1, title: 'A' }), ins('article', { id: 2, title: 'B' }),
    ins('comment', { id: 1, article_id: 1, text: 'one' }),
    ins('comment', { id: 2, article_id: 1, text: 'two' }),
    ins('comment', { id: 3, article_id: 1, text: 'three' }),
    ins('comment', { id: 5, article_id: 2, text: 'other' }))
  await tx(h, upd('comment', '1', { text: 'one!' }), del('comment', '2'))
  await tx(h, ins('comment', { id: 4, article_id: 1, text: 'new' }), upd('comment', '3', { article_id: 2 }))

  const res = await revert(h, 'article', '1', { to: first, relations: ['comments'] })
  t.equal(res.status, 201)
  t.strictSame(sorted(res.body.changes), [
    { type: 'comment', op: 'update', id: '1', data: { text: 'one' } },
    { type: 'comment', op: 'insert', id: '2', data: { id: 2, article_id: 1, text: 'two' } },
    { type: 'comment', op: 'update', id: '3', data: { article_id: 1 } },
    { type: 'comment', op: 'delete', id: '4' }
  ])
  keepsForeignKeysValid(t, res.body.changes)
  const now = await state(h, 'article', '1', '?relations=comments')
  t.strictSame(now.body.relations.comments.map((v: any) => v.data), [
    { id: 1, article_id: 1, text: 'one' }, { id: 2, article_id: 1, text: 'two' }, { id: 3, article_id: 1, text: 'three' }
  ])
  t.strictSame((await state(h, 'comment', '5')).body.data, { id: 5, article_id: 2, text: 'other' }, 'comments of other articles are untouched')
})

eachDatabase('entity revert with a dotted path ["articles.tags"] reverts the relations of the related entities too', async (t, h) => {
  await registerBlog(h, USER_WITH_ARTICLES)
  const first = await tx(h,
    ins('user', { id: 1, name: 'Ann' }),
    ins('article', { id: 1, title: 'A', author_id: 1 }), ins('article', { id: 2, title: 'B', author_id: 1 }),
    ins('tag', { id: 1 }), ins('tag', { id: 2 }),
    link(1, 1), link(2, 1))
  await tx(h, upd('user', '1', { name: 'Ann B.' }), unlink(1, 1), link(1, 2), link(2, 2), upd('article', '2', { title: 'B2' }))

  const shallow = await revert(h, 'user', '1', { to: first, relations: ['articles'], dryRun: true })
  t.strictSame(sorted(shallow.body.changes), [
    { type: 'article', op: 'update', id: '2', data: { title: 'B' } },
    { type: 'user', op: 'update', id: '1', data: { name: 'Ann' } }
  ], 'without the path, associations are left alone')

  const res = await revert(h, 'user', '1', { to: first, relations: ['articles.tags'] })
  t.equal(res.status, 201)
  t.strictSame(sorted(res.body.changes), [
    { type: 'article', op: 'update', id: '2', data: { title: 'B' } },
    { type: 'article_tag', op: 'insert', id: '1,1', data: { article_id: 1, tag_id: 1 } },
    { type: 'article_tag', op: 'delete', id: '1,2' },
    { type: 'article_tag', op: 'delete', id: '2,2' },
    { type: 'user', op: 'update', id: '1', data: { name: 'Ann' } }
  ])
  keepsForeignKeysValid(t, res.body.changes)
  t.strictSame(res.body.transaction.revertOf, { type: 'user', id: '1', to: first })
  for (const [article, tags] of [['1', [1]], ['2', [1]]] as const) {
    const now = await state(h, 'article', article, '?relations=tags')
    t.strictSame(now.body.relations.tags.map((v: any) => v.data.id), tags, `article ${article} has its tags back`)
  }
})

eachDatabase('entity revert: the changes keep foreign keys valid (child deletes first, parent inserts first)', async (t, h) => {
  await registerBlog(h)
  const empty = await tx(h, ins('user', { id: 1, name: 'Ann' }), ins('tag', { id: 1 }))
  const full = await tx(h,
    ins('article', { id: 1, title: 'A', author_id: 1 }),
    ins('comment', { id: 1, article_id: 1 }), ins('comment', { id: 2, article_id: 1 }),
    link(1, 1))

  const down = await revert(h, 'article', '1', { to: empty, relations: ['comments', 'tags'], dryRun: true })
  t.equal(down.status, 200)
  t.strictSame(sorted(down.body.changes), [
    { type: 'article', op: 'delete', id: '1' },
    { type: 'article_tag', op: 'delete', id: '1,1' },
    { type: 'comment', op: 'delete', id: '1' },
    { type: 'comment', op: 'delete', id: '2' }
  ])
  t.strictSame(down.body.changes.at(-1), { type: 'article', op: 'delete', id: '1', data: null }, 'the article is deleted after its children')
  keepsForeignKeysValid(t, down.body.changes)

  // Everything deleted, children first; the revert must insert parents first.
  await tx(h, del('comment', '1'), del('comment', '2'), unlink(1, 1), del('article', '1'), del('user', '1'), del('tag', '1'))
  const up = await revert(h, 'article', '1', { to: full, relations: ['comments', 'tags', 'author'] })
  t.equal(up.status, 201)
  t.strictSame(up.body.changes.map((c: any) => c.op), ['insert', 'insert', 'insert', 'insert', 'insert', 'insert'])
  t.strictSame(sorted(up.body.changes).map((c) => `${c.type as string}/${c.id as string}`),
    ['article/1', 'article_tag/1,1', 'comment/1', 'comment/2', 'tag/1', 'user/1'])
  keepsForeignKeysValid(t, up.body.changes)
  const now = await state(h, 'article', '1', '?relations=author,comments,tags')
  t.equal(now.body.relations.author?.id, '1')
  t.strictSame(now.body.relations.comments.map((v: any) => v.id), ['1', '2'])
  t.strictSame(now.body.relations.tags.map((v: any) => v.id), ['1'])
})
