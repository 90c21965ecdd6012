import type { Test } from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { allPages, assertProblem } from './helpers/assertions.js'
import { record } from './helpers/changes.js'

/**
 * A history with gaps: article 1 is inserted, updated twice, deleted and brought back;
 * article 2 is touched in between so that article 1's transaction ids are not consecutive.
 */
async function articleHistory (t: Test, h: Harness): Promise<Record<string, any>> {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const t0 = await record(t, h, [{ type: 'article', op: 'insert', data: { id: 2, title: 'Other', body: 'o' } }])
  const t1 = await record(t, h, [{ type: 'article', op: 'insert', data: { id: 1, title: 'A', body: 'x' } }],
    { actor: 'alice', meta: { reason: 'create', ip: '10.0.0.1' }, issuedAt: '2026-03-01T10:00:00Z' })
  const gap = await record(t, h, [{ type: 'article', op: 'update', id: '2', data: { title: 'Other 2' } }])
  const t2 = await record(t, h, [{ type: 'article', op: 'update', id: '1', data: { title: 'B' } }], { actor: 'bob' })
  const t3 = await record(t, h, [{ type: 'article', op: 'update', id: '1', data: { body: 'y' } }])
  const t4 = await record(t, h, [{ type: 'article', op: 'delete', id: '1' }], { actor: 'carol', meta: { reason: 'spam' } })
  const t5 = await record(t, h, [{ type: 'article', op: 'insert', data: { id: 1, title: 'C', body: null } }])
  const after = await record(t, h, [{ type: 'article', op: 'update', id: '2', data: { body: 'o2' } }])
  return { t0, t1, gap, t2, t3, t4, t5, after }
}

eachDatabase('Versions: an entity\'s versions ascending and descending, with index and endTransactionId', async (t, h) => {
  const { t1, t2, t3, t4, t5 } = await articleHistory(t, h)
  const ids = [t1, t2, t3, t4, t5].map((x) => x.transaction.id)
  for (let i = 1; i < ids.length; i++) t.ok(ids[i] > ids[i - 1], 'transaction ids increase')

  const expected = [
    { operation: 'insert', data: { id: 1, title: 'A', body: 'x' }, changeset: { id: [null, 1], title: [null, 'A'], body: [null, 'x'] } },
    { operation: 'update', data: { id: 1, title: 'B', body: 'x' }, changeset: { title: ['A', 'B'] } },
    { operation: 'update', data: { id: 1, title: 'B', body: 'y' }, changeset: { body: ['x', 'y'] } },
    { operation: 'delete', data: { id: 1, title: 'B', body: 'y' }, changeset: { id: [1, null], title: ['B', null], body: ['y', null] } },
    { operation: 'insert', data: { id: 1, title: 'C', body: null }, changeset: { id: [null, 1], title: [null, 'C'] } }
  ].map((v, i) => ({
    type: 'article',
    id: '1',
    transactionId: ids[i],
    endTransactionId: i + 1 < ids.length ? ids[i + 1] : null,
    index: i,
    ...v,
    // The hash POST /transactions answered is the one stored.
    hash: [t1, t2, t3, t4, t5][i]!.versions.find((x: any) => x.id === '1').hash
  }))

  const asc = await h.get('/entities/article/1/versions')
  t.equal(asc.status, 200)
  t.strictSame(asc.body, { items: expected, nextCursor: null }, 'ascending by transaction id, each version complete')

  const explicitAsc = await h.get('/entities/article/1/versions?order=asc')
  t.equal(explicitAsc.status, 200)
  t.strictSame(explicitAsc.body, { items: expected, nextCursor: null }, '?order=asc is the default order')

  const desc = await h.get('/entities/article/1/versions?order=desc')
  t.equal(desc.status, 200)
  t.strictSame(desc.body, { items: [...expected].reverse(), nextCursor: null }, '?order=desc is newest first, same versions')

  // The versions POST /transactions answered are the same versions (endTransactionId aside: it was not known then).
  t.strictSame({ ...t1.versions[0], endTransactionId: ids[1] }, expected[0], 'list agrees with what POST /transactions answered')

  const other = await h.get('/entities/article/2/versions')
  t.equal(other.status, 200)
  t.strictSame(other.body.items.map((v: any) => v.index), [0, 1, 2], 'index counts this entity\'s versions only')
  t.strictSame(other.body.items.map((v: any) => v.id), ['2', '2', '2'], 'only the named entity\'s versions')

  assertProblem(t, await h.get('/entities/article/1/versions?order=sideways'), 400, 'an unknown order')
})

