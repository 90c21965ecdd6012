import t from 'tap'
import type { EntityTypeDefinition, FieldOperation } from '../../src/versioning/entity-type.js'
import { DomainError } from '../../src/versioning/errors.js'
import {
  checkDefinitionNames, checkOperations, followRenames, IDENTITY, mapFields, mappingOf, parseOperations, retiredNames, SchemaMappings, storedNames
} from '../../src/versioning/schema-migrations.js'

const rename = (from: string, to: string): FieldOperation => ({ op: 'renameField', from, to })
const drop = (field: string): FieldOperation => ({ op: 'dropField', field })
const add = (field: string, value: unknown): FieldOperation => ({ op: 'addField', field, default: value as null })
const data = (ops: FieldOperation[], record: Record<string, unknown>): Record<string, unknown> =>
  mapFields(record as never, mappingOf(ops), (v) => v)
const message = (fn: () => unknown): string => {
  try { fn() } catch (error) { return error instanceof DomainError ? `${error.kind}: ${error.message}` : String(error) }
  return 'no error'
}

t.test('each operation on a stored record', async (t) => {
  t.strictSame(data([rename('name', 'title')], { id: 1, name: 'N', body: 'B' }), { id: 1, title: 'N', body: 'B' })
  t.strictSame(data([drop('body')], { id: 1, name: 'N', body: 'B' }), { id: 1, name: 'N' })
  t.strictSame(data([add('status', 'draft')], { id: 1 }), { id: 1, status: 'draft' })
  t.strictSame(data([add('status', 'draft')], { id: 1, status: null }), { id: 1, status: null }, 'a value, even null, is kept')
  t.strictSame(mapFields({ name: ['a', 'b'] as never }, mappingOf([rename('name', 'title'), add('x', 1)])), { title: ['a', 'b'] }, 'no defaults in a changeset')
  t.equal(mappingOf([]), IDENTITY)
})

t.test('chains compose', async (t) => {
  t.strictSame(data([rename('a', 'b'), rename('b', 'c')], { id: 1, a: 1 }), { id: 1, c: 1 })
  t.strictSame(data([rename('a', 'b'), add('a', 0)], { id: 1, a: 1 }), { id: 1, b: 1, a: 0 }, 'the old name taken by a new field')
  t.strictSame(data([drop('a'), add('a', 0)], { id: 1, a: 1 }), { id: 1, a: 0 }, 'old values stay dropped')
  t.strictSame(data([rename('a', 't'), rename('b', 'a'), rename('t', 'b')], { a: 1, b: 2 }), { b: 1, a: 2 }, 'a swap through a third name')
  t.strictSame(data([add('s', 'x'), rename('s', 'status')], { id: 1 }), { id: 1, status: 'x' }, 'an added field renamed keeps its default')
  t.strictSame(data([add('s', 'x'), drop('s')], { id: 1 }), { id: 1 })
})

t.test('stored names and aliases', async (t) => {
  const m = mappingOf([rename('a', 'b'), add('a', 0)])
  t.strictSame(storedNames(m, ['b']), ['a'])
  t.strictSame(storedNames(m, ['a']), [], 'the new field was never stored under the old revision')
  t.strictSame(storedNames(m, ['other']), ['other'])
  const mappings = new SchemaMappings({ revision: 4, migrations: [{ revision: 2, operations: [rename('a', 'b')] }, { revision: 4, operations: [rename('b', 'c')] }] })
  t.strictSame(mappings.aliases('c').sort(), ['a', 'b', 'c'])
  t.equal(mappings.of(4), IDENTITY)
  t.equal(mappings.of(0), mappings.of(1), 'revisions before the same migration share one mapping')
  t.strictSame(mapFields({ a: 1 } as never, mappings.of(0)), { c: 1 })
  t.strictSame(mapFields({ b: 1 } as never, mappings.of(3)), { c: 1 })
})

