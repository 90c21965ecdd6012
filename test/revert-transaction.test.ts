import { eachDatabase, type Harness } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { registerBlog, link, unlink } from './helpers/blog.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { keepsForeignKeysValid, sorted, state } from './helpers/revert.js'
import { snapshot } from './helpers/store.js'

// POST /transactions/{id}/revert: undoing a whole transaction, its conflicts with later
// transactions, force and dryRun.

/** Two articles, then one transaction that inserts a third, updates the first and deletes the second. */
async function threeWay (h: Harness): Promise<number> {
  await registerBlog(h)
  await tx(h, ins('article', { id: 1, title: 'A', body: 'x' }), ins('article', { id: 2, title: 'B' }))
  return await tx(h, ins('article', { id: 3, title: 'C' }), upd('article', '1', { title: 'A2' }), del('article', '2'))
}

eachDatabase('transaction revert: insert → delete, update → update back, delete → insert', async (t, h) => {
  const target = await threeWay(h)
  const res = await h.post(`/transactions/${target}/revert`, { actor: 'admin' })
  t.equal(res.status, 201)
  t.strictSame(sorted(res.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A' } },
    { type: 'article', op: 'insert', id: '2', data: { id: 2, title: 'B' } },
    { type: 'article', op: 'delete', id: '3' }
  ])
  keepsForeignKeysValid(t, res.body.changes)
  t.strictSame(res.body.transaction.revertOf, { transaction: target })
  t.equal(res.body.transaction.actor, 'admin')
  t.strictSame(res.body.versions.map((v: any) => [v.id, v.operation, v.transactionId]).sort(),
    [['1', 'update', res.body.transaction.id], ['2', 'insert', res.body.transaction.id], ['3', 'delete', res.body.transaction.id]])

  t.strictSame((await state(h, 'article', '1')).body.data, { id: 1, title: 'A', body: 'x' })
  t.strictSame((await state(h, 'article', '2')).body.data, { id: 2, title: 'B' })
  t.equal((await state(h, 'article', '3')).status, 404)
  t.strictSame((await h.get(`/transactions/${res.body.transaction.id as number}`)).body.revertOf, { transaction: target })
})

eachDatabase('transaction revert: a later change is a 409 with conflicts, nothing recorded; force reverts anyway', async (t, h) => {
  const target = await threeWay(h)
  const later1 = await tx(h, upd('article', '1', { body: 'y' }))
  const later2 = await tx(h, upd('article', '1', { title: 'A3' }))
  await tx(h, ins('article', { id: 9, title: 'unrelated' }))
  const before = await snapshot(h)

  const res = await h.post(`/transactions/${target}/revert`, {})
  assertProblem(t, res, 409)
  t.strictSame(res.body.conflicts, [{ type: 'article', id: '1', transactionIds: [later1, later2] }])
  t.strictSame(await snapshot(h), before, 'nothing recorded')
  t.equal((await state(h, 'article', '3')).status, 200)

  const forced = await h.post(`/transactions/${target}/revert`, { force: true })
  t.equal(forced.status, 201)
  t.strictSame(sorted(forced.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A', body: 'x' } },
    { type: 'article', op: 'insert', id: '2', data: { id: 2, title: 'B' } },
    { type: 'article', op: 'delete', id: '3' }
  ], 'each entity back to its state just before the transaction')
  t.strictSame(forced.body.transaction.revertOf, { transaction: target })
  t.strictSame((await state(h, 'article', '1')).body.data, { id: 1, title: 'A', body: 'x' })
})

eachDatabase('transaction revert: no body at all is accepted; dryRun records nothing; unknown transaction is 404', async (t, h) => {
  const target = await threeWay(h)
  const before = await snapshot(h)

  const dry = await h.post(`/transactions/${target}/revert`, { dryRun: true })
  t.equal(dry.status, 200)
  t.equal(dry.body.transaction, null)
  t.equal(dry.body.changes.length, 3)
  t.strictSame(await snapshot(h), before, 'dryRun records nothing')
  t.equal((await state(h, 'article', '3')).status, 200)

  assertProblem(t, await h.post(`/transactions/${target + 1000}/revert`), 404)
  t.strictSame(await snapshot(h), before)

  const bare = await h.request('POST', `/transactions/${target}/revert`)
  t.equal(bare.status, 201, 'a POST without a body (and without content-type) is accepted')
  t.strictSame(bare.body.transaction.revertOf, { transaction: target })
  t.strictSame(bare.body.changes, dry.body.changes, 'the dry run answered what the revert did')
  t.equal((await state(h, 'article', '3')).status, 404)
})

eachDatabase('transaction revert: changes keep foreign keys valid both ways', async (t, h) => {
  await registerBlog(h)
  const inserted = await tx(h,
    ins('user', { id: 1, name: 'Ann' }), ins('article', { id: 1, title: 'A', author_id: 1 }),
    ins('comment', { id: 1, article_id: 1 }), ins('tag', { id: 1 }), link(1, 1))
  const undo = await h.post(`/transactions/${inserted}/revert`, { dryRun: true })
  t.strictSame(undo.body.changes.map((c: any) => c.op), ['delete', 'delete', 'delete', 'delete', 'delete'])
  keepsForeignKeysValid(t, undo.body.changes)

  const deleted = await tx(h, unlink(1, 1), del('comment', '1'), del('article', '1'), del('user', '1'), del('tag', '1'))
  const redo = await h.post(`/transactions/${deleted}/revert`)
  t.equal(redo.status, 201)
  t.strictSame(redo.body.changes.map((c: any) => c.op), ['insert', 'insert', 'insert', 'insert', 'insert'])
  keepsForeignKeysValid(t, redo.body.changes)
  t.strictSame(redo.body.changes.slice(0, 2).map((c: any) => c.type).sort(), ['tag', 'user'], 'parents first')
  t.strictSame(redo.body.changes.slice(3).map((c: any) => c.type).sort(), ['article_tag', 'comment'], 'children last')
})
