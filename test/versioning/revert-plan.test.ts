import t from 'tap'
import { orderChanges, orderForForeignKeys, planEntityRevert, type Change } from '../../src/versioning/revert-plan.js'
import type { Operation } from '../../src/versioning/version.js'
import type { EntityTypeDefinition } from '../../src/versioning/entity-type.js'

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

t.test('orderForForeignKeys: changes that let go of a reference come before the delete; trees insert parents first', async (t) => {
  const types = new Map<string, EntityTypeDefinition>([
    ['user', { idFields: ['id'], exclude: [], relations: {} }],
    ['article', { idFields: ['id'], exclude: [], relations: { author: { kind: 'manyToOne' as const, target: 'user', foreignKey: 'author_id' } } }],
    ['cat', { idFields: ['id'], exclude: [], relations: { parent: { kind: 'manyToOne' as const, target: 'cat', foreignKey: 'parent_id' } } }]
  ])
  const dropRef = orderForForeignKeys([
    { change: { type: 'user', op: 'delete', id: '1', data: null }, before: { id: 1 } },
    { change: { type: 'article', op: 'update', id: '9', data: { author_id: null } }, before: { id: 9, author_id: 1 } }
  ], types)
  t.strictSame(names(dropRef), ['update article 9', 'delete user 1'])
  const pointAtNew = orderForForeignKeys([
    { change: { type: 'article', op: 'update', id: '9', data: { author_id: 2 } }, before: { id: 9, author_id: null } },
    { change: { type: 'user', op: 'insert', id: '2', data: { id: 2 } }, before: null }
  ], types)
  t.strictSame(names(pointAtNew), ['insert user 2', 'update article 9'])
  const tree = orderForForeignKeys([
    { change: { type: 'cat', op: 'insert', id: '3', data: { id: 3, parent_id: 2 } }, before: null },
    { change: { type: 'cat', op: 'insert', id: '2', data: { id: 2, parent_id: 1 } }, before: null },
    { change: { type: 'cat', op: 'insert', id: '1', data: { id: 1, parent_id: null } }, before: null },
    { change: { type: 'cat', op: 'delete', id: '7', data: null }, before: { id: 7, parent_id: 8 } },
    { change: { type: 'cat', op: 'delete', id: '8', data: null }, before: { id: 8, parent_id: null } }
  ], types)
  t.strictSame(names(tree), ['delete cat 7', 'delete cat 8', 'insert cat 1', 'insert cat 2', 'insert cat 3'])
  const cycle = orderForForeignKeys([
    { change: { type: 'cat', op: 'insert', id: '1', data: { id: 1, parent_id: 2 } }, before: null },
    { change: { type: 'cat', op: 'insert', id: '2', data: { id: 2, parent_id: 1 } }, before: null }
  ], types)
  t.equal(cycle.length, 2, 'a cycle still yields every change once')
})