t.test('retired names', async (t) => {
  t.strictSame([...retiredNames([rename('a', 'b'), rename('b', 'c')])].sort(), [['a', 'c'], ['b', 'c']])
  t.strictSame([...retiredNames([rename('a', 'b'), add('a', 0)])], [], 'taken again')
  t.strictSame([...retiredNames([rename('a', 'b'), drop('b')])], [])
})

t.test('checks', async (t) => {
  const known = { idFields: ['id'], fields: new Set(['id', 'a', 'b', 'fk']), relationKeys: new Map([['fk', '"r" of "x"']]) }
  t.strictSame([...checkOperations([rename('a', 'c'), add('a', 1)], known)].sort(), ['a', 'b', 'c', 'fk', 'id'])
  t.equal(message(() => checkOperations([rename('id', 'key')], known)), 'invalid-request: operations[0]: "id" is an id field: it names the entities and cannot be renamed')
  t.equal(message(() => checkOperations([rename('a', 'b')], known)), 'invalid-request: operations[0]: the type already has a field "b": renaming "a" to it would make two fields one')
  t.equal(message(() => checkOperations([rename('z', 'y')], known)), 'invalid-request: operations[0]: the type has no field "z" to rename')
  t.equal(message(() => checkOperations([drop('fk')], known)), 'invalid-request: operations[0]: "fk" is a key of the relation "r" of "x": change the relation first')
  t.equal(message(() => checkOperations([drop('a'), add('b', 1)], known)), 'invalid-request: operations[1]: the type already has a field "b"')
  t.equal(message(() => checkOperations([], known)), 'invalid-request: operations: give at least one operation')
  t.equal(message(() => parseOperations([{ op: 'addField', field: 'x' }])), 'invalid-request: operations[0].default: an addField needs "default" (the value versions without the field show; null is a value)')
  t.equal(message(() => parseOperations([{ op: 'renameField', from: 'x' }])), 'invalid-request: operations[0].to: a renameField needs "to" (a field name)')
  t.equal(message(() => parseOperations([{ op: 'dropField', field: 'x', to: 'y' }])), 'invalid-request: operations[0].to: a dropField takes "field", not "to"')
})

t.test('relation keys, exclude and redact follow a rename', async (t) => {
  const defs = new Map<string, EntityTypeDefinition>([
    ['article', { idFields: ['id'], exclude: [], relations: { comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' } } }],
    ['comment', { idFields: ['id'], exclude: ['secret', 'gone'], redact: { fields: ['email'] }, relations: { article: { kind: 'manyToOne', target: 'article', foreignKey: 'article_id' } } }],
    ['tagging', { idFields: ['id'], exclude: [], relations: {} }],
    ['post', { idFields: ['id'], exclude: [], relations: { tags: { kind: 'manyToMany', target: 'tag', through: 'tagging', localKey: 'post_id', remoteKey: 'tag_id' } } }]
  ])
  const changed = followRenames(defs, 'comment', [rename('article_id', 'post_id'), rename('email', 'mail'), drop('gone')])
  t.strictSame([...changed.keys()].sort(), ['article', 'comment'])
  t.strictSame(changed.get('article')!.relations.comments, { kind: 'oneToMany', target: 'comment', foreignKey: 'post_id' })
  t.strictSame(changed.get('comment'), { idFields: ['id'], exclude: ['secret'], redact: { fields: ['mail'] }, relations: { article: { kind: 'manyToOne', target: 'article', foreignKey: 'post_id' } } })
  const through = followRenames(defs, 'tagging', [rename('tag_id', 'label_id')])
  t.strictSame(through.get('post')!.relations.tags, { kind: 'manyToMany', target: 'tag', through: 'tagging', localKey: 'post_id', remoteKey: 'label_id' })
  const migrated = new Map(defs).set('comment', { ...defs.get('comment')!, schema: { revision: 2, migrations: [{ revision: 2, operations: [rename('article_id', 'post_id')] }] } })
  t.equal(message(() => checkDefinitionNames(migrated, 'article', defs.get('article')!)),
    'invalid-request: relations.comments.foreignKey: the field "article_id" of "comment" was renamed to "post_id": name "post_id" instead')
})
