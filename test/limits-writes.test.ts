import type { Test } from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { registerBlog } from './helpers/blog.js'
import { ins, postChanges, tx, upd, type Change } from './helpers/changes.js'
import { snapshot } from './helpers/store.js'

// Limits (v2) of writes: changes per transaction, relations per type, entities per revert,
// and the members of a body that a caller may not set (meta.source, recordedBy).

const LIMIT_EXCEEDED = 'urn:rewind:problem/limit-exceeded'

function assertLimitExceeded (t: Test, res: Reply, what: string): void {
  assertProblem(t, res, 400, what)
  t.equal(res.body?.type, LIMIT_EXCEEDED, `${what}: problem type limit-exceeded`)
}

/**
 * After a request that kept the event loop busy for a second or more (PGlite runs its queries in
 * this thread), a service that sheds load (limits.maxEventLoopDelayMs > 0) answers 503 from its
 * next event-loop sample until the one after. Waits that out, so that the next assertion is
 * about the limit under test. A service that does not shed load (buildApp's default, and so
 * the harness's) has nothing to wait out.
 */
async function settle (t: Test, h: Harness): Promise<void> {
  if (!h.app.hasDecorator('isUnderPressure')) return
  await new Promise((resolve) => setTimeout(resolve, 1100))
  let shed = 0
  while (shed < 50 && (await h.get('/entity-types')).status === 503) { shed++; await new Promise((resolve) => setTimeout(resolve, 100)) }
  if (shed > 0) t.comment(`the service answered 503 (overloaded) ${shed} time(s) after the previous request`)
}

/** `n` inserts of small entities of type `n`, ids from `first`. */
const inserts = (n: number, first = 1): Change[] => Array.from({ length: n }, (_, i) => ({ type: 'n', op: 'insert', data: { id: first + i } }))

eachDatabase('MAX_CHANGES (default 10,000): 10,000 changes are recorded, 10,001 are refused and record nothing', async (t, h) => {
  t.equal((await h.put('/entity-types/n', {})).status, 201)

  const tooMany = await postChanges(h, inserts(10_001))
  assertLimitExceeded(t, tooMany, '10,001 changes')
  t.equal(await h.count('versions'), 0, 'no version recorded')
  t.equal(await h.count('transactions'), 0, 'no transaction recorded')

  const started = Date.now()
  const full = await postChanges(h, inserts(10_000))
  t.comment(`10,000 inserts on ${h.kind}: ${Date.now() - started} ms`)
  await settle(t, h)
  t.equal(full.status, 201, `10,000 changes recorded (${JSON.stringify(full.body).slice(0, 300)})`)
  t.equal(full.body?.versions?.length, 10_000, 'one version per entity in the answer')
  t.strictSame(full.body?.versions?.slice(0, 2).map((v: any) => [v.id, v.operation, v.index]), [['1', 'insert', 0], ['2', 'insert', 0]])
  t.equal(full.body?.versions?.at(-1)?.id, '10000', 'the last entity touched is last')
  t.equal(await h.count('versions'), 10_000)
  t.equal(await h.count('transactions'), 1)
  const last = await h.get('/entities/n/10000')
  t.strictSame([last.status, last.body?.data], [200, { id: 10000 }], 'the 10,000th entity exists')

  // Past the limit with updates of entities that exist: still refused, still nothing recorded.
  const updates = Array.from({ length: 10_001 }, (_, i) => upd('n', String(i + 1), { v: 1 }))
  assertLimitExceeded(t, await postChanges(h, updates), '10,001 updates')
  t.equal(await h.count('versions'), 10_000)
  t.equal(await h.count('transactions'), 1)

  // 10,000 updates of entities that exist, then the revert of those 10,000 (MAX_REVERT_ENTITIES).
  const updated = await postChanges(h, updates.slice(0, 10_000))
  await settle(t, h)
  t.equal(updated.status, 201, `10,000 updates recorded (${JSON.stringify(updated.body).slice(0, 300)})`)
  t.equal(await h.count('versions'), 20_000)
  const reverted = await h.post(`/transactions/${updated.body?.transaction?.id as number}/revert`, {})
  await settle(t, h)
  t.equal(reverted.status, 201, `a revert of 10,000 entities (${JSON.stringify(reverted.body).slice(0, 300)})`)
  t.equal(reverted.body?.changes?.length, 10_000)
  // docs/reverts.md: in an update change, a field the entity did not have then is set to null.
  t.strictSame((await h.get('/entities/n/9999')).body?.data, { id: 9999, v: null }, 'back to the state before the updates')
  t.equal(await h.count('versions'), 30_000)
})

