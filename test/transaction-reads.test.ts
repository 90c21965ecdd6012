import type { Test } from 'tap'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { allPages, assertProblem } from './helpers/assertions.js'
import { ins, record } from './helpers/changes.js'

/**
 * Six transactions, a day apart (explicit issuedAt), by alice, bob or nobody, touching
 * articles, comments or both. Answers the posted transactions T1..T6 as recorded.
 */
async function history (t: Test, h: Harness): Promise<any[]> {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.put('/entity-types/comment', {})).status, 201)
  t.equal((await h.put('/entity-types/tag', {})).status, 201)
  const bodies = [
    { actor: 'alice', issuedAt: '2026-01-01T00:00:00Z', changes: [{ type: 'article', op: 'insert', data: { id: 1, title: 'One' } }] },
    { actor: 'bob', issuedAt: '2026-01-02T00:00:00Z', changes: [{ type: 'comment', op: 'insert', data: { id: 1, text: 'first' } }] },
    {
      actor: 'alice',
      issuedAt: '2026-01-03T00:00:00Z',
      meta: { reason: 'edit form', remoteAddr: '10.1.2.3' },
      changes: [
        { type: 'comment', op: 'insert', data: { id: 2, text: 'second' } },
        { type: 'article', op: 'update', id: '1', data: { title: 'One!' } },
        { type: 'comment', op: 'update', id: '2', data: { text: 'second!' } }
      ]
    },
    { actor: 'bob', issuedAt: '2026-01-04T00:00:00Z', changes: [{ type: 'article', op: 'insert', data: { id: 2, title: 'Two' } }] },
    { issuedAt: '2026-01-05T00:00:00Z', changes: [{ type: 'comment', op: 'update', id: '1', data: { text: 'first!' } }] },
    {
      actor: 'alice',
      issuedAt: '2026-01-06T00:00:00Z',
      changes: [
        { type: 'article', op: 'update', id: '2', data: { title: 'Two!' } },
        { type: 'article', op: 'delete', id: '1' }
      ]
    }
  ]
  const recorded: any[] = []
  for (const { changes, ...extra } of bodies) recorded.push(await record(t, h, changes, extra))
  return recorded.map((r) => r.transaction)
}

eachDatabase('Transactions: newest first, paginated', async (t, h) => {
  const txs = await history(t, h)
  // A transaction that changes nothing is not recorded and not listed.
  const noop = await h.post('/transactions', { actor: 'alice', issuedAt: '2026-01-07T00:00:00Z', changes: [{ type: 'article', op: 'update', id: '2', data: { title: 'Two!' } }] })
  t.equal(noop.status, 200)
  t.strictSame(noop.body, { transaction: null, versions: [] })

  const list = await h.get('/transactions')
  t.equal(list.status, 200)
  t.strictSame(list.body, { items: [...txs].reverse(), nextCursor: null }, 'every recorded transaction, newest first, as recorded')
  for (const item of list.body.items) t.notOk('versions' in item, `transaction ${item.id as number} in a list has no versions member`)
  const ids: number[] = list.body.items.map((x: any) => x.id)
  t.strictSame(ids, [...ids].sort((a, b) => b - a), 'ids descending')
  t.equal(list.body.items[0].actor, 'alice')
  t.equal(list.body.items[1].actor, null, 'no actor is null')
  t.strictSame(list.body.items[3].meta, { reason: 'edit form', remoteAddr: '10.1.2.3' }, 'meta as posted')
  t.strictSame(list.body.items.map((x: any) => Date.parse(x.issuedAt)),
    [6, 5, 4, 3, 2, 1].map((d) => Date.parse(`2026-01-0${d}T00:00:00Z`)), 'issuedAt as posted')

  for (const limit of [1, 2, 4, 6, 7]) {
    const pages = await allPages(t, h, `/transactions?limit=${limit}`)
    t.strictSame(pages.flatMap((p) => p.items.map((x: any) => x.id)), ids, `limit=${limit}: every transaction once, newest first`)
    t.strictSame(pages.map((p) => p.items.length), Array.from({ length: Math.ceil(6 / limit) }, (_, i) => Math.min(limit, 6 - i * limit)),
      `limit=${limit}: full pages then the rest, no empty page`)
    t.equal(pages.at(-1)?.nextCursor, null, `limit=${limit}: nextCursor null at the end`)
  }

  // A transaction recorded while paging shows up on a new first page, not in the middle of the old pages.
  const first = await h.get('/transactions?limit=2')
  await record(t, h, [ins('tag', { id: 'new' })])
  const rest = await allPages(t, h, '/transactions?limit=2', first.body.nextCursor)
  t.strictSame([...first.body.items, ...rest.flatMap((p) => p.items)].map((x: any) => x.id), ids, 'a cursor keeps its place')

  assertProblem(t, await h.get('/transactions?limit=0'), 400, 'limit=0')
  assertProblem(t, await h.get('/transactions?limit=1001'), 400, 'limit=1001')
  assertProblem(t, await h.get('/transactions?cursor=garbage'), 400, 'a garbage cursor')
  const versionsPage = await h.get('/entities/article/2/versions?limit=1')
  t.type(versionsPage.body.nextCursor, 'string')
  assertProblem(t, await h.get(`/transactions?cursor=${encodeURIComponent(versionsPage.body.nextCursor)}`), 400, 'a cursor of a versions list')
})

