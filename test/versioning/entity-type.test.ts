import t from 'tap'
import {
  dependencyRanks, normalizeDefinition, referenceFields,
  type EntityTypeDefinition, type EntityTypeInput, type Relation
} from '../../src/versioning/entity-type.js'
import { throwsKind } from './helpers.js'

/** A map of normalized definitions, by type name. */
const typesOf = (inputs: Record<string, EntityTypeInput>): Map<string, EntityTypeDefinition> =>
  new Map(Object.entries(inputs).map(([type, input]) => [type, normalizeDefinition(input)]))

const manyToOne = (target: string, foreignKey: string): Relation => ({ kind: 'manyToOne', target, foreignKey })
const oneToMany = (target: string, foreignKey: string): Relation => ({ kind: 'oneToMany', target, foreignKey })
const manyToMany = (target: string, through: string, localKey: string, remoteKey: string): Relation =>
  ({ kind: 'manyToMany', target, through, localKey, remoteKey })

const blog = {
  user: {},
  article: { relations: { author: manyToOne('user', 'author_id'), comments: oneToMany('comment', 'article_id'), tags: manyToMany('tag', 'article_tag', 'article_id', 'tag_id') } },
  comment: { relations: { article: manyToOne('article', 'article_id') } },
  tag: {}
}

t.test('normalizeDefinition fills the defaults', async (t) => {
  t.strictSame(normalizeDefinition({}), { idFields: ['id'], exclude: [], relations: {} })
  const input: EntityTypeInput = { idFields: ['a', 'b'], exclude: ['updated_at'], relations: { author: manyToOne('user', 'author_id') } }
  const definition = normalizeDefinition(input)
  t.strictSame(definition, { idFields: ['a', 'b'], exclude: ['updated_at'], relations: { author: manyToOne('user', 'author_id') } })
  input.idFields!.push('c')
  input.exclude!.push('x')
  t.strictSame(definition.idFields, ['a', 'b'], 'idFields is a copy of the input')
  t.strictSame(definition.exclude, ['updated_at'], 'exclude is a copy of the input')
})

t.test('normalizeDefinition rejects what a schema cannot express', async (t) => {
  const rejects = (input: EntityTypeInput, message: string): unknown =>
    throwsKind(t, () => normalizeDefinition(input), 'invalid-request', message)
  rejects({ idFields: [] }, 'no id field')
  rejects({ idFields: ['id', 'id'] }, 'a repeated id field')
  rejects({ idFields: ['a', 'b'], exclude: ['b'] }, 'an excluded id field')
  rejects({ exclude: ['id'] }, 'the default id field excluded')
  rejects({ relations: { author: manyToOne('User', 'author_id') } }, 'an invalid target type name')
  rejects({ relations: { tags: manyToMany('tag', 'Article-Tag', 'a', 'b') } }, 'an invalid through type name')
  rejects({ relations: { tags: manyToMany('tag', 'article_tag', 'k', 'k') } }, 'localKey equal to remoteKey')
})

t.test('normalizeDefinition keeps a relation named __proto__ as data', async (t) => {
  const relations = JSON.parse('{"__proto__": {"kind": "manyToOne", "target": "user", "foreignKey": "user_id"}}')
  const definition = normalizeDefinition({ relations })
  t.ok(Object.hasOwn(definition.relations, '__proto__'), 'an own relation')
  t.equal(Object.getPrototypeOf(definition.relations), Object.prototype, 'prototype untouched')
  t.strictSame(Object.values(definition.relations), [manyToOne('user', 'user_id')])
})

t.test('referenceFields: the child side of oneToMany and both keys of manyToMany', async (t) => {
  const refs = referenceFields(typesOf(blog))
  t.strictSame(refs.get('comment'), [{ field: 'article_id', targetType: 'article' }])
  t.strictSame(refs.get('article_tag'), [{ field: 'article_id', targetType: 'article' }, { field: 'tag_id', targetType: 'tag' }])
  t.notOk(refs.has('user'), 'a manyToOne needs no reverse lookup')
  t.notOk(refs.has('article'))

  const twice = referenceFields(typesOf({
    article: { relations: { comments: oneToMany('comment', 'article_id'), replies: oneToMany('comment', 'article_id') } }
  }))
  t.strictSame(twice.get('comment'), [{ field: 'article_id', targetType: 'article' }], 'no duplicates')
})

t.test('dependencyRanks: a type ranks after every type it points at', async (t) => {
  const ranks = dependencyRanks(typesOf(blog))
  const rank = (type: string): number => ranks.get(type) ?? NaN
  t.ok(rank('user') < rank('article'), 'manyToOne: article points at user')
  t.ok(rank('article') < rank('comment'), 'oneToMany: comment points at article')
  t.ok(rank('article') < rank('article_tag'), 'association after its local side')
  t.ok(rank('tag') < rank('article_tag'), 'association after its remote side')
  t.ok(ranks.has('article_tag'), 'an unregistered association type is ranked')

  const self = dependencyRanks(typesOf({ category: { relations: { parent: manyToOne('category', 'parent_id') } } }))
  t.equal(self.get('category'), 0, 'a self-reference does not count')
})

t.test('dependencyRanks: a cycle terminates', async (t) => {
  const ranks = dependencyRanks(typesOf({
    c: { relations: { a: manyToOne('a', 'a_id') } },
    a: { relations: { b: manyToOne('b', 'b_id') } },
    b: { relations: { a: manyToOne('a', 'a_id') } }
  }))
  t.strictSame([...ranks.keys()].sort(), ['a', 'b', 'c'], 'every type ranked')
  t.ok((ranks.get('a') ?? NaN) < (ranks.get('c') ?? NaN), 'a type outside the cycle still follows its parent')
})