eachDatabase('Versions: cursor pagination over several pages, both orders', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.put('/entity-types/note', {})).status, 201)
  await record(t, h, [{ type: 'article', op: 'insert', data: { id: 1, n: 0 } }])
  for (let n = 1; n <= 6; n++) {
    // Other entities are touched between the versions of article 1.
    await record(t, h, [{ type: 'note', op: n === 1 ? 'insert' : 'update', ...(n === 1 ? { data: { id: 'x', n } } : { id: 'x', data: { n } }) }])
    await record(t, h, [{ type: 'article', op: 'update', id: '1', data: { n } }])
  }
  const full = await h.get('/entities/article/1/versions?limit=1000')
  t.equal(full.status, 200)
  t.equal(full.body.items.length, 7, 'seven versions')
  t.equal(full.body.nextCursor, null, 'one page holds them all')
  const ascIds: number[] = full.body.items.map((v: any) => v.transactionId)
  t.strictSame(full.body.items.map((v: any) => v.data.n), [0, 1, 2, 3, 4, 5, 6])

  for (const order of ['asc', 'desc'] as const) {
    const want = order === 'asc' ? ascIds : [...ascIds].reverse()
    for (const limit of [1, 2, 3, 7, 8]) {
      const pages = await allPages(t, h, `/entities/article/1/versions?order=${order}&limit=${limit}`)
      const seen = pages.flatMap((p) => p.items.map((v: any) => v.transactionId))
      t.strictSame(seen, want, `order=${order} limit=${limit}: every version once, in order`)
      t.strictSame(pages.map((p) => p.items.length), Array.from({ length: Math.ceil(7 / limit) }, (_, i) => Math.min(limit, 7 - i * limit)),
        `order=${order} limit=${limit}: full pages then the rest, no empty page`)
      t.ok(pages.slice(0, -1).every((p) => typeof p.nextCursor === 'string' && p.nextCursor.length > 0), 'a cursor on every page but the last')
      t.equal(pages.at(-1)?.nextCursor, null, `order=${order} limit=${limit}: nextCursor null at the end`)
      // The index of each version does not depend on the page it is on.
      t.strictSame(pages.flatMap((p) => p.items.map((v: any) => v.index)), order === 'asc' ? [0, 1, 2, 3, 4, 5, 6] : [6, 5, 4, 3, 2, 1, 0])
    }
  }

  // A cursor from an ascending page does not go with ?order=desc (and the other way round).
  const ascPage = await h.get('/entities/article/1/versions?limit=2')
  t.type(ascPage.body.nextCursor, 'string')
  assertProblem(t, await h.get(`/entities/article/1/versions?order=desc&limit=2&cursor=${encodeURIComponent(ascPage.body.nextCursor)}`), 400,
    'an ascending cursor used with order=desc')
  const descPage = await h.get('/entities/article/1/versions?order=desc&limit=2')
  t.type(descPage.body.nextCursor, 'string')
  assertProblem(t, await h.get(`/entities/article/1/versions?limit=2&cursor=${encodeURIComponent(descPage.body.nextCursor)}`), 400,
    'a descending cursor used with the default (ascending) order')
  // The same cursor with its own order still works, and gives the next page.
  const second = await h.get(`/entities/article/1/versions?order=desc&limit=2&cursor=${encodeURIComponent(descPage.body.nextCursor)}`)
  t.equal(second.status, 200)
  t.strictSame(second.body.items.map((v: any) => v.transactionId), [ascIds[4], ascIds[3]])

  // Garbage cursors and a cursor of another list.
  assertProblem(t, await h.get('/entities/article/1/versions?cursor=not-a-cursor'), 400, 'a garbage cursor')
  assertProblem(t, await h.get(`/entities/article/1/versions?cursor=${Buffer.from('{"a":1}').toString('base64url')}`), 400, 'a well-encoded but foreign cursor')
  const txPage = await h.get('/transactions?limit=1')
  t.type(txPage.body.nextCursor, 'string')
  assertProblem(t, await h.get(`/entities/article/1/versions?cursor=${encodeURIComponent(txPage.body.nextCursor)}`), 400,
    'a cursor of GET /transactions')

  // Limit bounds.
  assertProblem(t, await h.get('/entities/article/1/versions?limit=0'), 400, 'limit=0')
  assertProblem(t, await h.get('/entities/article/1/versions?limit=1001'), 400, 'limit=1001')
  assertProblem(t, await h.get('/entities/article/1/versions?limit=-1'), 400, 'limit=-1')
  assertProblem(t, await h.get('/entities/article/1/versions?limit=ten'), 400, 'limit=ten')
  assertProblem(t, await h.get('/entities/article/1/versions?limit=2.5'), 400, 'limit=2.5')
  const max = await h.get('/entities/article/1/versions?limit=1000')
  t.equal(max.status, 200, 'limit=1000 is allowed')
  const min = await h.get('/entities/article/1/versions?limit=1')
  t.equal(min.status, 200, 'limit=1 is allowed')
  t.equal(min.body.items.length, 1)
})

