import { eachDatabase } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { ins, registerArticle, upd } from './helpers/changes.js'
import { listedTransactionIds, snapshot } from './helpers/store.js'

// API.md, "Recording changes": the Idempotency-Key header of POST /transactions.

eachDatabase('Idempotency-Key: a retry replays the first answer and records nothing; another body is 422', async (t, h) => {
  await registerArticle(t, h)
  const body = { actor: 'a', changes: [ins('article', { id: 1, name: 'A' })] }
  const first = await h.post('/transactions', body, { 'idempotency-key': 'key-1' })
  t.equal(first.status, 201)
  t.not(first.headers['idempotent-replayed'], 'true', 'the first answer is not a replay')
  const after = await snapshot(h)
  const listed = await listedTransactionIds(h)

  const retry = await h.post('/transactions', body, { 'idempotency-key': 'key-1' })
  t.equal(retry.status, first.status, 'same status')
  t.strictSame(retry.body, first.body, 'same body')
  t.equal(retry.headers['idempotent-replayed'], 'true', 'Idempotent-Replayed: true')
  t.strictSame(await snapshot(h), after, 'the retry recorded nothing')
  t.strictSame(await listedTransactionIds(h), listed)
  t.equal((await h.get('/entities/article/1/versions')).body.items.length, 1)

  const other = await h.post('/transactions', { actor: 'a', changes: [ins('article', { id: 2, name: 'B' })] }, { 'idempotency-key': 'key-1' })
  assertProblem(t, other, 422, 'same key, another body')
  t.strictSame(await snapshot(h), after, 'the 422 recorded nothing')
  t.equal((await h.get('/entities/article/2')).status, 404)

  // Without the key, the same body is a new request (and here a conflict).
  assertProblem(t, await h.post('/transactions', body), 409, 'the same body without a key')
  // Another key with a new body is recorded.
  t.equal((await h.post('/transactions', { changes: [ins('article', { id: 3 })] }, { 'idempotency-key': 'key-2' })).status, 201)

  // A recorded "nothing changed" answer replays too.
  const noop = { changes: [upd('article', '1', { name: 'A' })] }
  const n1 = await h.post('/transactions', noop, { 'idempotency-key': 'key-3' })
  t.equal(n1.status, 200)
  const n2 = await h.post('/transactions', noop, { 'idempotency-key': 'key-3' })
  t.equal(n2.status, 200)
  t.strictSame(n2.body, { transaction: null, versions: [] })
  t.equal(n2.headers['idempotent-replayed'], 'true')

  // Keys are at most 255 characters.
  const ok255 = await h.post('/transactions', { changes: [ins('article', { id: 4 })] }, { 'idempotency-key': 'k'.repeat(255) })
  t.equal(ok255.status, 201, 'a 255-character key')
  const before256 = await snapshot(h)
  assertProblem(t, await h.post('/transactions', { changes: [ins('article', { id: 5 })] }, { 'idempotency-key': 'k'.repeat(256) }), 400, 'a 256-character key')
  t.strictSame(await snapshot(h), before256)
})
