import { eachDatabase } from './helpers/harness.js'
import { registerBlog } from './helpers/blog.js'
import { tx } from './helpers/changes.js'

// Reverts whose answer must respect relations in less common shapes: an entity deleted
// now, references dropped by an update, trees of one type, related along two paths.

const CAT = {
  relations: {
    parent: { kind: 'manyToOne', target: 'cat', foreignKey: 'parent_id' },
    children: { kind: 'oneToMany', target: 'cat', foreignKey: 'parent_id' }
  }
}

const ops = (changes: Array<{ op: string, type: string, id: string }>): string[] => changes.map((c) => `${c.op} ${c.type} ${c.id}`)

eachDatabase('revert with relations of an entity deleted now also deletes the children that joined since', async (t, h) => {
  await registerBlog(h)
  const t1 = await tx(h, { type: 'article', op: 'insert', data: { id: 1, title: 'A' } },
    { type: 'comment', op: 'insert', data: { id: 2, article_id: 1, body: 'then' } })
  await tx(h, { type: 'article', op: 'delete', id: '1' })
  await tx(h, { type: 'comment', op: 'insert', data: { id: 3, article_id: 1, body: 'joined later' } })
  const res = await h.post('/entities/article/1/revert', { to: t1, relations: ['comments'] })
  t.equal(res.status, 201)
  t.strictSame(ops(res.body.changes), ['delete comment 3', 'insert article 1'])
  const now = await h.get('/entities/article/1?relations=comments')
  const then = await h.get(`/entities/article/1?at=${t1}&relations=comments`)
  t.strictSame(now.body.relations.comments.map((c: any) => c.data), then.body.relations.comments.map((c: any) => c.data))
})

eachDatabase('a revert drops a reference before it deletes the entity referenced', async (t, h) => {
  await registerBlog(h)
  await tx(h, { type: 'article', op: 'insert', data: { id: 1, author_id: null } })
  const t2 = await tx(h, { type: 'user', op: 'insert', data: { id: 1, name: 'Ann' } },
    { type: 'article', op: 'update', id: '1', data: { author_id: 1 } })
  const res = await h.post(`/transactions/${t2}/revert`, { dryRun: true })
  t.equal(res.status, 200)
  t.strictSame(ops(res.body.changes), ['update article 1', 'delete user 1'], 'the article lets go of the user first')
})

eachDatabase('inserts of a tree of one type come parents first, deletes children first', async (t, h) => {
  t.equal((await h.put('/entity-types/cat', CAT)).status, 201)
  await tx(h, { type: 'cat', op: 'insert', data: { id: 1, parent_id: null } },
    { type: 'cat', op: 'insert', data: { id: 2, parent_id: 1 } }, { type: 'cat', op: 'insert', data: { id: 3, parent_id: 2 } })
  const removal = await tx(h, { type: 'cat', op: 'delete', id: '3' }, { type: 'cat', op: 'delete', id: '2' }, { type: 'cat', op: 'delete', id: '1' })
  const back = await h.post(`/transactions/${removal}/revert`, { dryRun: true })
  t.strictSame(ops(back.body.changes), ['insert cat 1', 'insert cat 2', 'insert cat 3'])
  const recorded = await h.post(`/transactions/${removal}/revert`, {})
  t.equal(recorded.status, 201)
  const undo = await h.post(`/transactions/${recorded.body.transaction.id}/revert`, { dryRun: true })
  t.strictSame(ops(undo.body.changes), ['delete cat 3', 'delete cat 2', 'delete cat 1'])
})

eachDatabase('an entity related then along a dotted path is reverted, not deleted as a newcomer', async (t, h) => {
  t.equal((await h.put('/entity-types/cat', CAT)).status, 201)
  const t1 = await tx(h, { type: 'cat', op: 'insert', data: { id: 1, parent_id: null } },
    { type: 'cat', op: 'insert', data: { id: 2, parent_id: 1 } }, { type: 'cat', op: 'insert', data: { id: 3, parent_id: 2 } })
  await tx(h, { type: 'cat', op: 'update', id: '3', data: { parent_id: 1 } })
  const res = await h.post('/entities/cat/1/revert', { to: t1, relations: ['children', 'children.children'] })
  t.equal(res.status, 201)
  t.strictSame(res.body.changes, [{ type: 'cat', op: 'update', id: '3', data: { parent_id: 2 } }])
  t.equal((await h.get('/entities/cat/3')).body.data.parent_id, 2)
})