eachDatabase('Versions: 404 for an unknown type or an entity that never existed; a deleted entity keeps its list', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  assertProblem(t, await h.get('/entities/nosuchtype/1/versions'), 404, 'unknown type')
  assertProblem(t, await h.get('/entities/article/1/versions'), 404, 'an entity that never existed (no versions of the type at all)')

  await record(t, h, [{ type: 'article', op: 'insert', data: { id: 1, title: 'A' } }])
  const gone = await record(t, h, [{ type: 'article', op: 'delete', id: '1' }])
  assertProblem(t, await h.get('/entities/article/2/versions'), 404, 'an entity that never existed (other entities of the type do)')
  assertProblem(t, await h.get('/entities/article/2/versions?order=desc'), 404, 'an entity that never existed, order=desc')
  assertProblem(t, await h.get('/entities/nosuchtype/1/versions?order=desc&limit=10'), 404, 'unknown type with query options')

  // Inserted then deleted in one transaction: it never existed outside that transaction.
  const none = await h.post('/transactions', {
    changes: [{ type: 'article', op: 'insert', data: { id: 3, title: 'Ephemeral' } }, { type: 'article', op: 'delete', id: '3' }]
  })
  t.equal(none.status, 200)
  t.strictSame(none.body, { transaction: null, versions: [] })
  assertProblem(t, await h.get('/entities/article/3/versions'), 404, 'an entity inserted and deleted in one transaction')

  const list = await h.get('/entities/article/1/versions')
  t.equal(list.status, 200, 'a deleted entity still lists its versions')
  t.strictSame(list.body.items.map((v: any) => v.operation), ['insert', 'delete'])
  t.strictSame(list.body.items.map((v: any) => v.endTransactionId), [gone.transaction.id, null], 'the delete is the latest version')
  t.strictSame(list.body.items[1].data, { id: 1, title: 'A' }, 'a delete version holds the last state')
  t.equal(list.body.nextCursor, null)
  const desc = await h.get('/entities/article/1/versions?order=desc')
  t.equal(desc.status, 200)
  t.strictSame(desc.body.items.map((v: any) => v.operation), ['delete', 'insert'])
})

