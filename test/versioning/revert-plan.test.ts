import t from 'tap'
import { orderChanges, planEntityRevert, type Change } from '../../src/versioning/revert-plan.js'
import type { Operation } from '../../src/versioning/version.js'

t.test('planEntityRevert: live then, exists now', async (t) => {
  t.strictSame(planEntityRevert('article', '1', { id: 1, name: 'Old', body: 'b' }, { id: 1, name: 'New', body: 'b' }),
    { type: 'article', id: '1', op: 'update', data: { name: 'Old' } }, 'an update with the fields that differ, old values')
  t.strictSame(planEntityRevert('article', '1', { id: 1, name: 'A' }, { id: 1, name: 'A', extra: 5 }),
    { type: 'article', id: '1', op: 'update', data: { extra: null } }, 'a field added since goes back to null')
  t.strictSame(planEntityRevert('article', '1', { id: 1, tags: [1, 2] }, { id: 1, tags: [2, 1] }),
    { type: 'article', id: '1', op: 'update', data: { tags: [1, 2] } })
  t.equal(planEntityRevert('article', '1', { id: 1, m: { a: 1, b: 2 } }, { id: 1, m: { b: 2, a: 1 } }), undefined,
    'no change when the states are equal as JSON')
})

t.test('planEntityRevert: live then, deleted now', async (t) => {
  t.strictSame(planEntityRevert('article', '1', { id: 1, name: 'A', note: null }, null),
    { type: 'article', id: '1', op: 'insert', data: { id: 1, name: 'A', note: null } }, 'an insert with the full old state')
})

t.test('planEntityRevert: not live then', async (t) => {
  t.strictSame(planEntityRevert('article', '7,3', null, { a: 7, b: 3 }),
    { type: 'article', id: '7,3', op: 'delete', data: null }, 'exists now: a delete')
  t.equal(planEntityRevert('article', '1', null, null), undefined, 'not live now either: no change')
})

const change = (type: string, op: Operation, id: string): Change => ({ type, op, id, data: op === 'delete' ? null : {} })
const names = (changes: Change[]): string[] => changes.map((c) => `${c.op} ${c.type} ${c.id}`)

t.test('orderChanges: deletes children first, then inserts and updates parents first', async (t) => {
  const ranks = new Map([['user', 0], ['article', 1], ['comment', 2]])
  const input = [
    change('article', 'insert', 'a1'),
    change('user', 'delete', 'u1'),
    change('comment', 'insert', 'c1'),
    change('comment', 'delete', 'c2'),
    change('user', 'update', 'u2'),
    change('article', 'delete', 'a2'),
    change('comment', 'update', 'c3'),
    change('user', 'insert', 'u3')
  ]
  const before = names(input)
  t.strictSame(names(orderChanges(input, ranks)), [
    'delete comment c2', 'delete article a2', 'delete user u1',
    'update user u2', 'insert user u3', 'insert article a1', 'insert comment c1', 'update comment c3'
  ])
  t.strictSame(names(input), before, 'the input is not reordered')
})

t.test('orderChanges: equal ranks keep their order; unknown types rank as 0', async (t) => {
  const ranks = new Map([['article', 1]])
  t.strictSame(names(orderChanges([
    change('article', 'delete', 'a1'), change('tag', 'delete', 't1'), change('article', 'delete', 'a2'),
    change('article', 'insert', 'a3'), change('tag', 'insert', 't2'), change('tag', 'update', 't3')
  ], ranks)), [
    'delete article a1', 'delete article a2', 'delete tag t1',
    'insert tag t2', 'update tag t3', 'insert article a3'
  ])
  t.strictSame(orderChanges([], ranks), [])
})
