import t from 'tap'
import { diffStates } from '../../src/versioning/changeset.js'
import type { JsonObject } from '../../src/versioning/json.js'

t.test('from nothing: every non-null field as [null, value]', async (t) => {
  t.strictSame(diffStates(null, { id: 1, name: 'Initial Name', note: null, tags: [] }),
    { id: [null, 1], name: [null, 'Initial Name'], tags: [null, []] })
  t.strictSame(diffStates(null, {}), {})
})

t.test('to nothing: every non-null field as [value, null]', async (t) => {
  t.strictSame(diffStates({ id: 1, name: 'N', note: null, flag: false }, null),
    { id: [1, null], name: ['N', null], flag: [false, null] })
})

t.test('between states: only the fields whose value differs', async (t) => {
  const before: JsonObject = { id: 1, name: 'A', meta: { x: 1, y: 2 }, list: [1, 2], same: 's' }
  t.strictSame(diffStates(before, { ...before, name: 'B' }), { name: ['A', 'B'] })
  t.strictSame(diffStates(before, { ...before, meta: { y: 2, x: 1 } }), {}, 'key order of a value is not a change')
  t.strictSame(diffStates(before, { ...before, list: [2, 1] }), { list: [[1, 2], [2, 1]] }, 'array order is a change')
  t.strictSame(diffStates({ n: 1 }, { n: '1' }), { n: [1, '1'] }, 'a number and its string differ')
  t.strictSame(diffStates({ a: 1 }, { a: null }), { a: [1, null] }, 'set to null')
  t.strictSame(diffStates({ a: 1 }, {}), { a: [1, null] }, 'a field that went away is [old, null]')
  t.strictSame(diffStates({}, { a: 1 }), { a: [null, 1] }, 'a new field is [null, new]')
  t.strictSame(diffStates(before, before), {})
})

t.test('__proto__ and constructor are ordinary field names', async (t) => {
  const after: JsonObject = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}')
  const changeset = diffStates({}, after)
  t.ok(Object.hasOwn(changeset, '__proto__'), '__proto__ is an own member of the changeset')
  t.strictSame(Object.entries(changeset), [['__proto__', [null, { polluted: true }]], ['constructor', [null, 1]]])
  t.equal(Object.getPrototypeOf(changeset), Object.prototype)
  t.strictSame(Object.entries(diffStates(after, {})), [['__proto__', [{ polluted: true }, null]], ['constructor', [1, null]]],
    'a missing __proto__ or constructor field is null, not read from the prototype')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')
})
