import t, { type Test } from 'tap'
import { normalizeDefinition, type EntityTypeDefinition } from '../../src/versioning/entity-type.js'
import type { JsonObject } from '../../src/versioning/json.js'
import { entityRef } from '../../src/versioning/keys.js'
import { planVersions, resolveChanges, type ChangeInput, type PlannedVersion } from '../../src/versioning/unit-of-work.js'
import type { LatestVersion, Operation } from '../../src/versioning/version.js'
import { errorOf, throwsKind } from './helpers.js'

const types = new Map<string, EntityTypeDefinition>([
  ['article', normalizeDefinition({ exclude: ['updated_at'] })],
  ['note', normalizeDefinition({})],
  ['pair', normalizeDefinition({ idFields: ['a', 'b'] })]
])

const insert = (data: JsonObject, type = 'article'): ChangeInput => ({ type, op: 'insert', data })
const update = (id: string, data: JsonObject, expectedTransactionId?: number, type = 'article'): ChangeInput =>
  ({ type, op: 'update', id, data, expectedTransactionId })
const remove = (id: string, expectedTransactionId?: number, type = 'article'): ChangeInput =>
  ({ type, op: 'delete', id, expectedTransactionId })

/** The latest stored version of article "1" (or another entity). */
const stored = (operation: Operation, data: JsonObject, index = 0, transactionId = 10, type = 'article', key = '1'): Map<string, LatestVersion> =>
  new Map([[entityRef(type, key), { operation, data, index, transactionId, hash: 'f'.repeat(64) }]])

const plan = (changes: ChangeInput[], latest = new Map<string, LatestVersion>()): PlannedVersion[] =>
  planVersions(types, resolveChanges(types, changes), latest)

/** The one version a transaction plans (fails the test when there is not exactly one). */
function only (tt: Test, versions: PlannedVersion[]): PlannedVersion {
  tt.equal(versions.length, 1, 'exactly one version')
  return versions[0] ?? { type: '', key: '', operation: 'insert', index: -1, data: {}, changeset: {} }
}

const article = { id: 1, name: 'Initial Name', content: 'Initial Content' }

t.test('resolveChanges checks each change against its type', async (t) => {
  throwsKind(t, () => resolveChanges(types, [insert({ id: 1 }, 'nope')]), 'not-found', 'unknown type')
  throwsKind(t, () => resolveChanges(types, [insert({ name: 'x' })]), 'invalid-request', 'insert without its id field')
  throwsKind(t, () => resolveChanges(types, [insert({ a: 1 }, 'pair')]), 'invalid-request', 'insert without one composite id field')
  throwsKind(t, () => resolveChanges(types, [insert({ a: 'x,y', b: 1 }, 'pair')]), 'invalid-request', '"," in a composite key')
  throwsKind(t, () => resolveChanges(types, [insert({ id: 1.5 })]), 'invalid-request', 'a non-integer number id')
  throwsKind(t, () => resolveChanges(types, [{ type: 'article', op: 'update', data: { name: 'x' } }]), 'invalid-request', 'update without id')
  throwsKind(t, () => resolveChanges(types, [{ type: 'article', op: 'delete' }]), 'invalid-request', 'delete without id')
  throwsKind(t, () => resolveChanges(types, [{ type: 'article', op: 'update', id: '1', data: [1] as unknown as JsonObject }]),
    'invalid-request', 'data that is not an object')
  throwsKind(t, () => resolveChanges(types, [insert({ id: 1 }), insert({ id: 2 }, 'nope')]), 'not-found', 'any bad change rejects all')
  const [resolved] = resolveChanges(types, [insert({ a: 7, b: 3 }, 'pair')])
  t.equal(resolved?.key, '7,3', 'the key of a composite insert')
  t.equal(resolveChanges(types, [{ ...insert(article), id: '1' }])[0]?.key, '1', 'an insert may name its matching id')
  throwsKind(t, () => resolveChanges(types, [{ ...insert(article), id: '2' }]), 'invalid-request', 'an insert id that does not match data')
})

t.test('a plain insert', async (t) => {
  const v = only(t, plan([insert({ ...article, note: null, updated_at: 'now' })]))
  t.strictSame(v, {
    type: 'article', key: '1', operation: 'insert', index: 0,
    data: { ...article, note: null },
    changeset: { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] }
  }, 'null fields are left out of the changeset; excluded fields are never stored')
})

t.test('insert then updates = one insert with the final state', async (t) => {
  const v = only(t, plan([insert(article), update('1', { name: 'Updated Name' }), update('1', { content: null, extra: 2 })]))
  t.equal(v.operation, 'insert')
  t.equal(v.index, 0)
  t.strictSame(v.data, { id: 1, name: 'Updated Name', content: null, extra: 2 })
  t.strictSame(v.changeset, { id: [null, 1], name: [null, 'Updated Name'], extra: [null, 2] })
})