eachDatabase('maxChanges 3: three changes pass, a fourth is refused, even on one entity', async (t, h) => {
  t.equal((await h.put('/entity-types/n', {})).status, 201)

  // Refused with an Idempotency-Key: the key is not used up, so a corrected retry with it is recorded.
  assertLimitExceeded(t, await postChanges(h, inserts(4), {}, { 'idempotency-key': 'retry-me' }), '4 inserts')
  t.strictSame(await snapshot(h), { versions: 0, transactions: 0, entity_types: 1, version_refs: 0, idempotency_keys: 0 }, 'nothing recorded')

  const three = await postChanges(h, inserts(3), {}, { 'idempotency-key': 'retry-me' })
  t.equal(three.status, 201, 'the same key with a body within the limit')
  t.strictSame(three.body?.versions?.map((v: any) => v.id), ['1', '2', '3'])

  // Four changes that make a single version are still four changes.
  const oneEntity = [ins('n', { id: 10 }), upd('n', '10', { a: 1 }), upd('n', '10', { a: 2 }), upd('n', '10', { a: 3 })]
  assertLimitExceeded(t, await postChanges(h, oneEntity), '4 changes of one entity')
  t.strictSame([await h.count('versions'), await h.count('transactions')], [3, 1], 'nothing more recorded')
  t.equal((await h.get('/entities/n/10')).status, 404)

  const threeOfOne = await postChanges(h, oneEntity.slice(0, 3))
  t.equal(threeOfOne.status, 201)
  t.strictSame(threeOfOne.body?.versions?.map((v: any) => [v.id, v.operation, v.data]), [['10', 'insert', { id: 10, a: 2 }]])
}, { limits: { maxChanges: 3 } })

