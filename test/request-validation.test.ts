import { eachDatabase } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { ins, postChanges, record, registerArticle, upd } from './helpers/changes.js'
import { snapshot } from './helpers/store.js'

// API.md, "Conventions" of every request body: its shape, depth, size, media type and JSON
// syntax; a rejected body is a problem answer and stores nothing.

eachDatabase('malformed changes are 400', async (t, h) => {
  await registerArticle(t, h)
  await record(t, h, [ins('article', { id: 1, name: 'A' })])
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
    ['unknown top-level member', { changes: [upd('article', '1', { name: 'B' })], user: 'x' }],
    ['actor not a string', { actor: 42, changes: [upd('article', '1', { name: 'B' })] }],
    ['meta not an object', { meta: 'x', changes: [upd('article', '1', { name: 'B' })] }],
    ['issuedAt not a time', { issuedAt: 'yesterday', changes: [upd('article', '1', { name: 'B' })] }],
    ['body an array', [upd('article', '1', { name: 'B' })]]
  ]
  for (const [what, body] of bodies) assertProblem(t, await h.post('/transactions', body), 400, what)
  t.strictSame(await snapshot(h), before, 'nothing stored')
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
  t.strictSame(await snapshot(h), before, 'nothing stored')
  // Brackets inside strings are not nesting.
  t.equal((await postChanges(h, [ins('article', { id: 4, text: '['.repeat(100) })])).status, 201, 'brackets in a string')
})

eachDatabase('a body over the limit is 413', async (t, h) => {
  await registerArticle(t, h)
  const small = await postChanges(h, [ins('article', { id: 1, text: 'x'.repeat(1500) })])
  t.equal(small.status, 201, 'under the limit')
  const before = await snapshot(h)
  assertProblem(t, await postChanges(h, [ins('article', { id: 2, text: 'x'.repeat(3000) })]), 413, 'over the limit')
  // The limit counts bytes: 1100 two-byte characters are 2200 bytes.
  assertProblem(t, await postChanges(h, [ins('article', { id: 3, text: 'é'.repeat(1100) })]), 413, 'over the limit in bytes')
  assertProblem(t, await h.put('/entity-types/big', { exclude: Array.from({ length: 300 }, (_, i) => `field_${i}`) }), 413, 'PUT over the limit')
  t.strictSame(await snapshot(h), before, 'nothing stored')
}, { bodyLimit: 2048 })

eachDatabase('a body that is not JSON is 415', async (t, h) => {
  await registerArticle(t, h)
  const before = await snapshot(h)
  const json = JSON.stringify({ changes: [ins('article', { id: 1 })] })
  assertProblem(t, await h.request('POST', '/transactions', json, { 'content-type': 'text/plain' }), 415, 'text/plain')
  assertProblem(t, await h.request('POST', '/transactions', 'changes=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'a form')
  assertProblem(t, await h.request('POST', '/transactions', '<changes/>', { 'content-type': 'application/xml' }), 415, 'XML')
  t.strictSame(await snapshot(h), before, 'nothing stored')
  // application/json with a charset is JSON.
  t.equal((await h.request('POST', '/transactions', json, { 'content-type': 'application/json; charset=utf-8' })).status, 201)
})

eachDatabase('malformed JSON is 400', async (t, h) => {
  await registerArticle(t, h)
  const before = await snapshot(h)
  for (const text of ['{"changes": [', '{changes: []}', '{"changes": [{"type": "article",}]}', 'nope', '{"a":1}}']) {
    assertProblem(t, await h.post('/transactions', text), 400, `body ${JSON.stringify(text)}`)
  }
  t.strictSame(await snapshot(h), before, 'nothing stored')
})