eachDatabase('Versions: one version with previous, next and its transaction', async (t, h) => {
  const { t0, t1, gap, t2, t3, t4, t5 } = await articleHistory(t, h)
  const list = (await h.get('/entities/article/1/versions')).body.items
  t.equal(list.length, 5)
  const txs = [t1, t2, t3, t4, t5].map((x) => x.transaction)

  for (let i = 0; i < list.length; i++) {
    const res = await h.get(`/entities/article/1/versions/${txs[i].id as number}`)
    t.equal(res.status, 200, `version ${i}`)
    t.strictSame(res.body, {
      ...list[i],
      previous: i === 0 ? null : txs[i - 1].id,
      next: i === list.length - 1 ? null : txs[i + 1].id,
      transaction: txs[i]
    }, `version ${i}: the version, its neighbours' transaction ids, and its transaction`)
  }

  // The transaction is the one recorded, with its actor and meta.
  const first = await h.get(`/entities/article/1/versions/${t1.transaction.id as number}`)
  t.equal(first.body.transaction.id, t1.transaction.id)
  t.equal(first.body.transaction.actor, 'alice')
  t.strictSame(first.body.transaction.meta, { reason: 'create', ip: '10.0.0.1' })
  t.equal(Date.parse(first.body.transaction.issuedAt), Date.parse('2026-03-01T10:00:00Z'), 'issuedAt as posted')
  t.type(first.body.transaction.recordedAt, 'string')
  t.notOk(Number.isNaN(Date.parse(first.body.transaction.recordedAt)), 'recordedAt is a time')
  const deletion = await h.get(`/entities/article/1/versions/${t4.transaction.id as number}`)
  t.equal(deletion.body.operation, 'delete')
  t.equal(deletion.body.transaction.actor, 'carol')
  t.strictSame(deletion.body.transaction.meta, { reason: 'spam' })
  const plain = await h.get(`/entities/article/1/versions/${t3.transaction.id as number}`)
  t.equal(plain.body.transaction.actor, null, 'no actor is null')
  t.strictSame(plain.body.transaction.meta, {}, 'no meta is {}')
  t.equal(plain.body.previous, t2.transaction.id)
  t.equal(plain.body.next, t4.transaction.id)
  t.equal(plain.body.endTransactionId, plain.body.next, 'next is the end transaction')

  // A transaction that exists but did not touch this entity, and one that does not exist.
  assertProblem(t, await h.get(`/entities/article/1/versions/${gap.transaction.id as number}`), 404, 'a transaction that touched another entity')
  assertProblem(t, await h.get(`/entities/article/1/versions/${t0.transaction.id as number}`), 404, 'a transaction before the entity existed')
  assertProblem(t, await h.get(`/entities/article/1/versions/${(t5.transaction.id as number) + 1000}`), 404, 'a transaction that does not exist')
  assertProblem(t, await h.get(`/entities/article/99/versions/${t1.transaction.id as number}`), 404, 'an entity that never existed')
  assertProblem(t, await h.get(`/entities/nosuchtype/1/versions/${t1.transaction.id as number}`), 404, 'an unknown type')
  assertProblem(t, await h.get('/entities/article/1/versions/abc'), 400, 'a non-integer transaction id')
  assertProblem(t, await h.get('/entities/article/1/versions/1.5'), 400, 'a fractional transaction id')
})

eachDatabase('Versions: current state and state ?at= a transaction', async (t, h) => {
  const { t0, t1, gap, t2, t3, t4, t5, after } = await articleHistory(t, h)
  const id = (x: any): number => x.transaction.id

  // Current state: transactionId is that of the version holding it, not the latest transaction.
  const now = await h.get('/entities/article/1')
  t.equal(now.status, 200)
  t.strictSame(now.body, { type: 'article', id: '1', data: { id: 1, title: 'C', body: null }, transactionId: id(t5) }, 'current state of article 1')
  const other = await h.get('/entities/article/2')
  t.equal(other.status, 200)
  t.strictSame(other.body, { type: 'article', id: '2', data: { id: 2, title: 'Other 2', body: 'o2' }, transactionId: id(after) })

  const states: Array<[string, number, { data: unknown, transactionId: number } | null]> = [
    ['before creation', id(t0), null],
    ['at creation', id(t1), { data: { id: 1, title: 'A', body: 'x' }, transactionId: id(t1) }],
    ['between versions (another entity changed)', id(gap), { data: { id: 1, title: 'A', body: 'x' }, transactionId: id(t1) }],
    ['after the first update', id(t2), { data: { id: 1, title: 'B', body: 'x' }, transactionId: id(t2) }],
    ['after the second update', id(t3), { data: { id: 1, title: 'B', body: 'y' }, transactionId: id(t3) }],
    ['at the delete', id(t4), null],
    ['after the resurrection', id(t5), { data: { id: 1, title: 'C', body: null }, transactionId: id(t5) }],
    ['at a later transaction of another entity', id(after), { data: { id: 1, title: 'C', body: null }, transactionId: id(t5) }]
  ]
  for (const [what, at, want] of states) {
    const res = await h.get(`/entities/article/1?at=${at}`)
    if (want === null) {
      assertProblem(t, res, 404, `?at= ${what}`)
    } else {
      t.equal(res.status, 200, `?at= ${what}`)
      t.strictSame(res.body, { type: 'article', id: '1', ...want }, `?at= ${what}`)
    }
  }

  // Deleted now: 404, while its past stays readable.
  await record(t, h, [{ type: 'article', op: 'delete', id: '2' }])
  assertProblem(t, await h.get('/entities/article/2'), 404, 'an entity deleted now')
  const past = await h.get(`/entities/article/2?at=${id(gap)}`)
  t.equal(past.status, 200, 'a deleted entity\'s past state')
  t.strictSame(past.body.data, { id: 2, title: 'Other 2', body: 'o' })
  t.equal(past.body.transactionId, id(gap))

  assertProblem(t, await h.get('/entities/article/99'), 404, 'an entity that never existed')
  assertProblem(t, await h.get(`/entities/article/99?at=${id(t1)}`), 404, 'an entity that never existed, ?at=')
  assertProblem(t, await h.get('/entities/nosuchtype/1'), 404, 'an unknown type')
  assertProblem(t, await h.get('/entities/article/1?at=abc'), 400, '?at= not an integer')
  assertProblem(t, await h.get('/entities/article/1?at=0'), 400, '?at=0 is not a transaction id')
})

