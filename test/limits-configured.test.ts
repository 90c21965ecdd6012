import { eachDatabase } from './helpers/harness.js'

// The caps of answers are configurable like every other limit (MAX_CONFLICT_ENTITIES, MAX_CONFLICT_IDS,
// MAX_INLINE_RELATED, MAX_INLINE_VERSIONS): here at 2 each.

eachDatabase('conflict lists and inline lists follow their configured caps', async (t, h) => {
  t.equal((await h.put('/entity-types/comment', {})).status, 201)
  t.equal((await h.put('/entity-types/article', { relations: { comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' } } })).status, 201)
  const created = await h.post('/transactions', {
    changes: [{ type: 'article', op: 'insert', data: { id: 1 } }, ...[1, 2, 3].map((id) => ({ type: 'comment', op: 'insert', data: { id, article_id: 1, n: 0 } }))]
  })
  t.equal(created.status, 201)
  const first = created.body.transaction.id as number

  const detail = await h.get(`/transactions/${first}`)
  t.strictSame(detail.body.versions.map((v: { type: string, id: string }) => `${v.type} ${v.id}`), ['article 1', 'comment 1'], 'two versions inline')
  t.equal(detail.body.versionsTruncated, true)
  const state = await h.get('/entities/article/1?relations=comments')
  t.strictSame(state.body.relations.comments.map((v: { id: string }) => v.id), ['1', '2'], 'two comments inline')
  t.strictSame(state.body.truncatedRelations, ['comments'])

  const later: number[] = []
  for (let n = 1; n <= 3; n++) {
    later.push((await h.post('/transactions', { changes: [1, 2, 3].map((id) => ({ type: 'comment', op: 'update', id: String(id), data: { n } })) })).body.transaction.id)
  }
  const refused = await h.post(`/transactions/${first}/revert`, {})
  t.equal(refused.status, 409)
  t.strictSame(refused.body.conflicts, [
    { type: 'comment', id: '1', transactionIds: later.slice(0, 2) },
    { type: 'comment', id: '2', transactionIds: later.slice(0, 2) }
  ], 'two entities, two ids each')
  t.equal(refused.body.truncated, true)
}, { limits: { maxConflictEntities: 2, maxConflictIds: 2, maxInlineRelated: 2, maxInlineVersions: 2 } })
