import { eachDatabase } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, postChanges, record, registerArticle, upd } from './helpers/changes.js'
import { hashless } from './helpers/json.js'
import { listedTransactionIds } from './helpers/store.js'

// API.md, "Recording changes": POST /transactions records inserts, updates and deletes as
// versions, with the transaction's actor, meta and issuedAt; excluded fields are never stored.

eachDatabase('insert answers 201 with the transaction and an insert version', async (t, h) => {
  await registerArticle(t, h)
  const res = await postChanges(h, [ins('article', { id: 1, name: 'Initial Name', content: 'Initial Content', note: null })])
  t.equal(res.status, 201)
  t.match(String(res.headers['content-type']), /^application\/json/)
  const tx = res.body.transaction
  t.ok(Number.isSafeInteger(tx.id) && tx.id > 0, 'transaction id is a positive integer')
  t.ok(Number.isFinite(Date.parse(tx.issuedAt)), 'issuedAt')
  t.ok(Number.isFinite(Date.parse(tx.recordedAt)), 'recordedAt')
  t.strictSame(hashless(res.body.versions), [{
    type: 'article',
    id: '1',
    transactionId: tx.id,
    endTransactionId: null,
    operation: 'insert',
    index: 0,
    data: { id: 1, name: 'Initial Name', content: 'Initial Content', note: null },
    changeset: { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] }
  }])

  const now = await h.get('/entities/article/1')
  t.equal(now.status, 200)
  t.strictSame(now.body, { type: 'article', id: '1', data: { id: 1, name: 'Initial Name', content: 'Initial Content', note: null }, transactionId: tx.id })

  const detail = await h.get(`/transactions/${tx.id as number}`)
  t.equal(detail.status, 200)
  t.strictSame(detail.body.versions, res.body.versions, 'GET /transactions/{id} lists the version')
  t.strictSame((await listedTransactionIds(h))[0], tx.id, 'listed first')
})

eachDatabase('update changes the given fields, keeps the others, null sets null', async (t, h) => {
  await registerArticle(t, h)
  const first = await record(t, h, [ins('article', { id: 1, name: 'A', content: 'C', score: 3 })])
  const res = await postChanges(h, [upd('article', '1', { name: 'B', score: null, extra: { deep: [1, 2] } })])
  t.equal(res.status, 201)
  const tx = res.body.transaction
  t.ok(tx.id > first.transaction.id, 'transaction ids increase')
  t.strictSame(hashless(res.body.versions), [{
    type: 'article',
    id: '1',
    transactionId: tx.id,
    endTransactionId: null,
    operation: 'update',
    index: 1,
    data: { id: 1, name: 'B', content: 'C', score: null, extra: { deep: [1, 2] } },
    changeset: { name: ['A', 'B'], score: [3, null], extra: [null, { deep: [1, 2] }] }
  }])
  const versions = await h.get('/entities/article/1/versions')
  t.strictSame(versions.body.items.map((v: any) => [v.transactionId, v.endTransactionId]), [
    [first.transaction.id, tx.id], [tx.id, null]
  ], 'the insert now ends at the update')
  t.strictSame((await h.get('/entities/article/1')).body.data, { id: 1, name: 'B', content: 'C', score: null, extra: { deep: [1, 2] } })

  // Repeating the id field with its current value is not a change of it.
  const same = await postChanges(h, [upd('article', '1', { id: 1, name: 'C' })])
  t.equal(same.status, 201)
  t.strictSame(same.body.versions[0].changeset, { name: ['B', 'C'] })
})

eachDatabase('delete records the last state; re-insert brings the entity back as an insert', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [ins('article', { id: 1, name: 'A', content: null, tags: ['x'] })])
  const res = await postChanges(h, [del('article', '1')])
  t.equal(res.status, 201)
  const tx = res.body.transaction
  t.strictSame(hashless(res.body.versions), [{
    type: 'article',
    id: '1',
    transactionId: tx.id,
    endTransactionId: null,
    operation: 'delete',
    index: 1,
    data: { id: 1, name: 'A', content: null, tags: ['x'] },
    changeset: { id: [1, null], name: ['A', null], tags: [['x'], null] }
  }])
  assertProblem(t, await h.get('/entities/article/1'), 404, 'a deleted entity does not exist now')

  const back = await postChanges(h, [ins('article', { id: 1, name: 'Back' })])
  t.equal(back.status, 201)
  t.equal(back.body.versions[0].operation, 'insert')
  t.equal(back.body.versions[0].index, 2)
  t.strictSame(back.body.versions[0].changeset, { id: [null, 1], name: [null, 'Back'] }, 'an insert changeset')
  t.strictSame((await h.get('/entities/article/1')).body.data, { id: 1, name: 'Back' })
})

