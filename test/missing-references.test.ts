import { eachDatabase, type Harness } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'

// A transaction id that does not exist is 404 wherever it is given (to, at, from, a path);
// an unknown query parameter is 400. Neither changes anything.

async function article (h: Harness): Promise<{ first: number, second: number }> {
  await h.put('/entity-types/article', {})
  const first = (await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 1, name: 'a' } }] })).body.transaction.id
  const second = (await h.post('/transactions', { changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'b' } }] })).body.transaction.id
  return { first, second }
}

eachDatabase('a transaction id that does not exist is 404 in to, at, from and paths', async (t, h) => {
  const { first, second } = await article(h)
  const missing = second + 1000
  const revert = await h.post('/entities/article/1/revert', { to: missing })
  assertProblem(t, revert, 404, 'entity revert to a missing transaction')
  t.equal(revert.body.detail, `transaction ${missing} does not exist`)
  const dryRun = await h.post('/entities/article/1/revert', { to: missing, dryRun: true })
  assertProblem(t, dryRun, 404, 'dry run to a missing transaction')

  const at = await h.get(`/entities/article/1?at=${missing}`)
  assertProblem(t, at, 404, '?at= a missing transaction')
  t.equal(at.body.detail, `transaction ${missing} does not exist`)
  assertProblem(t, await h.get(`/entities/article/1/changeset?from=${first}&to=${missing}`), 404, 'changeset to a missing transaction')
  assertProblem(t, await h.get(`/entities/article/1/changeset?from=${missing}&to=${second}`), 404, 'changeset from a missing transaction')
  assertProblem(t, await h.get(`/entities/article/1/versions/${missing}`), 404, 'version at a missing transaction')
  assertProblem(t, await h.get(`/transactions/${missing}`), 404, 'a missing transaction')
  assertProblem(t, await h.post(`/transactions/${missing}/revert`, {}), 404, 'revert of a missing transaction')
  t.equal(await h.count('transactions'), 2, 'nothing recorded')

  // Existing transactions of other entities are fine: the state then is what it was.
  const other = (await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 2, name: 'x' } }] })).body.transaction.id
  const then = await h.get(`/entities/article/1?at=${other}`)
  t.equal(then.status, 200)
  t.strictSame(then.body, { type: 'article', id: '1', data: { id: 1, name: 'b' }, transactionId: second })
})

eachDatabase('an unknown query parameter is 400 and names the parameter', async (t, h) => {
  const { first } = await article(h)
  for (const url of [
    '/entities/article/1?relation=author',
    '/entities/article/1/versions?limt=5',
    `/entities/article/1/versions/${first}?relation=author`,
    `/entities/article/1/changeset?from=${first}&to=${first}&order=asc`,
    '/transactions?actr=me',
    '/entity-types?page=2',
    '/entity-types/article/revisions?foo=1',
    `/transactions/${first}?x=1`,
    '/entity-types/article?x=1',
    '/api-keys?pge=2',
    '/health?verbose=1'
  ]) {
    const res = await h.get(url)
    assertProblem(t, res, 400, url)
    const name = new URL(url, 'http://x').searchParams
    const unknown = [...name.keys()].find((k) => !['from', 'to'].includes(k))!
    t.match(res.body.detail, unknown, `${url}: the detail names "${unknown}"`)
  }
  for (const [method, url, body] of [
    ['POST', '/transactions?x=1', { changes: [] }], ['PUT', '/entity-types/other?x=1', {}], ['POST', `/transactions/${first}/revert?x=1`, { dryRun: true }]
  ] as const) {
    const res = await h.request(method, url, body)
    assertProblem(t, res, 400, `${method} ${url}`)
    t.match(res.body.detail, '"x"', `${method} ${url}: the detail names "x"`)
  }
  t.equal((await h.get('/entity-types/other')).status, 404, 'the refused PUT registered nothing')
})

/**
 * Statements since the last reset, leaving out a reload of the type definitions: they are kept
 * for 1 s, so on a loaded machine a reload falls between two writes by chance.
 */
const statementsBesideDefinitions = (h: Harness): number => h.queries.filter((q) => !/from "?entity_types"?/.test(q)).length

eachDatabase('a revert keeps the latest-state hints current: the next write reads nothing and skips no id', async (t, h) => {
  const { first, second } = await article(h)
  const revert = await h.post('/entities/article/1/revert', { to: first })
  t.equal(revert.status, 201)
  t.equal(revert.body.transaction.id, second + 1)
  h.resetQueries()
  const next = await h.post('/transactions', { changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'c' } }] })
  t.equal(next.status, 201)
  t.equal(next.body.transaction.id, second + 2, 'no transaction id skipped')
  t.equal(statementsBesideDefinitions(h), 1, 'one statement: the reverted state came from the hints')
  t.strictSame(next.body.versions[0].changeset, { name: ['a', 'c'] })
  const txRevert = await h.post(`/transactions/${next.body.transaction.id}/revert`, {})
  t.equal(txRevert.status, 201)
  h.resetQueries()
  const after = await h.post('/transactions', { changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'd' } }] })
  t.equal(after.body.transaction.id, txRevert.body.transaction.id + 1, 'no transaction id skipped after a transaction revert')
  t.equal(statementsBesideDefinitions(h), 1, 'one statement after a transaction revert')
  t.strictSame(after.body.versions[0].changeset, { name: ['a', 'd'] })
})