t.test('updates = one update against the previous version', async (t) => {
  const latest = stored('update', { ...article, tags: [1] }, 4, 10)
  const v = only(t, plan([update('1', { name: 'B' }), update('1', { name: 'C', content: null, updated_at: 'x' })], latest))
  t.strictSame(v, {
    type: 'article', key: '1', operation: 'update', index: 5,
    data: { id: 1, name: 'C', content: null, tags: [1] },
    changeset: { name: ['Initial Name', 'C'], content: ['Initial Content', null] }
  }, 'fields left out keep their value; null sets null; excluded fields are left out')
  const back = plan([update('1', { name: 'B' }), update('1', { name: 'Initial Name' })], latest)
  t.strictSame(back, [], 'updates that end where they began make no version')
})

t.test('an update that changes no versioned field makes no version', async (t) => {
  const latest = stored('insert', { ...article, meta: { a: 1, b: [2] } })
  t.strictSame(plan([update('1', { name: 'Initial Name', meta: { b: [2], a: 1 } })], latest), [], 'same values as JSON')
  t.strictSame(plan([update('1', { id: 1 })], latest), [], 'the id field given with its own value')
  t.strictSame(plan([update('1', { updated_at: '2026-01-01' })], latest), [], 'only excluded fields')
  t.strictSame(plan([update('1', {})], latest), [], 'no fields')
})

t.test('update(s) then delete = one delete holding the last state', async (t) => {
  const latest = stored('update', { ...article, note: null }, 2, 10)
  const v = only(t, plan([update('1', { name: 'Last Name' }), update('1', { extra: true }), remove('1')], latest))
  t.strictSame(v, {
    type: 'article', key: '1', operation: 'delete', index: 3,
    data: { ...article, note: null, name: 'Last Name', extra: true },
    changeset: { id: [1, null], name: ['Last Name', null], content: ['Initial Content', null], extra: [true, null] }
  }, 'data includes earlier changes of the transaction; changeset: every non-null field to null')
  const plain = only(t, plan([remove('1')], latest))
  t.strictSame(plain.data, { ...article, note: null }, 'a plain delete holds the state before it')
  t.strictSame(plain.changeset, { id: [1, null], name: ['Initial Name', null], content: ['Initial Content', null] })
})

t.test('insert then delete = no version', async (t) => {
  t.strictSame(plan([insert(article), remove('1')]), [], 'a new entity')
  t.strictSame(plan([insert(article), update('1', { name: 'x' }), remove('1')]), [], 'with an update between')
  t.strictSame(plan([insert(article), remove('1')], stored('delete', article, 1)), [], 'an entity deleted before')
})

t.test('delete then insert = one update (the entity lives on)', async (t) => {
  const latest = stored('insert', { ...article, note: 'n' }, 0, 10)
  const v = only(t, plan([remove('1'), insert({ id: 1, name: 'New Name', content: 'Initial Content', extra: 1 })], latest))
  t.strictSame(v, {
    type: 'article', key: '1', operation: 'update', index: 1,
    data: { id: 1, name: 'New Name', content: 'Initial Content', extra: 1 },
    changeset: { name: ['Initial Name', 'New Name'], note: ['n', null], extra: [null, 1] }
  })
  t.strictSame(plan([remove('1'), insert({ ...article, note: 'n' })], latest), [], 'the same state again: no change, no version')
  const again = only(t, plan([remove('1'), insert(article), remove('1')], latest))
  t.equal(again.operation, 'delete', 'delete, insert, delete = one delete')
  t.strictSame(again.data, article, 'holding the state inserted in between')
})

t.test('an insert that brings back a deleted entity', async (t) => {
  const latest = stored('delete', { ...article, name: 'Old' }, 3, 10)
  const v = only(t, plan([insert({ ...article, gone: null })], latest))
  t.strictSame(v, {
    type: 'article', key: '1', operation: 'insert', index: 4,
    data: { ...article, gone: null },
    changeset: { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] }
  }, "an insert's changeset (old is null) and the next index")
  t.equal(only(t, plan([insert(article), update('1', { name: 'x' })], latest)).operation, 'insert', 'then updated')
})