eachDatabase('Versions: the changeset between two transactions', async (t, h) => {
  const { t0, t1, gap, t2, t3, t4, t5 } = await articleHistory(t, h)
  const id = (x: any): number => x.transaction.id
  const changeset = async (from: number, to: number): Promise<Reply> => await h.get(`/entities/article/1/changeset?from=${from}&to=${to}`)

  const cases: Array<[string, number, number, Record<string, unknown>]> = [
    ['over two updates', id(t1), id(t3), { title: ['A', 'B'], body: ['x', 'y'] }],
    ['over two updates, backwards', id(t3), id(t1), { title: ['B', 'A'], body: ['y', 'x'] }],
    ['one update, from a transaction that did not touch it', id(gap), id(t2), { title: ['A', 'B'] }],
    ['the same state', id(t1), id(gap), {}],
    ['the same transaction', id(t3), id(t3), {}],
    ['from before creation', id(t0), id(t1), { id: [null, 1], title: [null, 'A'], body: [null, 'x'] }],
    ['to before creation', id(t2), id(t0), { id: [1, null], title: ['B', null], body: ['x', null] }],
    ['across the delete', id(t3), id(t4), { id: [1, null], title: ['B', null], body: ['y', null] }],
    ['from the delete to the resurrection', id(t4), id(t5), { id: [null, 1], title: [null, 'C'] }],
    ['across delete and resurrection', id(t2), id(t5), { title: ['B', 'C'], body: ['x', null] }],
    ['across delete and resurrection, backwards', id(t5), id(t2), { title: ['C', 'B'], body: [null, 'x'] }],
    ['both before creation', id(t0), id(t0), {}]
  ]
  for (const [what, from, to, want] of cases) {
    const res = await changeset(from, to)
    t.equal(res.status, 200, what)
    t.strictSame(res.body, want, `changeset ${what}`)
  }

  assertProblem(t, await h.get(`/entities/article/99/changeset?from=${id(t1)}&to=${id(t5)}`), 404, 'an entity that never existed')
  assertProblem(t, await h.get(`/entities/nosuchtype/1/changeset?from=${id(t1)}&to=${id(t5)}`), 404, 'an unknown type')
  assertProblem(t, await h.get(`/entities/article/1/changeset?to=${id(t5)}`), 400, 'from missing')
  assertProblem(t, await h.get(`/entities/article/1/changeset?from=${id(t1)}`), 400, 'to missing')
  assertProblem(t, await h.get('/entities/article/1/changeset'), 400, 'both missing')
  assertProblem(t, await h.get(`/entities/article/1/changeset?from=first&to=${id(t5)}`), 400, 'from not an integer')
})
