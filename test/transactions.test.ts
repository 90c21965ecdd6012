import type { Test } from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'

// API.md, "Recording changes": POST /transactions (plus the conventions it relies on:
// keys, JSON equality, body depth and size, media type, problem answers).

type Table = Parameters<Harness['count']>[0]
const TABLES: Table[] = ['versions', 'transactions', 'entity_types', 'version_refs', 'idempotency_keys']

/** Row counts of every table, to prove that a rejected request stored nothing. */
async function snapshot (h: Harness): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const table of TABLES) out[table] = await h.count(table)
  return out
}

/** Ids of the transactions GET /transactions lists (newest first). */
async function listedTransactionIds (h: Harness): Promise<number[]> {
  const res = await h.get('/transactions?limit=1000')
  if (res.status !== 200) throw new Error(`GET /transactions answered ${res.status}`)
  return res.body.items.map((tx: any) => tx.id)
}

const post = async (h: Harness, changes: unknown[], extra: Record<string, unknown> = {}, headers?: Record<string, string>): Promise<Reply> =>
  await h.post('/transactions', { ...extra, changes }, headers)

const insert = (data: Record<string, unknown>, type = 'article'): Record<string, unknown> => ({ type, op: 'insert', data })
const update = (id: string, data: Record<string, unknown>, type = 'article'): Record<string, unknown> => ({ type, op: 'update', id, data })
const del = (id: string, type = 'article'): Record<string, unknown> => ({ type, op: 'delete', id })

async function registerArticle (t: Test, h: Harness): Promise<void> {
  t.equal((await h.put('/entity-types/article', { exclude: ['updated_at'] })).status, 201, 'article registered')
}

/** Records a transaction that must succeed and answers it. */
async function record (t: Test, h: Harness, changes: unknown[], extra: Record<string, unknown> = {}): Promise<any> {
  const res = await post(h, changes, extra)
  t.equal(res.status, 201, 'recorded')
  return res.body
}