eachDatabase('Transactions: filters by actor, type, since and until, alone and combined', async (t, h) => {
  const [T1, T2, T3, T4, T5, T6] = (await history(t, h)).map((x) => x.id as number)
  const ids = async (query: string): Promise<number[] | undefined> => {
    const pages = await allPages(t, h, `/transactions?${query}`)
    if (pages.length === 0) return undefined
    return pages.flatMap((p) => p.items.map((x: any) => x.id))
  }
  const cases: Array<[string, number[]]> = [
    ['actor=alice', [T6!, T3!, T1!]],
    ['actor=bob', [T4!, T2!]],
    ['actor=nobody', []],
    ['actor=Alice', []],
    ['type=article', [T6!, T4!, T3!, T1!]],
    ['type=comment', [T5!, T3!, T2!]],
    ['type=tag', []],
    ['since=2026-01-03T00:00:00Z', [T6!, T5!, T4!, T3!]],
    ['since=2026-01-03T00:00:00.001Z', [T6!, T5!, T4!]],
    ['since=2026-01-03T02:00:00%2B02:00', [T6!, T5!, T4!, T3!]],
    ['until=2026-01-03T00:00:00Z', [T2!, T1!]],
    ['until=2026-01-03T00:00:00.001Z', [T3!, T2!, T1!]],
    ['until=2026-01-02T19:00:00-05:00', [T2!, T1!]],
    ['since=2026-01-02T00:00:00Z&until=2026-01-05T00:00:00Z', [T4!, T3!, T2!]],
    ['since=2026-01-04T00:00:00Z&until=2026-01-04T00:00:00Z', []],
    ['since=2025-01-01T00:00:00Z', [T6!, T5!, T4!, T3!, T2!, T1!]],
    ['until=2025-01-01T00:00:00Z', []],
    ['actor=alice&type=article', [T6!, T3!, T1!]],
    ['actor=alice&type=comment', [T3!]],
    ['actor=bob&type=comment', [T2!]],
    ['type=comment&since=2026-01-03T00:00:00Z', [T5!, T3!]],
    ['actor=alice&type=article&since=2026-01-02T00:00:00Z', [T6!, T3!]],
    ['actor=alice&type=article&since=2026-01-02T00:00:00Z&until=2026-01-06T00:00:00Z', [T3!]],
    ['actor=bob&type=article&until=2026-01-04T00:00:00Z', []]
  ]
  for (const [query, want] of cases) {
    t.strictSame(await ids(query), want, `GET /transactions?${query}`)
  }

  // Filtered lists are paginated like the full list.
  for (const [query, want] of [['type=article', [T6, T4, T3, T1]], ['actor=alice&since=2026-01-02T00:00:00Z', [T6, T3]]] as const) {
    const pages = await allPages(t, h, `/transactions?${query}&limit=1`)
    t.strictSame(pages.flatMap((p) => p.items.map((x: any) => x.id)), want, `${query}, one per page`)
    t.equal(pages.length, want.length, `${query}, one per page: no empty last page`)
    t.equal(pages.at(-1)?.nextCursor, null)
  }
  // The filtered items are whole transactions.
  const alice = await h.get('/transactions?actor=alice&type=comment')
  t.strictSame(alice.body.items[0].meta, { reason: 'edit form', remoteAddr: '10.1.2.3' })
  t.equal(Date.parse(alice.body.items[0].issuedAt), Date.parse('2026-01-03T00:00:00Z'))

  assertProblem(t, await h.get('/transactions?since=yesterday'), 400, 'since not a time')
  assertProblem(t, await h.get('/transactions?since=2026-13-01T00:00:00Z'), 400, 'since not a date')
  assertProblem(t, await h.get('/transactions?until=later'), 400, 'until not a time')
  assertProblem(t, await h.get('/transactions?since=2026-01-03T00:00:00Z&until=nope'), 400, 'until not a time with a valid since')
})

