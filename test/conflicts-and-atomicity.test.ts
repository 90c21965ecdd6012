import { eachDatabase } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, postChanges, record, registerArticle, upd } from './helpers/changes.js'
import { listedTransactionIds, snapshot } from './helpers/store.js'

// API.md, "Recording changes": a change that conflicts with what is stored (409), names an
// unknown type (404) or is invalid rejects the whole transaction; expectedTransactionId.

eachDatabase('409: insert of an existing entity, update or delete of a missing one; nothing recorded', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [ins('article', { id: 1, name: 'A' })])
  await record(t, h, [ins('article', { id: 2, name: 'B' })])
  await record(t, h, [del('article', '2')])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)

  assertProblem(t, await postChanges(h, [ins('article', { id: 1, name: 'again' })]), 409, 'insert of an existing entity')
  assertProblem(t, await postChanges(h, [upd('article', '99', { name: 'x' })]), 409, 'update of an entity that never existed')
  assertProblem(t, await postChanges(h, [del('article', '99')]), 409, 'delete of an entity that never existed')
  assertProblem(t, await postChanges(h, [upd('article', '2', { name: 'x' })]), 409, 'update of a deleted entity')
  assertProblem(t, await postChanges(h, [del('article', '2')]), 409, 'delete of a deleted entity')
  assertProblem(t, await postChanges(h, [del('article', '1'), del('article', '1')]), 409, 'delete twice in one transaction')

  t.strictSame(await snapshot(h), before, 'nothing stored')
  t.strictSame(await listedTransactionIds(h), listed, 'no transaction listed')
  t.strictSame((await h.get('/entities/article/1')).body.data, { id: 1, name: 'A' })
})

eachDatabase('an unknown type is 404 and rejects the whole transaction', async (t, h) => {
  await registerArticle(t, h)
  const before = await snapshot(h)
  assertProblem(t, await postChanges(h, [ins('ghost', { id: 1 })]), 404, 'unknown type alone')
  assertProblem(t, await postChanges(h, [ins('article', { id: 1, name: 'A' }), ins('ghost', { id: 1 })]), 404, 'unknown type after a valid change')
  assertProblem(t, await postChanges(h, [upd('ghost', '1', { a: 1 })]), 404, 'update of an unknown type')
  t.strictSame(await snapshot(h), before, 'nothing stored')
  assertProblem(t, await h.get('/entities/article/1'), 404, 'the valid change was not applied')
})

eachDatabase('atomicity: one bad change anywhere in the list rejects the whole transaction', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  await record(t, h, [ins('article', { id: 1, name: 'A' })])
  const before = await snapshot(h)
  const listed = await listedTransactionIds(h)
  const good = [ins('article', { id: 2, name: 'B' }), upd('article', '1', { name: 'changed' }), ins('pair', { a: 1, b: 2 })]

  assertProblem(t, await postChanges(h, [...good, upd('article', '99', { name: 'x' })]), 409, 'update of a missing entity last')
  assertProblem(t, await postChanges(h, [...good, ins('article', { id: 1, name: 'dup' })]), 409, 'insert of an existing entity last')
  assertProblem(t, await postChanges(h, [...good, upd('article', '1', { id: 5 })]), 400, 'id change last')
  assertProblem(t, await postChanges(h, [...good, ins('article', { name: 'no id' })]), 400, 'missing id last')
  assertProblem(t, await postChanges(h, [...good, ins('pair', { a: 'x,y', b: 1 })]), 400, 'bad composite value last')
  assertProblem(t, await postChanges(h, [...good, { type: 'article', op: 'upsert', id: '1', data: {} }]), 400, 'unknown op last')

  t.strictSame(await snapshot(h), before, 'row counts unchanged')
  t.strictSame(await listedTransactionIds(h), listed, 'no transaction listed')
  t.strictSame((await h.get('/entities/article/1')).body.data, { id: 1, name: 'A' }, 'article 1 unchanged')
  t.equal((await h.get('/entities/article/2')).status, 404, 'article 2 not inserted')
  t.equal((await h.get('/entities/pair/1,2')).status, 404, 'pair 1,2 not inserted')

  // A rejected request keeps no Idempotency-Key either: the key is free for the corrected request.
  assertProblem(t, await postChanges(h, [...good, del('article', '99')], {}, { 'idempotency-key': 'fix-me' }), 409, 'rejected with a key')
  t.equal(await h.count('idempotency_keys'), before.idempotency_keys, 'the key of a rejected request is not kept')
  const fixed = await postChanges(h, good, {}, { 'idempotency-key': 'fix-me' })
  t.equal(fixed.status, 201, 'the same key with the corrected body is recorded')
})

eachDatabase('expectedTransactionId: recorded when it matches the latest version, 409 otherwise', async (t, h) => {
  await registerArticle(t, h)
  const t1 = (await record(t, h, [ins('article', { id: 1, name: 'A' })])).transaction.id
  const t2 = (await record(t, h, [ins('article', { id: 2, name: 'Z' })])).transaction.id

  const matched = await postChanges(h, [{ ...upd('article', '1', { name: 'B' }), expectedTransactionId: t1 }])
  t.equal(matched.status, 201, 'update at the expected transaction')
  const t3 = matched.body.transaction.id

  const before = await snapshot(h)
  assertProblem(t, await postChanges(h, [{ ...upd('article', '1', { name: 'C' }), expectedTransactionId: t1 }]), 409, 'update with a stale transaction id')
  assertProblem(t, await postChanges(h, [{ ...del('article', '1'), expectedTransactionId: t1 }]), 409, 'delete with a stale transaction id')
  assertProblem(t, await postChanges(h, [{ ...upd('article', '1', { name: 'C' }), expectedTransactionId: t2 }]), 409, 'another entity\'s transaction id')
  assertProblem(t, await postChanges(h, [upd('article', '2', { name: 'Y' }), { ...upd('article', '1', { name: 'C' }), expectedTransactionId: t3 + 100 }]), 409,
    'a mismatch after a valid change')
  t.strictSame(await snapshot(h), before, 'nothing stored')
  t.strictSame((await h.get('/entities/article/1')).body.data, { id: 1, name: 'B' })
  t.strictSame((await h.get('/entities/article/2')).body.data, { id: 2, name: 'Z' })

  const deleted = await postChanges(h, [{ ...del('article', '1'), expectedTransactionId: t3 }])
  t.equal(deleted.status, 201, 'delete at the expected transaction')
  t.equal(deleted.body.versions[0].operation, 'delete')
})
