import { eachDatabase } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, postChanges, record, registerArticle, upd } from './helpers/changes.js'
import { snapshot } from './helpers/store.js'

// API.md, "Conventions" (keys) and "Recording changes": the id fields of an entity, single and composite,
// in the changes of POST /transactions.

eachDatabase('400: an update that changes an id field', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  await record(t, h, [ins('article', { id: 1, name: 'A' }), ins('pair', { a: 7, b: 3, v: 'x' })])
  const before = await snapshot(h)

  assertProblem(t, await postChanges(h, [upd('article', '1', { id: 2 })]), 400, 'id changed')
  assertProblem(t, await postChanges(h, [upd('article', '1', { id: '1', name: 'B' })]), 400, 'id changed from 1 to "1"')
  assertProblem(t, await postChanges(h, [upd('article', '1', { id: null })]), 400, 'id set to null')
  assertProblem(t, await postChanges(h, [upd('pair', '7,3', { b: 4 })]), 400, 'second field of a composite key changed')
  assertProblem(t, await postChanges(h, [upd('pair', '7,3', { a: 8, v: 'y' })]), 400, 'first field of a composite key changed')

  t.strictSame(await snapshot(h), before, 'nothing stored')
  t.strictSame((await h.get('/entities/article/1')).body.data, { id: 1, name: 'A' })
})

eachDatabase('400: insert without its id fields or with an id value that is not a string or an integer', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  const before = await snapshot(h)
  const invalid: Array<[string, Record<string, unknown>]> = [
    ['no id', ins('article', { name: 'A' })],
    ['no data', { type: 'article', op: 'insert' }],
    ['id null', ins('article', { id: null, name: 'A' })],
    ['id an object', ins('article', { id: { n: 1 } })],
    ['id an array', ins('article', { id: [1] })],
    ['id a boolean', ins('article', { id: true })],
    ['id a fraction', ins('article', { id: 1.5 })],
    ['composite key without its second field', ins('pair', { a: 7 })],
    ['composite key without its first field', ins('pair', { b: 3 })],
    ['composite key with an object', ins('pair', { a: 7, b: { x: 3 } })]
  ]
  for (const [what, change] of invalid) assertProblem(t, await postChanges(h, [change]), 400, what)
  t.strictSame(await snapshot(h), before, 'nothing stored')
})

eachDatabase('composite keys: values joined by "," in idFields order; "," inside a composite value is 400', async (t, h) => {
  await registerArticle(t, h)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  t.equal((await h.put('/entity-types/reversed', { idFields: ['b', 'a'] })).status, 201)

  const res = await postChanges(h, [ins('pair', { a: 7, b: 3, v: 'x' }), ins('reversed', { a: 7, b: 3 }), ins('pair', { a: 'x', b: 'y' })])
  t.equal(res.status, 201)
  t.strictSame(res.body.versions.map((v: any) => [v.type, v.id]), [['pair', '7,3'], ['reversed', '3,7'], ['pair', 'x,y']])

  t.strictSame((await h.get('/entities/pair/7,3')).body.data, { a: 7, b: 3, v: 'x' })
  t.equal((await h.get('/entities/pair/7%2C3')).status, 200, 'the "," may be percent-encoded')
  const changed = await postChanges(h, [upd('pair', '7,3', { v: 'y' })])
  t.equal(changed.status, 201)
  t.strictSame(changed.body.versions[0].changeset, { v: ['x', 'y'] })
  t.equal((await postChanges(h, [del('reversed', '3,7')])).status, 201)

  // A single id field may hold a ",".
  const single = await postChanges(h, [ins('article', { id: 'a,b', name: 'comma' })])
  t.equal(single.status, 201)
  t.equal(single.body.versions[0].id, 'a,b')

  const before = await snapshot(h)
  assertProblem(t, await postChanges(h, [ins('pair', { a: 'p,q', b: 1 })]), 400, '"," in the first value of a composite key')
  assertProblem(t, await postChanges(h, [ins('pair', { a: 1, b: 'q,r' })]), 400, '"," in the second value of a composite key')
  assertProblem(t, await postChanges(h, [ins('pair', { a: 'p', b: 1 }), ins('pair', { a: 'p,', b: 2 })]), 400, '"," after a valid change')
  t.strictSame(await snapshot(h), before, 'nothing stored')
})