/** `n` relations, each a manyToOne to `user` through its own foreign key. */
const relations = (n: number): Record<string, unknown> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i}`, { kind: 'manyToOne', target: 'user', foreignKey: `user${i}_id` }]))

eachDatabase('MAX_RELATIONS (64): a type with 64 relations is registered, 65 are refused and change nothing', async (t, h) => {
  assertLimitExceeded(t, await h.put('/entity-types/wide', { relations: relations(65) }), '65 relations on a new type')
  t.equal((await h.get('/entity-types/wide')).status, 404, 'the type was not registered')
  t.equal(await h.count('entity_types'), 0)

  const ok = await h.put('/entity-types/wide', { relations: relations(64) })
  t.equal(ok.status, 201)
  t.equal(Object.keys(ok.body?.definition?.relations ?? {}).length, 64)

  assertLimitExceeded(t, await h.put('/entity-types/wide', { relations: relations(65) }), '65 relations on an existing type')
  const after = await h.get('/entity-types/wide')
  t.equal(after.body?.revision, 1, 'the type was not changed')
  t.strictSame(after.body?.definition?.relations, relations(64))

  // Mixed kinds count alike: 63 plus one oneToMany is 64 (a change: revision 2), plus a manyToMany is 65.
  const sixtyFour = { ...relations(63), kids: { kind: 'oneToMany', target: 'kid', foreignKey: 'wide_id' } }
  const changed = await h.put('/entity-types/wide', { relations: sixtyFour })
  t.strictSame([changed.status, changed.body?.revision], [200, 2])
  const through = { kind: 'manyToMany', target: 'tag', through: 'wide_tag', localKey: 'wide_id', remoteKey: 'tag_id' }
  assertLimitExceeded(t, await h.put('/entity-types/wide', { relations: { ...sixtyFour, tags: through } }), '65 with a manyToMany')
  t.equal((await h.get('/entity-types/wide_tag')).status, 404, 'the association type was not registered either')
  t.equal((await h.get('/entity-types/wide')).body?.revision, 2)
})

eachDatabase('maxRevertEntities 5: a transaction revert of 5 entities works, of 6 is refused and records nothing', async (t, h) => {
  t.equal((await h.put('/entity-types/n', {})).status, 201)
  const five = await tx(h, ...inserts(5, 1))
  const six = await tx(h, ...inserts(6, 101))

  const before = await snapshot(h)
  assertLimitExceeded(t, await h.post(`/transactions/${six}/revert`, {}), 'revert of 6 entities')
  t.strictSame(await snapshot(h), before, 'nothing recorded')
  assertLimitExceeded(t, await h.post(`/transactions/${six}/revert`, { force: true }), 'forced revert of 6 entities')
  t.strictSame(await snapshot(h), before, 'nothing recorded')
  t.equal((await h.get('/entities/n/101')).status, 200, 'the entities are still there')

  const ok = await h.post(`/transactions/${five}/revert`, {})
  t.equal(ok.status, 201)
  t.strictSame(ok.body?.changes?.map((c: any) => [c.op, c.id]).sort(), [['delete', '1'], ['delete', '2'], ['delete', '3'], ['delete', '4'], ['delete', '5']])
  t.equal(await h.count('versions'), before.versions + 5)
}, { limits: { maxRevertEntities: 5 } })

eachDatabase('maxRevertEntities 5: an entity revert with its comments past the limit is refused', async (t, h) => {
  await registerBlog(h)
  const comments = (article: number, ids: number[]): Change[] => ids.map((id) => ins('comment', { id, article_id: article, text: 'c' }))
  // Article 1 with 6 comments, article 2 with 4; then every comment is edited.
  const first = await tx(h, ins('article', { id: 1, title: 'A' }), ...comments(1, [1, 2, 3, 4, 5, 6]),
    ins('article', { id: 2, title: 'B' }), ...comments(2, [7, 8, 9, 10]))
  await tx(h, ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((id) => upd('comment', String(id), { text: 'edited' })))

  const before = await snapshot(h)
  const refused = await h.post('/entities/article/1/revert', { to: first, relations: ['comments'] })
  assertLimitExceeded(t, refused, 'article with 6 comments')
  t.strictSame(await snapshot(h), before, 'nothing recorded')
  t.equal((await h.get('/entities/comment/1')).body?.data?.text, 'edited')

  // Children that point here now but did not then are deleted by the revert: they count too.
  const empty = await tx(h, ins('article', { id: 3, title: 'C' }))
  await tx(h, ...comments(3, [11, 12, 13, 14, 15, 16]))
  const before3 = await snapshot(h)
  assertLimitExceeded(t, await h.post('/entities/article/3/revert', { to: empty, relations: ['comments'] }), 'article that had no comments, now 6')
  t.strictSame(await snapshot(h), before3, 'nothing recorded')

  const ok = await h.post('/entities/article/2/revert', { to: first, relations: ['comments'] })
  t.equal(ok.status, 201, `article with 4 comments (${JSON.stringify(ok.body).slice(0, 200)})`)
  t.strictSame(ok.body?.changes?.map((c: any) => [c.type, c.op, c.id, c.data]).sort(), [7, 8, 9, 10].map((id) => ['comment', 'update', String(id), { text: 'c' }]).sort())
}, { limits: { maxRevertEntities: 5 } })

eachDatabase('MAX_REVERT_ENTITIES (default 10,000): an entity revert of an article with 9,999 comments works, one more comment is refused', async (t, h) => {
  await registerBlog(h)
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)
  const first = await tx(h, ins('article', { id: 1, title: 'A' }), ...range(9_999).map((id) => ins('comment', { id, article_id: 1 })))
  await settle(t, h)
  await tx(h, ...range(9_999).map((id) => upd('comment', String(id), { text: 'edited' })))
  await settle(t, h)

  let started = Date.now()
  const ok = await h.post('/entities/article/1/revert', { to: first, relations: ['comments'] })
  t.comment(`entity revert of 10,000 entities on ${h.kind}: ${Date.now() - started} ms`)
  await settle(t, h)
  t.equal(ok.status, 201, `10,000 entities (${JSON.stringify(ok.body).slice(0, 300)})`)
  t.equal(ok.body?.changes?.length, 9_999, 'every comment back')
  t.strictSame(ok.body?.changes?.[0], { type: 'comment', op: 'update', id: '1', data: { text: null } })

  // Comment 10,000 points here now but did not then: the revert would touch 10,001 entities.
  await tx(h, ins('comment', { id: 10_000, article_id: 1 }))
  const before = await snapshot(h)
  started = Date.now()
  assertLimitExceeded(t, await h.post('/entities/article/1/revert', { to: first, relations: ['comments'] }), '10,001 entities')
  t.comment(`refused in ${Date.now() - started} ms`)
  t.strictSame(await snapshot(h), before, 'nothing recorded')
})

eachDatabase('meta.source is reserved for capture: 400 in POST /transactions and in revert bodies', async (t, h) => {
  t.equal((await h.put('/entity-types/n', {})).status, 201)
  const id = await tx(h, ins('n', { id: 1, v: 1 }))
  await tx(h, upd('n', '1', { v: 2 }))
  const before = await snapshot(h)

  const source = { source: { name: 'pg', xid: 1, lsn: '0/1' } }
  assertProblem(t, await postChanges(h, [ins('n', { id: 2 })], { meta: source }), 400, 'POST /transactions')
  assertProblem(t, await postChanges(h, [ins('n', { id: 2 })], { meta: { source: 'x', reason: 'r' } }), 400, 'POST /transactions, string source')
  assertProblem(t, await h.post('/entities/n/1/revert', { to: id, meta: source }), 400, 'entity revert')
  assertProblem(t, await h.post('/entities/n/1/revert', { to: id, dryRun: true, meta: source }), 400, 'entity revert dry run')
  assertProblem(t, await h.post(`/transactions/${id}/revert`, { force: true, meta: source }), 400, 'transaction revert')
  t.strictSame(await snapshot(h), before, 'nothing recorded')

  const other = await postChanges(h, [ins('n', { id: 3 })], { meta: { sources: ['a'], reason: 'r' } })
  t.equal(other.status, 201, 'other meta members are fine')
  t.strictSame(other.body?.transaction?.meta, { sources: ['a'], reason: 'r' })
})

eachDatabase('recordedBy cannot be set by a body: 400, nothing recorded', async (t, h) => {
  t.equal((await h.put('/entity-types/n', {})).status, 201)
  const id = await tx(h, ins('n', { id: 1, v: 1 }))
  await tx(h, upd('n', '1', { v: 2 }))
  const before = await snapshot(h)

  const forged = { keyId: 'someone-else', keyName: 'forged' }
  assertProblem(t, await postChanges(h, [ins('n', { id: 2 })], { recordedBy: forged }), 400, 'POST /transactions')
  assertProblem(t, await postChanges(h, [{ ...ins('n', { id: 2 }), recordedBy: forged }]), 400, 'a change with recordedBy')
  assertProblem(t, await h.post('/entities/n/1/revert', { to: id, recordedBy: forged }), 400, 'entity revert')
  assertProblem(t, await h.post(`/transactions/${id}/revert`, { force: true, recordedBy: forged }), 400, 'transaction revert')
  t.strictSame(await snapshot(h), before, 'nothing recorded')

  const ok = await postChanges(h, [ins('n', { id: 2 })], { meta: { recordedBy: forged } })
  t.equal(ok.status, 201, 'inside meta it is ordinary data')
  t.strictSame(ok.body?.transaction?.meta, { recordedBy: forged })
  t.equal(ok.body?.transaction?.recordedBy?.keyName, 'bootstrap admin', 'recordedBy names the key that wrote it')
})