/** Object keys sorted, so that bodies holding `__proto__` can be compared as text. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

eachDatabase('insert answers 201 with the transaction and an insert version', async (t, h) => {
  await registerArticle(t, h)
  const res = await post(h, [insert({ id: 1, name: 'Initial Name', content: 'Initial Content', note: null })])
  t.equal(res.status, 201)
  t.match(String(res.headers['content-type']), /^application\/json/)
  const tx = res.body.transaction
  t.ok(Number.isSafeInteger(tx.id) && tx.id > 0, 'transaction id is a positive integer')
  t.ok(Number.isFinite(Date.parse(tx.issuedAt)), 'issuedAt')
  t.ok(Number.isFinite(Date.parse(tx.recordedAt)), 'recordedAt')
  t.same(res.body.versions, [{
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
  t.same(now.body, { type: 'article', id: '1', data: { id: 1, name: 'Initial Name', content: 'Initial Content', note: null }, transactionId: tx.id })

  const detail = await h.get(`/transactions/${tx.id as number}`)
  t.equal(detail.status, 200)
  t.same(detail.body.versions, res.body.versions, 'GET /transactions/{id} lists the version')
  t.same((await listedTransactionIds(h))[0], tx.id, 'listed first')
})

eachDatabase('update changes the given fields, keeps the others, null sets null', async (t, h) => {
  await registerArticle(t, h)
  const first = await record(t, h, [insert({ id: 1, name: 'A', content: 'C', score: 3 })])
  const res = await post(h, [update('1', { name: 'B', score: null, extra: { deep: [1, 2] } })])
  t.equal(res.status, 201)
  const tx = res.body.transaction
  t.ok(tx.id > first.transaction.id, 'transaction ids increase')
  t.same(res.body.versions, [{
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
  t.same(versions.body.items.map((v: any) => [v.transactionId, v.endTransactionId]), [
    [first.transaction.id, tx.id], [tx.id, null]
  ], 'the insert now ends at the update')
  t.same((await h.get('/entities/article/1')).body.data, { id: 1, name: 'B', content: 'C', score: null, extra: { deep: [1, 2] } })

  // Repeating the id field with its current value is not a change of it.
  const same = await post(h, [update('1', { id: 1, name: 'C' })])
  t.equal(same.status, 201)
  t.same(same.body.versions[0].changeset, { name: ['B', 'C'] })
})

eachDatabase('delete records the last state; re-insert brings the entity back as an insert', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [insert({ id: 1, name: 'A', content: null, tags: ['x'] })])
  const res = await post(h, [del('1')])
  t.equal(res.status, 201)
  const tx = res.body.transaction
  t.same(res.body.versions, [{
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

  const back = await post(h, [insert({ id: 1, name: 'Back' })])
  t.equal(back.status, 201)
  t.equal(back.body.versions[0].operation, 'insert')
  t.equal(back.body.versions[0].index, 2)
  t.same(back.body.versions[0].changeset, { id: [null, 1], name: [null, 'Back'] }, 'an insert changeset')
  t.same((await h.get('/entities/article/1')).body.data, { id: 1, name: 'Back' })
})

eachDatabase('409: insert of an existing entity, update or delete of a missing one; nothing recorded', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [insert({ id: 1, name: 'A' })])
  await record(t, h, [insert({ id: 2, name: 'B' })])
  await record(t, h, [del('2')])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)

  assertProblem(t, await post(h, [insert({ id: 1, name: 'again' })]), 409, 'insert of an existing entity')
  assertProblem(t, await post(h, [update('99', { name: 'x' })]), 409, 'update of an entity that never existed')
  assertProblem(t, await post(h, [del('99')]), 409, 'delete of an entity that never existed')
  assertProblem(t, await post(h, [update('2', { name: 'x' })]), 409, 'update of a deleted entity')
  assertProblem(t, await post(h, [del('2')]), 409, 'delete of a deleted entity')
  assertProblem(t, await post(h, [del('1'), del('1')]), 409, 'delete twice in one transaction')

  t.same(await snapshot(h), before, 'nothing stored')
  t.same(await listedTransactionIds(h), listed, 'no transaction listed')
  t.same((await h.get('/entities/article/1')).body.data, { id: 1, name: 'A' })
})

eachDatabase('400: an update that changes an id field', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  await record(t, h, [insert({ id: 1, name: 'A' }), insert({ a: 7, b: 3, v: 'x' }, 'pair')])
  const before = await snapshot(h)

  assertProblem(t, await post(h, [update('1', { id: 2 })]), 400, 'id changed')
  assertProblem(t, await post(h, [update('1', { id: '1', name: 'B' })]), 400, 'id changed from 1 to "1"')
  assertProblem(t, await post(h, [update('1', { id: null })]), 400, 'id set to null')
  assertProblem(t, await post(h, [update('7,3', { b: 4 }, 'pair')]), 400, 'second field of a composite key changed')
  assertProblem(t, await post(h, [update('7,3', { a: 8, v: 'y' }, 'pair')]), 400, 'first field of a composite key changed')

  t.same(await snapshot(h), before, 'nothing stored')
  t.same((await h.get('/entities/article/1')).body.data, { id: 1, name: 'A' })
})

eachDatabase('400: insert without its id fields or with an id value that is not a string or an integer', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  const before = await snapshot(h)
  const invalid: Array<[string, Record<string, unknown>]> = [
    ['no id', insert({ name: 'A' })],
    ['no data', { type: 'article', op: 'insert' }],
    ['id null', insert({ id: null, name: 'A' })],
    ['id an object', insert({ id: { n: 1 } })],
    ['id an array', insert({ id: [1] })],
    ['id a boolean', insert({ id: true })],
    ['id a fraction', insert({ id: 1.5 })],
    ['composite key without its second field', insert({ a: 7 }, 'pair')],
    ['composite key without its first field', insert({ b: 3 }, 'pair')],
    ['composite key with an object', insert({ a: 7, b: { x: 3 } }, 'pair')]
  ]
  for (const [what, change] of invalid) assertProblem(t, await post(h, [change]), 400, what)
  t.same(await snapshot(h), before, 'nothing stored')
})

eachDatabase('composite keys: values joined by "," in idFields order; "," inside a composite value is 400', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  t.equal((await h.put('/entity-types/reversed', { idFields: ['b', 'a'] })).status, 201)

  const res = await post(h, [insert({ a: 7, b: 3, v: 'x' }, 'pair'), insert({ a: 7, b: 3 }, 'reversed'), insert({ a: 'x', b: 'y' }, 'pair')])
  t.equal(res.status, 201)
  t.same(res.body.versions.map((v: any) => [v.type, v.id]), [['pair', '7,3'], ['reversed', '3,7'], ['pair', 'x,y']])

  t.same((await h.get('/entities/pair/7,3')).body.data, { a: 7, b: 3, v: 'x' })
  t.equal((await h.get('/entities/pair/7%2C3')).status, 200, 'the "," may be percent-encoded')
  const changed = await post(h, [update('7,3', { v: 'y' }, 'pair')])
  t.equal(changed.status, 201)
  t.same(changed.body.versions[0].changeset, { v: ['x', 'y'] })
  t.equal((await post(h, [del('3,7', 'reversed')])).status, 201)

  // A single id field may hold a ",".
  const single = await post(h, [insert({ id: 'a,b', name: 'comma' })])
  t.equal(single.status, 201)
  t.equal(single.body.versions[0].id, 'a,b')

  const before = await snapshot(h)
  assertProblem(t, await post(h, [insert({ a: 'p,q', b: 1 }, 'pair')]), 400, '"," in the first value of a composite key')
  assertProblem(t, await post(h, [insert({ a: 1, b: 'q,r' }, 'pair')]), 400, '"," in the second value of a composite key')
  assertProblem(t, await post(h, [insert({ a: 'p', b: 1 }, 'pair'), insert({ a: 'p,', b: 2 }, 'pair')]), 400, '"," after a valid change')
  t.same(await snapshot(h), before, 'nothing stored')
})

eachDatabase('unit of work: the five collapsing cases in one transaction, versions in order of first touch', async (t, h) => {
  await registerArticle(t, h)
  const setup = await record(t, h, [
    insert({ id: 2, name: 'two', n: 0 }),
    insert({ id: 3, name: 'three', n: 0, note: null }),
    insert({ id: 5, name: 'five', n: 0, extra: 'e' })
  ])
  const res = await post(h, [
    update('2', { name: 'two-a' }),
    insert({ id: 1, name: 'one', n: 0, note: null }),
    update('3', { name: 'three-a' }),
    insert({ id: 4, name: 'four' }),
    update('2', { name: 'two-b', n: 2 }),
    del('5'),
    update('1', { name: 'one-b' }),
    del('3'),
    del('4'),
    insert({ id: 5, name: 'five-b', n: 0 }),
    update('1', { n: 1 }),
    update('2', { n: 0 }) // back to its value before the transaction
  ])
  t.equal(res.status, 201)
  const id = res.body.transaction.id
  t.ok(id > setup.transaction.id)
  t.same(res.body.versions, [
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
  t.same((await h.get('/entities/article/5')).body.data, { id: 5, name: 'five-b', n: 0 }, 'delete then insert: it lives on')
  t.same((await h.get(`/transactions/${id as number}`)).body.versions.map((v: any) => v.id).sort(), ['1', '2', '3', '5'])
})

eachDatabase('unit of work: a transaction whose changes cancel out is not recorded', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [insert({ id: 5, name: 'five' })])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)

  const gone = await post(h, [insert({ id: 4, name: 'four' }), update('4', { name: 'x' }), del('4')])
  t.equal(gone.status, 200, 'insert then delete only')
  t.same(gone.body, { transaction: null, versions: [] })

  const same = await post(h, [del('5'), insert({ id: 5, name: 'five' })])
  t.equal(same.status, 200, 'delete then insert of the same state')
  t.same(same.body, { transaction: null, versions: [] })

  const roundTrip = await post(h, [update('5', { name: 'other' }), update('5', { name: 'five' })])
  t.equal(roundTrip.status, 200, 'updates that end where they started')
  t.same(roundTrip.body, { transaction: null, versions: [] })

  t.same(await snapshot(h), before, 'nothing stored')
  t.same(await listedTransactionIds(h), listed, 'GET /transactions shows nothing new')
  assertProblem(t, await h.get('/entities/article/4/versions'), 404, 'article 4 never existed')
})

eachDatabase('an update that changes no versioned field creates no version and no transaction', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [insert({ id: 1, name: 'A', attrs: { x: 1, y: [1, { z: 2 }] }, updated_at: 't0' })])
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
    const res = await post(h, [update('1', data)])
    t.equal(res.status, 200, what)
    t.same(res.body, { transaction: null, versions: [] }, `${what}: not recorded`)
  }
  t.same(await snapshot(h), before, 'nothing stored')
  t.same(await listedTransactionIds(h), listed, 'GET /transactions shows nothing new')
  t.equal((await h.get('/entities/article/1/versions')).body.items.length, 1)

  // One entity unchanged next to one changed: only the changed one has a version.
  await record(t, h, [insert({ id: 2, name: 'B' })])
  const mixed = await post(h, [update('1', { name: 'A' }), update('2', { name: 'C' })])
  t.equal(mixed.status, 201)
  t.same(mixed.body.versions.map((v: any) => v.id), ['2'])
})

eachDatabase('excluded fields are never stored', async (t, h) => {
  t.equal((await h.put('/entity-types/article', { exclude: ['updated_at', 'cache'] })).status, 201)
  const inserted = await post(h, [insert({ id: 1, name: 'A', updated_at: '2026-01-01', cache: { big: [1, 2, 3] } })])
  t.equal(inserted.status, 201)
  t.same(inserted.body.versions[0].data, { id: 1, name: 'A' })
  t.same(inserted.body.versions[0].changeset, { id: [null, 1], name: [null, 'A'] })

  const updated = await post(h, [update('1', { name: 'B', updated_at: '2026-01-02', cache: null })])
  t.equal(updated.status, 201)
  t.same(updated.body.versions[0].data, { id: 1, name: 'B' })
  t.same(updated.body.versions[0].changeset, { name: ['A', 'B'] })

  const deleted = await post(h, [update('1', { updated_at: '2026-01-03' }), del('1')])
  t.equal(deleted.status, 201)
  t.same(deleted.body.versions[0].data, { id: 1, name: 'B' })
  t.same(deleted.body.versions[0].changeset, { id: [1, null], name: ['B', null] })

  const versions = await h.get('/entities/article/1/versions')
  t.same(versions.body.items.map((v: any) => v.data), [{ id: 1, name: 'A' }, { id: 1, name: 'B' }, { id: 1, name: 'B' }])
  for (const v of versions.body.items) {
    t.notOk('updated_at' in v.changeset || 'cache' in v.changeset, `no excluded field in the changeset of ${v.operation as string}`)
  }
  const detail = await h.get(`/transactions/${inserted.body.transaction.id as number}`)
  t.same(detail.body.versions[0].data, { id: 1, name: 'A' })
  t.same((await h.get(`/entities/article/1?at=${updated.body.transaction.id as number}`)).body.data, { id: 1, name: 'B' })
})

eachDatabase('versions are returned in the order their entities were first touched', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  await record(t, h, [insert({ id: 10, name: 'old' })])
  const res = await post(h, [
    insert({ id: 3, name: 'c' }),
    insert({ id: 'zed' }, 'user'),
    update('10', { name: 'new' }),
    insert({ id: 1, name: 'a' }),
    update('3', { name: 'cc' }),
    insert({ id: 'abe' }, 'user'),
    insert({ id: 2, name: 'b' })
  ])
  t.equal(res.status, 201)
  t.same(res.body.versions.map((v: any) => `${v.type as string}/${v.id as string}`),
    ['article/3', 'user/zed', 'article/10', 'article/1', 'user/abe', 'article/2'])
})

eachDatabase('an unknown type is 404 and rejects the whole transaction', async (t, h) => {
  await registerArticle(t, h)
  const before = await snapshot(h)
  assertProblem(t, await post(h, [insert({ id: 1 }, 'ghost')]), 404, 'unknown type alone')
  assertProblem(t, await post(h, [insert({ id: 1, name: 'A' }), insert({ id: 1 }, 'ghost')]), 404, 'unknown type after a valid change')
  assertProblem(t, await post(h, [update('1', { a: 1 }, 'ghost')]), 404, 'update of an unknown type')
  t.same(await snapshot(h), before, 'nothing stored')
  assertProblem(t, await h.get('/entities/article/1'), 404, 'the valid change was not applied')
})

eachDatabase('atomicity: one bad change anywhere in the list rejects the whole transaction', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  await record(t, h, [insert({ id: 1, name: 'A' })])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)
  const good = [insert({ id: 2, name: 'B' }), update('1', { name: 'changed' }), insert({ a: 1, b: 2 }, 'pair')]

  assertProblem(t, await post(h, [...good, update('99', { name: 'x' })]), 409, 'update of a missing entity last')
  assertProblem(t, await post(h, [...good, insert({ id: 1, name: 'dup' })]), 409, 'insert of an existing entity last')
  assertProblem(t, await post(h, [...good, update('1', { id: 5 })]), 400, 'id change last')
  assertProblem(t, await post(h, [...good, insert({ name: 'no id' })]), 400, 'missing id last')
  assertProblem(t, await post(h, [...good, insert({ a: 'x,y', b: 1 }, 'pair')]), 400, 'bad composite value last')
  assertProblem(t, await post(h, [...good, { type: 'article', op: 'upsert', id: '1', data: {} }]), 400, 'unknown op last')

  t.same(await snapshot(h), before, 'row counts unchanged')
  t.same(await listedTransactionIds(h), listed, 'no transaction listed')
  t.same((await h.get('/entities/article/1')).body.data, { id: 1, name: 'A' }, 'article 1 unchanged')
  t.equal((await h.get('/entities/article/2')).status, 404, 'article 2 not inserted')
  t.equal((await h.get('/entities/pair/1,2')).status, 404, 'pair 1,2 not inserted')

  // A rejected request keeps no Idempotency-Key either: the key is free for the corrected request.
  assertProblem(t, await post(h, [...good, del('99')], {}, { 'idempotency-key': 'fix-me' }), 409, 'rejected with a key')
  t.equal(await h.count('idempotency_keys'), before.idempotency_keys, 'the key of a rejected request is not kept')
  const fixed = await post(h, good, {}, { 'idempotency-key': 'fix-me' })
  t.equal(fixed.status, 201, 'the same key with the corrected body is recorded')
})

eachDatabase('malformed changes are 400', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [insert({ id: 1, name: 'A' })])
  const before = await snapshot(h)
  const bodies: Array<[string, unknown]> = [
    ['no changes member', { actor: 'x' }],
    ['changes not an array', { changes: {} }],
    ['unknown op', { changes: [{ type: 'article', op: 'upsert', id: '1', data: {} }] }],
    ['update without id', { changes: [{ type: 'article', op: 'update', data: { name: 'B' } }] }],
    ['delete without id', { changes: [{ type: 'article', op: 'delete' }] }],
    ['update without data', { changes: [{ type: 'article', op: 'update', id: '1' }] }],
    ['data not an object', { changes: [{ type: 'article', op: 'insert', data: [1] }] }],
    ['unknown member in a change', { changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'B' }, when: 'now' }] }],
    ['unknown top-level member', { changes: [update('1', { name: 'B' })], user: 'x' }],
    ['actor not a string', { actor: 42, changes: [update('1', { name: 'B' })] }],
    ['meta not an object', { meta: 'x', changes: [update('1', { name: 'B' })] }],
    ['issuedAt not a time', { issuedAt: 'yesterday', changes: [update('1', { name: 'B' })] }],
    ['body an array', [update('1', { name: 'B' })]]
  ]
  for (const [what, body] of bodies) assertProblem(t, await h.post('/transactions', body), 400, what)
  t.same(await snapshot(h), before, 'nothing stored')
})

eachDatabase('actor, meta and issuedAt are stored; issuedAt defaults to the recording time', async (t, h) => {
  await registerArticle(t, h)
  const meta = { remoteAddr: '10.1.2.3', reason: 'edit form', nested: { list: [1, 'two', null] } }
  const given = await post(h, [insert({ id: 1 })], { actor: 'user-42', meta, issuedAt: '2026-11-24T10:00:00Z' })
  t.equal(given.status, 201)
  const tx = given.body.transaction
  t.equal(tx.actor, 'user-42')
  t.same(tx.meta, meta)
  t.equal(Date.parse(tx.issuedAt), Date.parse('2026-11-24T10:00:00Z'), 'issuedAt as given')
  const read = await h.get(`/transactions/${tx.id as number}`)
  t.equal(read.status, 200)
  t.equal(read.body.id, tx.id)
  t.equal(read.body.actor, 'user-42')
  t.same(read.body.meta, meta)
  t.equal(Date.parse(read.body.issuedAt), Date.parse('2026-11-24T10:00:00Z'))
  t.equal(Date.parse(read.body.recordedAt), Date.parse(tx.recordedAt))

  const offset = await post(h, [insert({ id: 2 })], { issuedAt: '2026-11-24T12:00:00+02:00' })
  t.equal(Date.parse(offset.body.transaction.issuedAt), Date.parse('2026-11-24T10:00:00Z'), 'an offset names the same instant')

  const start = Date.now()
  const defaulted = await post(h, [insert({ id: 3 })])
  const end = Date.now()
  t.equal(defaulted.status, 201)
  const d = defaulted.body.transaction
  t.equal(d.actor, null, 'no actor')
  t.same(d.meta, {}, 'no meta')
  const issued = Date.parse(d.issuedAt)
  t.ok(issued >= start - 2000 && issued <= end + 2000, `issuedAt defaults to now (${d.issuedAt as string})`)
  const recorded = Date.parse(d.recordedAt)
  t.ok(recorded >= start - 2000 && recorded <= end + 2000, 'recordedAt is now')
  const readDefault = await h.get(`/transactions/${d.id as number}`)
  t.equal(readDefault.body.actor, null)
  t.same(readDefault.body.meta, {})
  t.equal(Date.parse(readDefault.body.issuedAt), issued)
})

eachDatabase('Idempotency-Key: a retry replays the first answer and records nothing; another body is 422', async (t, h) => {
  await registerArticle(t, h)
  const body = { actor: 'a', changes: [insert({ id: 1, name: 'A' })] }
  const first = await h.post('/transactions', body, { 'idempotency-key': 'key-1' })
  t.equal(first.status, 201)
  t.not(first.headers['idempotent-replayed'], 'true', 'the first answer is not a replay')
  const after = await snapshot(h)
  const listed = await listedTransactionIds(h)

  const retry = await h.post('/transactions', body, { 'idempotency-key': 'key-1' })
  t.equal(retry.status, first.status, 'same status')
  t.same(retry.body, first.body, 'same body')
  t.equal(retry.headers['idempotent-replayed'], 'true', 'Idempotent-Replayed: true')
  t.same(await snapshot(h), after, 'the retry recorded nothing')
  t.same(await listedTransactionIds(h), listed)
  t.equal((await h.get('/entities/article/1/versions')).body.items.length, 1)

  const other = await h.post('/transactions', { actor: 'a', changes: [insert({ id: 2, name: 'B' })] }, { 'idempotency-key': 'key-1' })
  assertProblem(t, other, 422, 'same key, another body')
  t.same(await snapshot(h), after, 'the 422 recorded nothing')
  t.equal((await h.get('/entities/article/2')).status, 404)

  // Without the key, the same body is a new request (and here a conflict).
  assertProblem(t, await h.post('/transactions', body), 409, 'the same body without a key')
  // Another key with a new body is recorded.
  t.equal((await h.post('/transactions', { changes: [insert({ id: 3 })] }, { 'idempotency-key': 'key-2' })).status, 201)

  // A recorded "nothing changed" answer replays too.
  const noop = { changes: [update('1', { name: 'A' })] }
  const n1 = await h.post('/transactions', noop, { 'idempotency-key': 'key-3' })
  t.equal(n1.status, 200)
  const n2 = await h.post('/transactions', noop, { 'idempotency-key': 'key-3' })
  t.equal(n2.status, 200)
  t.same(n2.body, { transaction: null, versions: [] })
  t.equal(n2.headers['idempotent-replayed'], 'true')

  // Keys are at most 255 characters.
  const ok255 = await h.post('/transactions', { changes: [insert({ id: 4 })] }, { 'idempotency-key': 'k'.repeat(255) })
  t.equal(ok255.status, 201, 'a 255-character key')
  const before256 = await snapshot(h)
  assertProblem(t, await h.post('/transactions', { changes: [insert({ id: 5 })] }, { 'idempotency-key': 'k'.repeat(256) }), 400, 'a 256-character key')
  t.same(await snapshot(h), before256)
})

eachDatabase('expectedTransactionId: recorded when it matches the latest version, 409 otherwise', async (t, h) => {
  await registerArticle(t, h)
  const t1 = (await record(t, h, [insert({ id: 1, name: 'A' })])).transaction.id
  const t2 = (await record(t, h, [insert({ id: 2, name: 'Z' })])).transaction.id

  const matched = await post(h, [{ ...update('1', { name: 'B' }), expectedTransactionId: t1 }])
  t.equal(matched.status, 201, 'update at the expected transaction')
  const t3 = matched.body.transaction.id

  const before = await snapshot(h)
  assertProblem(t, await post(h, [{ ...update('1', { name: 'C' }), expectedTransactionId: t1 }]), 409, 'update with a stale transaction id')
  assertProblem(t, await post(h, [{ ...del('1'), expectedTransactionId: t1 }]), 409, 'delete with a stale transaction id')
  assertProblem(t, await post(h, [{ ...update('1', { name: 'C' }), expectedTransactionId: t2 }]), 409, 'another entity\'s transaction id')
  assertProblem(t, await post(h, [update('2', { name: 'Y' }), { ...update('1', { name: 'C' }), expectedTransactionId: t3 + 100 }]), 409,
    'a mismatch after a valid change')
  t.same(await snapshot(h), before, 'nothing stored')
  t.same((await h.get('/entities/article/1')).body.data, { id: 1, name: 'B' })
  t.same((await h.get('/entities/article/2')).body.data, { id: 2, name: 'Z' })

  const deleted = await post(h, [{ ...del('1'), expectedTransactionId: t3 }])
  t.equal(deleted.status, 201, 'delete at the expected transaction')
  t.equal(deleted.body.versions[0].operation, 'delete')
})

eachDatabase('__proto__ and constructor are ordinary field names, stored and returned as data', async (t, h) => {
  await registerArticle(t, h)
  // Written as text: an object literal's "__proto__" would set a prototype instead of a field.
  const text = '{"actor":"p","meta":{"__proto__":{"admin":true}},"changes":[{"type":"article","op":"insert","data":' +
    '{"id":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"name":"A"}}]}'
  const res = await h.post('/transactions', text)
  t.equal(res.status, 201)
  const version = res.body.versions[0]
  t.ok(Object.hasOwn(version.data, '__proto__'), '__proto__ is an own field of data')
  t.equal(canonical(version.data), canonical(JSON.parse('{"id":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"name":"A"}')))
  t.equal(canonical(version.changeset), canonical(JSON.parse(
    '{"id":[null,1],"__proto__":[null,{"polluted":true}],"constructor":[null,{"prototype":{"polluted":true}}],"name":[null,"A"]}')))
  t.ok(Object.hasOwn(res.body.transaction.meta, '__proto__'), 'meta keeps __proto__ as a field')
  t.equal(canonical(res.body.transaction.meta), canonical(JSON.parse('{"__proto__":{"admin":true}}')))
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')

  const now = await h.get('/entities/article/1')
  t.equal(canonical(now.body.data), canonical(version.data), 'read back as stored')

  const changed = await h.post('/transactions', '{"changes":[{"type":"article","op":"update","id":"1","data":{"__proto__":{"polluted":false},"constructor":null}}]}')
  t.equal(changed.status, 201)
  t.equal(canonical(changed.body.versions[0].changeset), canonical(JSON.parse(
    '{"__proto__":[{"polluted":true},{"polluted":false}],"constructor":[{"prototype":{"polluted":true}},null]}')), 'the changeset names them too')
  t.equal(canonical(changed.body.versions[0].data), canonical(JSON.parse(
    '{"id":1,"__proto__":{"polluted":false},"constructor":null,"name":"A"}')))

  const same = await h.post('/transactions', '{"changes":[{"type":"article","op":"update","id":"1","data":{"__proto__":{"polluted":false}}}]}')
  t.equal(same.status, 200, 'an equal __proto__ value is no change')

  const versions = await h.get('/entities/article/1/versions')
  t.equal(versions.body.items.length, 2)
  t.equal(canonical(versions.body.items[1].changeset), canonical(changed.body.versions[0].changeset))
  const tx = await h.get(`/transactions/${res.body.transaction.id as number}`)
  t.equal(canonical(tx.body.meta), canonical(JSON.parse('{"__proto__":{"admin":true}}')))
})

eachDatabase('a body nesting deeper than 64 levels is 400', async (t, h) => {
  await registerArticle(t, h)
  // The body object, "changes", the change and "data" are 4 levels; `nest(n)` adds n more.
  const nest = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels)
  const body = (levels: number, id: number): string =>
    `{"changes":[{"type":"article","op":"insert","data":{"id":${id},"deep":${nest(levels)}}}]}`

  const at64 = await h.post('/transactions', body(60, 1))
  t.equal(at64.status, 201, '64 levels are accepted')
  const before = await snapshot(h)
  assertProblem(t, await h.post('/transactions', body(61, 2)), 400, '65 levels')
  assertProblem(t, await h.post('/transactions', body(1000, 3)), 400, '1004 levels')
  const deepObject = `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`
  assertProblem(t, await h.post('/transactions', `{"changes":[{"type":"article","op":"insert","data":{"id":5,"deep":${deepObject}}}]}`), 400, 'deep objects')
  t.same(await snapshot(h), before, 'nothing stored')
  // Brackets inside strings are not nesting.
  t.equal((await post(h, [insert({ id: 4, text: '['.repeat(100) })])).status, 201, 'brackets in a string')
})

eachDatabase('a body over the limit is 413', async (t, h) => {
  await registerArticle(t, h)
  const small = await post(h, [insert({ id: 1, text: 'x'.repeat(1500) })])
  t.equal(small.status, 201, 'under the limit')
  const before = await snapshot(h)
  assertProblem(t, await post(h, [insert({ id: 2, text: 'x'.repeat(3000) })]), 413, 'over the limit')
  // The limit counts bytes: 1100 two-byte characters are 2200 bytes.
  assertProblem(t, await post(h, [insert({ id: 3, text: 'é'.repeat(1100) })]), 413, 'over the limit in bytes')
  assertProblem(t, await h.put('/entity-types/big', { exclude: Array.from({ length: 300 }, (_, i) => `field_${i}`) }), 413, 'PUT over the limit')
  t.same(await snapshot(h), before, 'nothing stored')
}, { bodyLimit: 2048 })

eachDatabase('a body that is not JSON is 415', async (t, h) => {
  await registerArticle(t, h)
  const before = await snapshot(h)
  const json = JSON.stringify({ changes: [insert({ id: 1 })] })
  assertProblem(t, await h.request('POST', '/transactions', json, { 'content-type': 'text/plain' }), 415, 'text/plain')
  assertProblem(t, await h.request('POST', '/transactions', 'changes=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'a form')
  assertProblem(t, await h.request('POST', '/transactions', '<changes/>', { 'content-type': 'application/xml' }), 415, 'XML')
  t.same(await snapshot(h), before, 'nothing stored')
  // application/json with a charset is JSON.
  t.equal((await h.request('POST', '/transactions', json, { 'content-type': 'application/json; charset=utf-8' })).status, 201)
})

eachDatabase('malformed JSON is 400', async (t, h) => {
  await registerArticle(t, h)
  const before = await snapshot(h)
  for (const text of ['{"changes": [', '{changes: []}', '{"changes": [{"type": "article",}]}', 'nope', '{"a":1}}']) {
    assertProblem(t, await h.post('/transactions', text), 400, `body ${JSON.stringify(text)}`)
  }
  t.same(await snapshot(h), before, 'nothing stored')
})
