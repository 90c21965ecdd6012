import t from 'tap'
import { MAX_KEY_LENGTH, compareByIds, entityKey } from '../../src/versioning/keys.js'
import type { JsonObject, JsonValue } from '../../src/versioning/json.js'
import { throwsKind } from './helpers.js'

t.test('entityKey: the string form of the id fields', async (t) => {
  t.equal(entityKey(['id'], { id: 1, name: 'x' }, 'article'), '1')
  t.equal(entityKey(['id'], { id: 'abc' }, 'article'), 'abc')
  t.equal(entityKey(['id'], { id: -3 }, 'article'), '-3', 'negative integers are integers')
  t.equal(entityKey(['a', 'b'], { b: 3, a: 7 }, 'pair'), '7,3', 'joined by "," in idFields order')
  t.equal(entityKey(['b', 'a'], { b: 3, a: 7 }, 'pair'), '3,7')
  t.equal(entityKey(['a', 'b'], { a: 'x', b: 2 }, 'pair'), 'x,2', 'strings and integers mix')
  t.equal(entityKey(['id'], { id: 'a,b' }, 'article'), 'a,b', '"," is only rejected for composite keys')
})

t.test('entityKey rejects what is not a string or an integer id', async (t) => {
  const bad: Array<[string, JsonObject]> = [
    ['missing', { name: 'x' }],
    ['null', { id: null }],
    ['fraction', { id: 1.5 }],
    ['boolean', { id: true }],
    ['object', { id: { n: 1 } }],
    ['array', { id: [1] }]
  ]
  for (const [what, data] of bad) throwsKind(t, () => entityKey(['id'], data, 'article'), 'invalid-request', what)
  throwsKind(t, () => entityKey(['a', 'b'], { a: 1 }, 'pair'), 'invalid-request', 'one composite field missing')
  throwsKind(t, () => entityKey(['a', 'b'], { a: 'x,y', b: 1 }, 'pair'), 'invalid-request', '"," in a composite key')
  throwsKind(t, () => entityKey(['a', 'b'], { a: 1, b: ',' }, 'pair'), 'invalid-request', '"," in the second field')
  throwsKind(t, () => entityKey(['id'], JSON.parse('{"__proto__": {"id": 1}}'), 'article'), 'invalid-request',
    'an id is not read through __proto__')
})

/** Sorts single-field entities by their `id` values. */
const sortIds = (ids: JsonValue[]): JsonValue[] =>
  ids.map((id) => ({ id })).sort((a, b) => compareByIds(['id'], a, b)).map((o) => o.id as JsonValue)

t.test('compareByIds: numbers numerically before strings, strings by code point', async (t) => {
  t.strictSame(sortIds([10, 9, -1, 100]), [-1, 9, 10, 100], 'numbers numerically, not as text')
  t.strictSame(sortIds(['b', 2, 'a', 1]), [1, 2, 'a', 'b'], 'numbers before strings')
  t.strictSame(sortIds(['10', '9', 5]), [5, '10', '9'], 'numeric-looking strings are strings')
  t.strictSame(sortIds(['b', 'B', 'a', 'ab', '']), ['', 'B', 'a', 'ab', 'b'], 'by code point, prefix first')
  t.strictSame(sortIds(['\u{1F600}', '\uFFFF']), ['\uFFFF', '\u{1F600}'], 'by code point, not UTF-16 unit')
  t.strictSame(sortIds(['é', 'z']), ['z', 'é'], 'not by locale')
  t.equal(compareByIds(['id'], { id: 'x' }, { id: 'x' }), 0)
  t.equal(compareByIds(['id'], { id: 3 }, { id: 3 }), 0)
})

t.test('compareByIds: field by field in idFields order', async (t) => {
  const rows: JsonObject[] = [{ a: 2, b: 1 }, { a: 1, b: 'z' }, { a: 1, b: 2 }, { a: 1, b: 10 }]
  t.strictSame([...rows].sort((x, y) => compareByIds(['a', 'b'], x, y)),
    [{ a: 1, b: 2 }, { a: 1, b: 10 }, { a: 1, b: 'z' }, { a: 2, b: 1 }])
  t.strictSame([...rows].sort((x, y) => compareByIds(['b', 'a'], x, y)),
    [{ a: 2, b: 1 }, { a: 1, b: 2 }, { a: 1, b: 10 }, { a: 1, b: 'z' }])
  t.ok(compareByIds(['a', 'b'], { a: 1, b: 5 }, { a: 2, b: 0 }) < 0, 'first field decides')
  t.ok(compareByIds(['a', 'b'], { a: 1, b: 5 }, { a: 1, b: 4 }) > 0, 'second field breaks a tie')
})

t.test('entityKey: a key longer than MAX_KEY_LENGTH characters is rejected (it must fit in a URL path)', async (t) => {
  t.equal(entityKey(['id'], { id: 'k'.repeat(MAX_KEY_LENGTH) }, 'note'), 'k'.repeat(MAX_KEY_LENGTH))
  throwsKind(t, () => entityKey(['id'], { id: 'k'.repeat(MAX_KEY_LENGTH + 1) }, 'note'), 'invalid-request', 'one character too long')
  throwsKind(t, () => entityKey(['a', 'b'], { a: 'k'.repeat(600), b: 'k'.repeat(600) }, 'pair'), 'invalid-request', 'composite key too long once joined')
})
