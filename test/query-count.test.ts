import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'

/**
 * No N+1: the number of SQL statements a read executes must not depend on how many
 * versions the entity has or how many items are on the page. Two entities of one type,
 * "small" with 5 versions and "big" with 500, are read the same ways and compared.
 */

const SMALL = 5
const BIG = 500

async function measure (h: Harness, url: string): Promise<{ res: Reply, count: number, queries: string[] }> {
  h.resetQueries()
  const res = await h.get(url)
  const queries = [...h.queries]
  return { res, count: queries.length, queries }
}

/**
 * The run with the fewest statements of three: the entity-type definitions are cached for
 * a short time (reloading them is one statement, whatever the entity), so a reload that
 * happens to fall into one run does not count.
 */
async function fewest (h: Harness, url: string): Promise<{ res: Reply, count: number, queries: string[] }> {
  let best = await measure(h, url)
  for (let i = 0; i < 2; i++) {
    const next = await measure(h, url)
    if (next.count < best.count) best = next
  }
  return best
}

eachDatabase('Query count: reads of an entity with 5 versions and one with 500 run the same number of statements', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)

  // One transaction makes at most one version per entity: 500 transactions, the first 5 touching "small" too.
  const insert = await h.post('/transactions', {
    changes: ['small', 'big', 'warm'].map((id) => ({ type: 'article', op: 'insert', data: { id, n: 0, text: `${id} 0` } }))
  })
  t.equal(insert.status, 201)
  let failures = 0
  for (let n = 1; n < BIG; n++) {
    const changes = [{ type: 'article', op: 'update', id: 'big', data: { n, text: `big ${n}` } }]
    if (n < SMALL) changes.push({ type: 'article', op: 'update', id: 'small', data: { n, text: `small ${n}` } })
    if (n < 3) changes.push({ type: 'article', op: 'update', id: 'warm', data: { n, text: `warm ${n}` } })
    const res = await h.post('/transactions', { actor: 'loader', changes })
    if (res.status !== 201) failures++
  }
  t.equal(failures, 0, 'every transaction recorded')

  const all = async (id: string): Promise<any[]> => (await h.get(`/entities/article/${id}/versions?limit=1000`)).body.items
  const versions: Record<string, any[]> = { small: await all('small'), big: await all('big'), warm: await all('warm') }
  t.equal(versions.small!.length, SMALL, 'small has 5 versions')
  t.equal(versions.big!.length, BIG, 'big has 500 versions')

  const firstTx = (id: string): number => versions[id]![0].transactionId
  const middleTx = (id: string): number => versions[id]![Math.floor(versions[id]!.length / 2)].transactionId
  const lastTx = (id: string): number => versions[id]!.at(-1).transactionId
  const secondPageCursor = async (id: string): Promise<string> =>
    (await h.get(`/entities/article/${id}/versions?limit=2`)).body.nextCursor

  interface Read { name: string, url: (id: string) => Promise<string>, check: (id: string, body: any) => void }
  const reads: Read[] = [
    {
      name: 'a versions page, limit 50',
      url: async (id) => `/entities/article/${id}/versions?limit=50`,
      check: (id, body) => { t.equal(body.items.length, Math.min(50, versions[id]!.length), `${id}: page size`) }
    },
    {
      name: 'a versions page, limit 1000',
      url: async (id) => `/entities/article/${id}/versions?limit=1000`,
      check: (id, body) => { t.equal(body.items.length, versions[id]!.length, `${id}: every version`) }
    },
    {
      name: 'a versions page, newest first, limit 50',
      url: async (id) => `/entities/article/${id}/versions?order=desc&limit=50`,
      check: (id, body) => { t.equal(body.items[0].transactionId, lastTx(id), `${id}: newest first`) }
    },
    {
      name: 'a second versions page, from a cursor',
      url: async (id) => `/entities/article/${id}/versions?limit=2&cursor=${encodeURIComponent(await secondPageCursor(id))}`,
      check: (id, body) => { t.strictSame(body.items.map((v: any) => v.index), [2, 3], `${id}: the second page`) }
    },
    {
      name: 'a version detail',
      url: async (id) => `/entities/article/${id}/versions/${middleTx(id)}`,
      check: (id, body) => {
        t.equal(body.transactionId, middleTx(id), `${id}: the version asked for`)
        t.type(body.previous, 'number', `${id}: previous`)
        t.type(body.next, 'number', `${id}: next`)
        t.equal(body.transaction.id, middleTx(id), `${id}: its transaction`)
      }
    },
    {
      name: 'the latest version\'s detail',
      url: async (id) => `/entities/article/${id}/versions/${lastTx(id)}`,
      check: (id, body) => { t.equal(body.next, null, `${id}: no next`) }
    },
    {
      name: 'the state ?at= a transaction',
      url: async (id) => `/entities/article/${id}?at=${middleTx(id)}`,
      check: (id, body) => { t.equal(body.transactionId, middleTx(id), `${id}: the state then`) }
    },
    {
      name: 'the current state',
      url: async (id) => `/entities/article/${id}`,
      check: (id, body) => { t.equal(body.transactionId, lastTx(id), `${id}: the state now`) }
    },
    {
      name: 'a changeset between the first and the last transaction',
      url: async (id) => `/entities/article/${id}/changeset?from=${firstTx(id)}&to=${lastTx(id)}`,
      check: (id, body) => { t.strictSame(body.text, [`${id} 0`, `${id} ${versions[id]!.length - 1}`], `${id}: the changeset`) }
    }
  ]

  for (const read of reads) {
    // Once on a third entity first, so that nothing the service might load once per process counts.
    const warm = await measure(h, await read.url('warm'))
    t.equal(warm.res.status, 200, `${read.name}: warm-up answered`)

    const urlSmall = await read.url('small')
    const urlBig = await read.url('big')
    const small = await fewest(h, urlSmall)
    const big = await fewest(h, urlBig)
    t.equal(small.res.status, 200, `${read.name} (5 versions) answered`)
    t.equal(big.res.status, 200, `${read.name} (500 versions) answered`)
    read.check('small', small.res.body)
    read.check('big', big.res.body)
    t.ok(small.count > 0, `${read.name}: statements are counted (${small.count})`)
    t.equal(big.count, small.count, `${read.name}: as many statements for 500 versions as for 5`, {
      small: small.queries, big: big.queries
    })
  }

  // Items on a page of transactions: 5 transactions or 500 on the page.
  const few = await fewest(h, '/transactions?limit=5')
  const many = await fewest(h, '/transactions?limit=1000')
  t.equal(few.res.status, 200)
  t.equal(many.res.status, 200)
  t.equal(few.res.body.items.length, 5)
  t.equal(many.res.body.items.length, BIG)
  t.ok(few.count > 0)
  t.equal(many.count, few.count, 'GET /transactions: as many statements for 500 items as for 5')

  const fewTyped = await fewest(h, '/transactions?type=article&actor=loader&limit=5')
  const manyTyped = await fewest(h, '/transactions?type=article&actor=loader&limit=1000')
  t.equal(manyTyped.res.body.items.length, BIG - 1)
  t.equal(manyTyped.count, fewTyped.count, 'GET /transactions?type=&actor=: as many statements for 499 items as for 5')

  // A transaction's versions: one version or three.
  const lastOfBig = await fewest(h, `/transactions/${lastTx('big')}`)
  const firstOfAll = await fewest(h, `/transactions/${firstTx('big')}`)
  t.equal(lastOfBig.res.body.versions.length, 1, 'the last transaction touched big only')
  t.equal(firstOfAll.res.body.versions.length, 3, 'the first transaction inserted all three')
  t.equal(firstOfAll.count, lastOfBig.count, 'GET /transactions/{id}: as many statements for 3 versions as for 1')
})
