import t, { type Test } from 'tap'
import { approximateJsonSize, jsonEqual, jsonTextDepth, mergeFields, omitFields, setField, type JsonObject } from '../../src/versioning/json.js'

/** An object whose own `__proto__` field holds data, as JSON.parse produces it. */
const withProto = (): JsonObject => JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "a": 1}')

/** Asserts that `object` keeps `key` as an own, enumerable data field and its prototype is Object.prototype. */
function assertPlainField (tt: Test, object: JsonObject, key: string, expected: unknown): void {
  tt.ok(Object.hasOwn(object, key), `${key} is an own field`)
  tt.ok(Object.keys(object).includes(key), `${key} is enumerable`)
  tt.strictSame(Object.getOwnPropertyDescriptor(object, key)?.value, expected, `${key} holds the data`)
  tt.equal(Object.getPrototypeOf(object), Object.prototype, 'prototype untouched')
}

function assertNotPolluted (tt: Test): void {
  tt.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')
}

t.test('jsonEqual', async (t) => {
  t.ok(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), 'objects compared by keys, not key order')
  t.ok(jsonEqual({ a: { x: [1, { y: null }] } }, { a: { x: [1, { y: null }] } }), 'nested equal values')
  t.notOk(jsonEqual([1, 2], [2, 1]), 'array order matters')
  t.notOk(jsonEqual([1], [1, 1]), 'array length matters')
  t.notOk(jsonEqual(1, '1'), 'number is not its string')
  t.notOk(jsonEqual(0, false), 'zero is not false')
  t.notOk(jsonEqual(null, {}), 'null is not an empty object')
  t.notOk(jsonEqual({}, []), 'object is not an array')
  t.notOk(jsonEqual([], {}), 'array is not an object')
  t.notOk(jsonEqual({ a: null }, {}), 'a null field is not a missing field in JSON')
  t.notOk(jsonEqual({ a: 1 }, { b: 1 }), 'same size, other keys')
  t.notOk(jsonEqual({ a: 1 }, { a: 1, b: 2 }), 'extra key')
  t.notOk(jsonEqual({ a: { b: 1 } }, { a: { b: 2 } }), 'nested difference')
  t.ok(jsonEqual(withProto(), withProto()), '__proto__ fields compared as data')
  t.notOk(jsonEqual(withProto(), JSON.parse('{"__proto__": {"polluted": false}, "constructor": {"prototype": {"polluted": true}}, "a": 1}')),
    'a different __proto__ field value differs')
  t.notOk(jsonEqual({ a: 1 }, JSON.parse('{"__proto__": 1}')), 'a __proto__ field is not the same as another key')
  t.notOk(jsonEqual(JSON.parse('{"__proto__": {}}'), { a: 1 }), 'a __proto__ field is not read from the prototype')
})

t.test('setField keeps __proto__ and constructor as plain data', async (t) => {
  const target: JsonObject = {}
  setField(target, '__proto__', { polluted: true })
  setField(target, 'constructor', 'c')
  assertPlainField(t, target, '__proto__', { polluted: true })
  assertPlainField(t, target, 'constructor', 'c')
  assertNotPolluted(t)
  setField(target, 'constructor', 'd')
  t.equal(Object.getOwnPropertyDescriptor(target, 'constructor')?.value, 'd', 'a field can be set again')
  t.strictSame(JSON.parse(JSON.stringify(target)), JSON.parse('{"__proto__": {"polluted": true}, "constructor": "d"}'), 'serialised as data')
})

t.test('mergeFields', async (t) => {
  const base: JsonObject = { a: 1, b: 2, c: { x: 1 } }
  const merged = mergeFields(base, { b: null, d: 4 })
  t.strictSame(merged, { a: 1, b: null, c: { x: 1 }, d: 4 }, 'patch laid over base; null sets null; others kept')
  t.strictSame(base, { a: 1, b: 2, c: { x: 1 } }, 'base is not changed')
  t.not(merged, base, 'a new object')

  const fromPatch = mergeFields({ a: 0 }, withProto())
  assertPlainField(t, fromPatch, '__proto__', { polluted: true })
  assertPlainField(t, fromPatch, 'constructor', { prototype: { polluted: true } })
  t.equal(fromPatch.a, 1, 'patch overrides base')
  const fromBase = mergeFields(withProto(), { a: 2 })
  assertPlainField(t, fromBase, '__proto__', { polluted: true })
  t.equal(fromBase.a, 2)
  assertNotPolluted(t)
})

t.test('omitFields', async (t) => {
  const object: JsonObject = { a: 1, b: 2, c: 3 }
  t.strictSame(omitFields(object, ['b', 'missing']), { a: 1, c: 3 }, 'named fields left out')
  t.strictSame(object, { a: 1, b: 2, c: 3 }, 'input not changed')
  t.strictSame(omitFields(object, []), object, 'nothing to omit')

  const kept = omitFields(withProto(), ['a'])
  assertPlainField(t, kept, '__proto__', { polluted: true })
  assertPlainField(t, kept, 'constructor', { prototype: { polluted: true } })
  t.notOk(Object.hasOwn(kept, 'a'))
  const dropped = omitFields(withProto(), ['__proto__', 'constructor'])
  t.strictSame(Object.keys(dropped), ['a'], '__proto__ and constructor can be omitted like any field')
  assertNotPolluted(t)
})

t.test('jsonTextDepth', async (t) => {
  const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n)
  t.equal(jsonTextDepth('1'), 0, 'a scalar has no nesting')
  t.equal(jsonTextDepth('"x"'), 0)
  t.equal(jsonTextDepth('{}'), 1)
  t.equal(jsonTextDepth('[]'), 1)
  t.equal(jsonTextDepth('{"a":[1,{"b":2}]}'), 3, 'objects and arrays both count')
  t.equal(jsonTextDepth('[[1],[2],{"a":3}]'), 2, 'siblings do not add up')
  t.equal(jsonTextDepth(nest(64)), 64)
  t.equal(jsonTextDepth(nest(65)), 65)
  t.equal(jsonTextDepth('{"a":"[[[{{{"}'), 1, 'brackets inside strings are skipped')
  t.equal(jsonTextDepth(JSON.stringify({ a: 'quote " [[[' })), 1, 'an escaped quote does not end the string')
  t.equal(jsonTextDepth(JSON.stringify(['\\', [[1]]])), 3, 'an escaped backslash does not escape the closing quote')
  t.equal(jsonTextDepth(JSON.stringify({ '[[[': [1] })), 2, 'brackets inside keys are skipped')
})

t.test('approximateJsonSize', async (t) => {
  const samples: unknown[] = [
    { id: 1, title: 'Article 1', status: 'draft', views: 0, body: 'x'.repeat(200) },
    { nested: { list: [1, 2, 'three', null, true], deep: { a: { b: { c: 'd' } } } } },
    ['a', 'bb', { c: 'ccc' }],
    { [`${'k'.repeat(50)}`]: 'v'.repeat(1000) }
  ]
  for (const value of samples) {
    const exact = JSON.stringify(value).length
    const approx = approximateJsonSize(value)
    t.ok(approx >= exact * 0.5 && approx <= exact * 2, `within 2× of the JSON length (${approx} for ${exact})`)
  }
  t.ok(approximateJsonSize({ text: 'x'.repeat(10_000) }) > 10_000, 'long strings count their length')
})