t.test('conflicts with recorded state', async (t) => {
  const conflict = (changes: ChangeInput[], latest: Map<string, LatestVersion>, message: string): unknown =>
    throwsKind(t, () => plan(changes, latest), 'conflict', message)
  const none = new Map<string, LatestVersion>()
  conflict([insert(article)], stored('insert', article), 'insert of an entity that exists')
  conflict([insert(article)], stored('update', article), 'insert of an entity whose latest version is an update')
  conflict([insert(article), insert(article)], none, 'insert twice in one transaction')
  conflict([update('1', { name: 'x' })], none, 'update of an entity that never existed')
  conflict([update('1', { name: 'x' })], stored('delete', article), 'update of a deleted entity')
  conflict([remove('1'), update('1', { name: 'x' })], stored('insert', article), 'update after a delete in the transaction')
  conflict([remove('1')], none, 'delete of an entity that never existed')
  conflict([remove('1')], stored('delete', article), 'delete of a deleted entity')
  conflict([remove('1'), remove('1')], stored('insert', article), 'delete twice in one transaction')
  conflict([insert({ id: 2 }), update('1', { name: 'x' })], none, 'the whole transaction fails on one bad change')
})

t.test('changing an id field is invalid', async (t) => {
  const invalid = (changes: ChangeInput[], latest: Map<string, LatestVersion>, message: string): unknown =>
    throwsKind(t, () => plan(changes, latest), 'invalid-request', message)
  invalid([update('1', { id: 2 })], stored('insert', article), 'a new id value')
  invalid([update('1', { id: '1' })], stored('insert', article), 'the id as a string where it was a number')
  invalid([update('1', { id: null })], stored('insert', article), 'the id set to null')
  invalid([insert(article), update('1', { id: 2 })], new Map(), 'after an insert in the same transaction')
  invalid([update('7,3', { b: 4 }, undefined, 'pair')], stored('insert', { a: 7, b: 3 }, 0, 10, 'pair', '7,3'), 'one field of a composite key')
  const v = only(t, plan([update('7,3', { a: 7, b: 3, x: 1 }, undefined, 'pair')], stored('insert', { a: 7, b: 3 }, 0, 10, 'pair', '7,3')))
  t.strictSame(v.changeset, { x: [null, 1] }, 'a composite key given with its own values is fine')
})

t.test('expectedTransactionId', async (t) => {
  const latest = stored('update', article, 1, 12)
  t.equal(only(t, plan([update('1', { name: 'x' }, 12)], latest)).operation, 'update', 'matches: update proceeds')
  t.equal(only(t, plan([remove('1', 12)], latest)).operation, 'delete', 'matches: delete proceeds')
  for (const change of [update('1', { name: 'x' }, 11), remove('1', 13)]) {
    const error = throwsKind(t, () => plan([change], latest), 'conflict', `${change.op} expecting another transaction`)
    t.equal(error?.extensions.latestTransactionId, 12, 'the problem names the latest transaction id')
  }
  throwsKind(t, () => plan([update('1', { name: 'x' }, 12)]), 'conflict', 'an entity without versions')
  t.equal(errorOf(() => plan([update('1', { name: 'x' }, 12), update('1', { name: 'y' }, 12)], latest)), undefined,
    'several changes in one transaction all expect the recorded latest version')
})

t.test('versions come in the order the entities were first touched, one per entity', async (t) => {
  const latest = new Map([...stored('insert', article), ...stored('insert', { id: 9 }, 0, 10, 'note', '9')])
  const versions = plan([
    insert({ id: 2, name: 'two' }),
    update('1', { name: 'x' }),
    insert({ id: 5 }, 'note'), remove('5', undefined, 'note'),
    insert({ id: 1 }, 'note'),
    insert({ a: 7, b: 3 }, 'pair'),
    update('2', { name: 'deux' }),
    update('9', { n: 1 }, undefined, 'note'),
    update('1', { content: 'y' })
  ], latest)
  t.strictSame(versions.map((v) => `${v.operation} ${v.type} ${v.key} #${v.index}`), [
    'insert article 2 #0', 'update article 1 #1', 'insert note 1 #0', 'insert pair 7,3 #0', 'update note 9 #1'
  ], 'the same key in another type is another entity')
  t.strictSame(versions[1]?.changeset, { name: ['Initial Name', 'x'], content: ['Initial Content', 'y'] })
})

t.test('__proto__ and constructor fields are data in a version', async (t) => {
  const patch: JsonObject = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c"}')
  const v = only(t, plan([update('1', patch)], stored('insert', article)))
  t.ok(Object.hasOwn(v.data, '__proto__') && Object.hasOwn(v.data, 'constructor'), 'own fields of data')
  t.equal(Object.getPrototypeOf(v.data), Object.prototype, 'prototype untouched')
  t.strictSame(Object.keys(v.changeset), ['__proto__', 'constructor'])
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')
})
