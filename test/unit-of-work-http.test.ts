import { eachDatabase } from './helpers/harness.js'
import { hashless } from './helpers/json.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, postChanges, record, registerArticle, upd } from './helpers/changes.js'
import { listedTransactionIds, snapshot } from './helpers/store.js'

// API.md, "Recording changes": the changes of one POST /transactions collapse into one version
// per entity (Continuum's unit of work); a transaction that changes nothing is not recorded.

eachDatabase('unit of work: the five collapsing cases in one transaction, versions in order of first touch', async (t, h) => {
  await registerArticle(t, h)
  const setup = await record(t, h, [
    ins('article', { id: 2, name: 'two', n: 0 }),
    ins('article', { id: 3, name: 'three', n: 0, note: null }),
    ins('article', { id: 5, name: 'five', n: 0, extra: 'e' })
  ])
  const res = await postChanges(h, [
    upd('article', '2', { name: 'two-a' }),
    ins('article', { id: 1, name: 'one', n: 0, note: null }),
    upd('article', '3', { name: 'three-a' }),
    ins('article', { id: 4, name: 'four' }),
    upd('article', '2', { name: 'two-b', n: 2 }),
    del('article', '5'),
    upd('article', '1', { name: 'one-b' }),
    del('article', '3'),
    del('article', '4'),
    ins('article', { id: 5, name: 'five-b', n: 0 }),
    upd('article', '1', { n: 1 }),
    upd('article', '2', { n: 0 }) // back to its value before the transaction
  ])
  t.equal(res.status, 201)
  const id = res.body.transaction.id
  t.ok(id > setup.transaction.id)
  t.strictSame(hashless(res.body.versions), [
    {
      type: 'article', id: '2', transactionId: id, endTransactionId: null, operation: 'update', index: 1,
      data: { id: 2, name: 'two-b', n: 0 },
      changeset: { name: ['two', 'two-b'] }
    },
    {
      type: 'article', id: '1', transactionId: id, endTransactionId: null, operation: 'insert', index: 0,
      data: { id: 1, name: 'one-b', n: 1, note: null },
      changeset: { id: [null, 1], name: [null, 'one-b'], n: [null, 1] }
    },
    {
      type: 'article', id: '3', transactionId: id, endTransactionId: null, operation: 'delete', index: 1,
      data: { id: 3, name: 'three-a', n: 0, note: null },
      changeset: { id: [3, null], name: ['three-a', null], n: [0, null] }
    },
    {
      type: 'article', id: '5', transactionId: id, endTransactionId: null, operation: 'update', index: 1,
      data: { id: 5, name: 'five-b', n: 0 },
      changeset: { name: ['five', 'five-b'], extra: ['e', null] }
    }
  ], 'insert+updates=insert, updates=update, update+delete=delete, insert+delete=nothing, delete+insert=update')

  for (const key of ['1', '2', '3', '5']) {
    const versions = await h.get(`/entities/article/${key}/versions`)
    t.equal(versions.body.items.filter((v: any) => v.transactionId === id).length, 1, `article ${key}: one version in the transaction`)
  }
  assertProblem(t, await h.get('/entities/article/4/versions'), 404, 'insert then delete left no version')
  assertProblem(t, await h.get('/entities/article/4'), 404, 'insert then delete: it does not exist')
  assertProblem(t, await h.get('/entities/article/3'), 404, 'update then delete: deleted')
  t.strictSame((await h.get('/entities/article/5')).body.data, { id: 5, name: 'five-b', n: 0 }, 'delete then insert: it lives on')
  t.strictSame((await h.get(`/transactions/${id as number}`)).body.versions.map((v: any) => v.id).sort(), ['1', '2', '3', '5'])
})

eachDatabase('unit of work: a transaction whose changes cancel out is not recorded', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [ins('article', { id: 5, name: 'five' })])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)

  const gone = await postChanges(h, [ins('article', { id: 4, name: 'four' }), upd('article', '4', { name: 'x' }), del('article', '4')])
  t.equal(gone.status, 200, 'insert then delete only')
  t.strictSame(gone.body, { transaction: null, versions: [] })

  const same = await postChanges(h, [del('article', '5'), ins('article', { id: 5, name: 'five' })])
  t.equal(same.status, 200, 'delete then insert of the same state')
  t.strictSame(same.body, { transaction: null, versions: [] })

  const roundTrip = await postChanges(h, [upd('article', '5', { name: 'other' }), upd('article', '5', { name: 'five' })])
  t.equal(roundTrip.status, 200, 'updates that end where they started')
  t.strictSame(roundTrip.body, { transaction: null, versions: [] })

  t.strictSame(await snapshot(h), before, 'nothing stored')
  t.strictSame(await listedTransactionIds(h), listed, 'GET /transactions shows nothing new')
  assertProblem(t, await h.get('/entities/article/4/versions'), 404, 'article 4 never existed')
})

eachDatabase('an update that changes no versioned field creates no version and no transaction', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [ins('article', { id: 1, name: 'A', attrs: { x: 1, y: [1, { z: 2 }] }, updated_at: 't0' })])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)

  const cases: Array<[string, Record<string, unknown>]> = [
    ['the same value', { name: 'A' }],
    ['an equal object in another key order', { attrs: { y: [1, { z: 2 }], x: 1 } }],
    ['only an excluded field', { updated_at: 't1' }],
    ['the same value and an excluded field', { name: 'A', updated_at: 't2' }],
    ['no fields', {}]
  ]
  for (const [what, data] of cases) {
    const res = await postChanges(h, [upd('article', '1', data)])
    t.equal(res.status, 200, what)
    t.strictSame(res.body, { transaction: null, versions: [] }, `${what}: not recorded`)
  }
  t.strictSame(await snapshot(h), before, 'nothing stored')
  t.strictSame(await listedTransactionIds(h), listed, 'GET /transactions shows nothing new')
  t.equal((await h.get('/entities/article/1/versions')).body.items.length, 1)

  // One entity unchanged next to one changed: only the changed one has a version.
  await record(t, h, [ins('article', { id: 2, name: 'B' })])
  const mixed = await postChanges(h, [upd('article', '1', { name: 'A' }), upd('article', '2', { name: 'C' })])
  t.equal(mixed.status, 201)
  t.strictSame(mixed.body.versions.map((v: any) => v.id), ['2'])
})

eachDatabase('versions are returned in the order their entities were first touched', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  await record(t, h, [ins('article', { id: 10, name: 'old' })])
  const res = await postChanges(h, [
    ins('article', { id: 3, name: 'c' }),
    ins('user', { id: 'zed' }),
    upd('article', '10', { name: 'new' }),
    ins('article', { id: 1, name: 'a' }),
    upd('article', '3', { name: 'cc' }),
    ins('user', { id: 'abe' }),
    ins('article', { id: 2, name: 'b' })
  ])
  t.equal(res.status, 201)
  t.strictSame(res.body.versions.map((v: any) => `${v.type as string}/${v.id as string}`),
    ['article/3', 'user/zed', 'article/10', 'article/1', 'user/abe', 'article/2'])
})