eachDatabase('Transactions: one transaction with its versions in order of first touch', async (t, h) => {
  const txs = await history(t, h)
  const [T1, , T3, , , T6] = txs

  // T3 touched comment 2, then article 1, then comment 2 again: two versions, comment 2 first.
  const three = await h.get(`/transactions/${T3.id as number}`)
  t.equal(three.status, 200)
  const { versions, ...transaction } = three.body
  t.strictSame(transaction, T3, 'the transaction as recorded, with its actor, meta and times')
  t.strictSame(versions.map((v: any) => [v.type, v.id, v.operation]), [['comment', '2', 'insert'], ['article', '1', 'update']],
    'one version per entity, in the order the entities were first touched')
  t.strictSame(versions[0].data, { id: 2, text: 'second!' }, 'the insert holds the final state')
  t.strictSame(versions[0].changeset, { id: [null, 2], text: [null, 'second!'] })
  t.strictSame(versions[1].changeset, { title: ['One', 'One!'] })
  // The versions are the entities' versions, endTransactionId included (article 1 changed again in T6).
  const article = (await h.get('/entities/article/1/versions')).body.items
  const comment = (await h.get('/entities/comment/2/versions')).body.items
  t.strictSame(versions[1], article.find((v: any) => v.transactionId === T3.id), 'the same version as the entity\'s list shows')
  t.strictSame(versions[0], comment.find((v: any) => v.transactionId === T3.id), 'the same version as the entity\'s list shows')
  t.equal(versions[1].endTransactionId, T6.id, 'endTransactionId is the next version\'s transaction')
  t.equal(versions[0].endTransactionId, null, 'the latest version has no end')
  t.strictSame(versions.map((v: any) => v.transactionId), [T3.id, T3.id])

  const one = await h.get(`/transactions/${T1.id as number}`)
  t.equal(one.status, 200)
  t.strictSame(one.body, { ...T1, versions: [article[0]] })

  const six = await h.get(`/transactions/${T6.id as number}`)
  t.equal(six.status, 200)
  t.strictSame(six.body.versions.map((v: any) => [v.type, v.id, v.operation]), [['article', '2', 'update'], ['article', '1', 'delete']])

  assertProblem(t, await h.get(`/transactions/${(T6.id as number) + 1000}`), 404, 'an unknown transaction id')
  assertProblem(t, await h.get('/transactions/abc'), 400, 'a non-integer id')
  assertProblem(t, await h.get('/transactions/1.5'), 400, 'a fractional id')
  assertProblem(t, await h.get('/transactions/-3'), 400, 'a negative id')
})