eachDatabase('excluded fields are never stored', async (t, h) => {
  t.equal((await h.put('/entity-types/article', { exclude: ['updated_at', 'cache'] })).status, 201)
  const inserted = await postChanges(h, [ins('article', { id: 1, name: 'A', updated_at: '2026-01-01', cache: { big: [1, 2, 3] } })])
  t.equal(inserted.status, 201)
  t.strictSame(inserted.body.versions[0].data, { id: 1, name: 'A' })
  t.strictSame(inserted.body.versions[0].changeset, { id: [null, 1], name: [null, 'A'] })

  const updated = await postChanges(h, [upd('article', '1', { name: 'B', updated_at: '2026-01-02', cache: null })])
  t.equal(updated.status, 201)
  t.strictSame(updated.body.versions[0].data, { id: 1, name: 'B' })
  t.strictSame(updated.body.versions[0].changeset, { name: ['A', 'B'] })

  const deleted = await postChanges(h, [upd('article', '1', { updated_at: '2026-01-03' }), del('article', '1')])
  t.equal(deleted.status, 201)
  t.strictSame(deleted.body.versions[0].data, { id: 1, name: 'B' })
  t.strictSame(deleted.body.versions[0].changeset, { id: [1, null], name: ['B', null] })

  const versions = await h.get('/entities/article/1/versions')
  t.strictSame(versions.body.items.map((v: any) => v.data), [{ id: 1, name: 'A' }, { id: 1, name: 'B' }, { id: 1, name: 'B' }])
  for (const v of versions.body.items) {
    t.notOk('updated_at' in v.changeset || 'cache' in v.changeset, `no excluded field in the changeset of ${v.operation as string}`)
  }
  const detail = await h.get(`/transactions/${inserted.body.transaction.id as number}`)
  t.strictSame(detail.body.versions[0].data, { id: 1, name: 'A' })
  t.strictSame((await h.get(`/entities/article/1?at=${updated.body.transaction.id as number}`)).body.data, { id: 1, name: 'B' })
})

eachDatabase('actor, meta and issuedAt are stored; issuedAt defaults to the recording time', async (t, h) => {
  await registerArticle(t, h)
  const meta = { remoteAddr: '10.1.2.3', reason: 'edit form', nested: { list: [1, 'two', null] } }
  const given = await postChanges(h, [ins('article', { id: 1 })], { actor: 'user-42', meta, issuedAt: '2026-11-24T10:00:00Z' })
  t.equal(given.status, 201)
  const tx = given.body.transaction
  t.equal(tx.actor, 'user-42')
  t.strictSame(tx.meta, meta)
  t.equal(Date.parse(tx.issuedAt), Date.parse('2026-11-24T10:00:00Z'), 'issuedAt as given')
  const read = await h.get(`/transactions/${tx.id as number}`)
  t.equal(read.status, 200)
  t.equal(read.body.id, tx.id)
  t.equal(read.body.actor, 'user-42')
  t.strictSame(read.body.meta, meta)
  t.equal(Date.parse(read.body.issuedAt), Date.parse('2026-11-24T10:00:00Z'))
  t.equal(Date.parse(read.body.recordedAt), Date.parse(tx.recordedAt))

  const offset = await postChanges(h, [ins('article', { id: 2 })], { issuedAt: '2026-11-24T12:00:00+02:00' })
  t.equal(Date.parse(offset.body.transaction.issuedAt), Date.parse('2026-11-24T10:00:00Z'), 'an offset names the same instant')

  const start = Date.now()
  const defaulted = await postChanges(h, [ins('article', { id: 3 })])
  const end = Date.now()
  t.equal(defaulted.status, 201)
  const d = defaulted.body.transaction
  t.equal(d.actor, null, 'no actor')
  t.strictSame(d.meta, {}, 'no meta')
  const issued = Date.parse(d.issuedAt)
  t.ok(issued >= start - 2000 && issued <= end + 2000, `issuedAt defaults to now (${d.issuedAt as string})`)
  const recorded = Date.parse(d.recordedAt)
  t.ok(recorded >= start - 2000 && recorded <= end + 2000, 'recordedAt is now')
  const readDefault = await h.get(`/transactions/${d.id as number}`)
  t.equal(readDefault.body.actor, null)
  t.strictSame(readDefault.body.meta, {})
  t.equal(Date.parse(readDefault.body.issuedAt), issued)
})
