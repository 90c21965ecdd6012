import { eachDatabase } from './helpers/harness.js'
import { hashless } from './helpers/json.js'
import { assertProblem } from './helpers/assertions.js'
import { registerBlog } from './helpers/blog.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { revert, shape, sorted, state } from './helpers/revert.js'
import { snapshot } from './helpers/store.js'

// POST /entities/{type}/{id}/revert of the entity itself: the change the backend applies
// (update, insert or delete), the new transaction recorded, dryRun and errors.

eachDatabase('entity revert: live then and exists now is an update with only the fields that differ', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h, ins('article', { id: 1, title: 'A', body: 'x', status: 'draft' }))
  await tx(h, upd('article', '1', { title: 'B', status: 'published' }))
  await tx(h, upd('article', '1', { status: 'draft' }))

  const res = await revert(h, 'article', '1', { to: first, actor: 'admin', meta: { reason: 'undo' } })
  t.equal(res.status, 201)
  t.strictSame(res.body.changes, [{ type: 'article', op: 'update', id: '1', data: { title: 'A' } }], 'status is already as it was: only title')
  const rev = res.body.transaction
  t.strictSame(rev.revertOf, { type: 'article', id: '1', to: first })
  t.equal(rev.actor, 'admin')
  t.strictSame(rev.meta, { reason: 'undo' })
  t.equal(res.body.versions.length, 1)
  t.strictSame(hashless(res.body.versions[0]), {
    type: 'article', id: '1', transactionId: rev.id, endTransactionId: null, operation: 'update', index: 3,
    data: { id: 1, title: 'A', body: 'x', status: 'draft' }, changeset: { title: ['B', 'A'] }
  })
  t.strictSame(res.body.versions[0].changeset, { title: ['B', 'A'] })

  t.strictSame((await state(h, 'article', '1')).body.data, { id: 1, title: 'A', body: 'x', status: 'draft' })
  const detail = await h.get(`/transactions/${rev.id as number}`)
  t.strictSame(detail.body.revertOf, { type: 'article', id: '1', to: first })
  t.strictSame(detail.body.versions.map((v: any) => [v.type, v.id, v.operation]), [['article', '1', 'update']])
})

eachDatabase('entity revert: live then and deleted now is an insert with the full old state', async (t, h) => {
  await registerBlog(h)
  await tx(h, ins('article', { id: 1, title: 'A', body: 'x', note: null }))
  const second = await tx(h, upd('article', '1', { title: 'B', note: 'n' }))
  await tx(h, del('article', '1'))

  const res = await revert(h, 'article', '1', { to: second })
  t.equal(res.status, 201)
  t.strictSame(res.body.changes, [{ type: 'article', op: 'insert', id: '1', data: { id: 1, title: 'B', body: 'x', note: 'n' } }])
  t.equal(res.body.versions[0].operation, 'insert')
  t.strictSame(res.body.versions[0].changeset, { id: [null, 1], title: [null, 'B'], body: [null, 'x'], note: [null, 'n'] })
  t.strictSame((await state(h, 'article', '1')).body.data, { id: 1, title: 'B', body: 'x', note: 'n' })
})

eachDatabase('entity revert: not live then (not yet created, or deleted then) and existing now is a delete', async (t, h) => {
  await registerBlog(h)
  const before = await tx(h, ins('article', { id: 1, title: 'A' }))
  await tx(h, ins('article', { id: 2, title: 'B' }))

  const res = await revert(h, 'article', '2', { to: before })
  t.equal(res.status, 201)
  t.strictSame(res.body.changes.map(shape), [{ type: 'article', op: 'delete', id: '2' }], 'to before its first version: a delete')
  t.equal(res.body.versions[0].operation, 'delete')
  t.equal((await state(h, 'article', '2')).status, 404)

  const gone = await tx(h, del('article', '1'))
  await tx(h, ins('article', { id: 1, title: 'A again' }))
  const again = await revert(h, 'article', '1', { to: gone })
  t.equal(again.status, 201)
  t.strictSame(again.body.changes.map(shape), [{ type: 'article', op: 'delete', id: '1' }], 'deleted then: a delete')
  t.equal((await state(h, 'article', '1')).status, 404)
})

eachDatabase('entity revert: to at or after the latest version changes nothing (200, transaction null)', async (t, h) => {
  await registerBlog(h)
  await tx(h, ins('article', { id: 1, title: 'A' }))
  const latest = await tx(h, upd('article', '1', { title: 'B' }))
  const other = await tx(h, ins('article', { id: 2, title: 'other' }))
  const before = await snapshot(h)

  for (const to of [latest, other]) {
    const res = await revert(h, 'article', '1', { to })
    t.equal(res.status, 200, `to ${to}`)
    t.strictSame(res.body, { transaction: null, changes: [], versions: [] })
  }
  const related = await revert(h, 'article', '1', { to: latest, relations: ['comments', 'tags', 'author'] })
  t.equal(related.status, 200)
  t.strictSame(related.body.changes, [])
  t.strictSame(await snapshot(h), before, 'nothing recorded')
})

eachDatabase('entity revert: dryRun answers the changes and records nothing', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h, ins('article', { id: 1, title: 'A' }), ins('comment', { id: 1, article_id: 1, text: 'c' }))
  await tx(h, upd('article', '1', { title: 'B' }), del('comment', '1'))
  const before = await snapshot(h)

  const dry = await revert(h, 'article', '1', { to: first, relations: ['comments'], dryRun: true })
  t.equal(dry.status, 200)
  t.equal(dry.body.transaction, null)
  t.strictSame(sorted(dry.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A' } },
    { type: 'comment', op: 'insert', id: '1', data: { id: 1, article_id: 1, text: 'c' } }
  ])
  t.strictSame(await snapshot(h), before, 'no transaction, version or reference stored')
  t.equal((await state(h, 'article', '1')).body.data.title, 'B')
  t.equal((await state(h, 'comment', '1')).status, 404)

  const real = await revert(h, 'article', '1', { to: first, relations: ['comments'] })
  t.equal(real.status, 201)
  t.strictSame(real.body.changes, dry.body.changes, 'the dry run answered what the real revert does')
})

eachDatabase('entity revert: unknown entity or type is 404, unknown relation is 400, and nothing is recorded', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h, ins('article', { id: 1, title: 'A' }))
  await tx(h, upd('article', '1', { title: 'B' }))
  const before = await snapshot(h)

  assertProblem(t, await revert(h, 'article', '99', { to: first }), 404)
  assertProblem(t, await revert(h, 'nosuchtype', '1', { to: first }), 404)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['nope'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['tags', 'nope'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['tags.nope'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['title'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', {}), 400)
  t.strictSame(await snapshot(h), before)
  t.equal((await state(h, 'article', '1')).body.data.title, 'B')
})
