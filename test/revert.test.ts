import type { Test } from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { registerBlog, del, ins, link, tx, unlink, upd, type Change } from './helpers/blog.js'

// Reverting an entity (with its relations) to an earlier transaction, and undoing a
// whole transaction: the changes the backend applies, and the new transaction recorded.

const USER_WITH_ARTICLES = { relations: { articles: { kind: 'oneToMany', target: 'article', foreignKey: 'author_id' } } }
/** Parents rank lower: inserts go up the ranks, deletes down. */
const RANK: Record<string, number> = { user: 0, tag: 0, article: 1, comment: 2, article_tag: 2 }


const revert = async (h: Harness, type: string, id: string, body: object): Promise<Reply> =>
  await h.post(`/entities/${type}/${id}/revert`, body)

/** A change as a user compares it: a delete carries no state. */
const shape = (c: any): Change => c.op === 'delete' ? { type: c.type, op: c.op, id: c.id } : { type: c.type, op: c.op, id: c.id, data: c.data }
const sorted = (changes: any[]): Change[] => {
  const key = (c: Change): string => `${c.type as string} ${c.id as string}`
  return changes.map(shape).sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
}

/** Applying the changes in order keeps foreign keys valid: deletes first, children before parents; then parents before children. */
function keepsForeignKeysValid (t: Test, changes: any[]): void {
  const firstOther = changes.findIndex((c) => c.op !== 'delete')
  const deletes = firstOther === -1 ? changes : changes.slice(0, firstOther)
  const others = firstOther === -1 ? [] : changes.slice(firstOther)
  t.ok(others.every((c) => c.op !== 'delete'), 'every delete comes before the inserts and updates')
  t.ok(deletes.every((c, i) => i === 0 || RANK[c.type]! <= RANK[deletes[i - 1].type]!), `deletes go children first: ${deletes.map((c) => c.type).join(', ')}`)
  t.ok(others.every((c, i) => i === 0 || RANK[c.type]! >= RANK[others[i - 1].type]!), `inserts and updates go parents first: ${others.map((c) => c.type).join(', ')}`)
}

async function counts (h: Harness): Promise<number[]> {
  return [await h.count('transactions'), await h.count('versions'), await h.count('version_refs')]
}

async function state (h: Harness, type: string, id: string, query = ''): Promise<Reply> {
  return await h.get(`/entities/${type}/${id}${query}`)
}

// ---- entity revert: the entity itself -------------------------------------------------

eachDatabase('entity revert: live then and exists now is an update with only the fields that differ', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h, ins('article', { id: 1, title: 'A', body: 'x', status: 'draft' }))
  await tx(h, upd('article', '1', { title: 'B', status: 'published' }))
  await tx(h, upd('article', '1', { status: 'draft' }))

  const res = await revert(h, 'article', '1', { to: first, actor: 'admin', meta: { reason: 'undo' } })
  t.equal(res.status, 201)
  t.same(res.body.changes, [{ type: 'article', op: 'update', id: '1', data: { title: 'A' } }], 'status is already as it was: only title')
  const rev = res.body.transaction
  t.same(rev.revertOf, { type: 'article', id: '1', to: first })
  t.equal(rev.actor, 'admin')
  t.same(rev.meta, { reason: 'undo' })
  t.equal(res.body.versions.length, 1)
  t.match(res.body.versions[0], { type: 'article', id: '1', transactionId: rev.id, operation: 'update', index: 3, changeset: { title: ['B', 'A'] } })
  t.same(res.body.versions[0].changeset, { title: ['B', 'A'] })

  t.same((await state(h, 'article', '1')).body.data, { id: 1, title: 'A', body: 'x', status: 'draft' })
  const detail = await h.get(`/transactions/${rev.id as number}`)
  t.same(detail.body.revertOf, { type: 'article', id: '1', to: first })
  t.same(detail.body.versions.map((v: any) => [v.type, v.id, v.operation]), [['article', '1', 'update']])
})

eachDatabase('entity revert: live then and deleted now is an insert with the full old state', async (t, h) => {
  await registerBlog(h)
  await tx(h, ins('article', { id: 1, title: 'A', body: 'x', note: null }))
  const second = await tx(h, upd('article', '1', { title: 'B', note: 'n' }))
  await tx(h, del('article', '1'))

  const res = await revert(h, 'article', '1', { to: second })
  t.equal(res.status, 201)
  t.same(res.body.changes, [{ type: 'article', op: 'insert', id: '1', data: { id: 1, title: 'B', body: 'x', note: 'n' } }])
  t.equal(res.body.versions[0].operation, 'insert')
  t.same(res.body.versions[0].changeset, { id: [null, 1], title: [null, 'B'], body: [null, 'x'], note: [null, 'n'] })
  t.same((await state(h, 'article', '1')).body.data, { id: 1, title: 'B', body: 'x', note: 'n' })
})

eachDatabase('entity revert: not live then (not yet created, or deleted then) and existing now is a delete', async (t, h) => {
  await registerBlog(h)
  const before = await tx(h, ins('article', { id: 1, title: 'A' }))
  await tx(h, ins('article', { id: 2, title: 'B' }))

  const res = await revert(h, 'article', '2', { to: before })
  t.equal(res.status, 201)
  t.same(res.body.changes.map(shape), [{ type: 'article', op: 'delete', id: '2' }], 'to before its first version: a delete')
  t.equal(res.body.versions[0].operation, 'delete')
  t.equal((await state(h, 'article', '2')).status, 404)

  const gone = await tx(h, del('article', '1'))
  await tx(h, ins('article', { id: 1, title: 'A again' }))
  const again = await revert(h, 'article', '1', { to: gone })
  t.equal(again.status, 201)
  t.same(again.body.changes.map(shape), [{ type: 'article', op: 'delete', id: '1' }], 'deleted then: a delete')
  t.equal((await state(h, 'article', '1')).status, 404)
})

eachDatabase('entity revert: to at or after the latest version changes nothing (200, transaction null)', async (t, h) => {
  await registerBlog(h)
  await tx(h, ins('article', { id: 1, title: 'A' }))
  const latest = await tx(h, upd('article', '1', { title: 'B' }))
  const other = await tx(h, ins('article', { id: 2, title: 'other' }))
  const before = await counts(h)

  for (const to of [latest, other]) {
    const res = await revert(h, 'article', '1', { to })
    t.equal(res.status, 200, `to ${to}`)
    t.same(res.body, { transaction: null, changes: [], versions: [] })
  }
  const related = await revert(h, 'article', '1', { to: latest, relations: ['comments', 'tags', 'author'] })
  t.equal(related.status, 200)
  t.same(related.body.changes, [])
  t.same(await counts(h), before, 'nothing recorded')
})

eachDatabase('entity revert: dryRun answers the changes and records nothing', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h, ins('article', { id: 1, title: 'A' }), ins('comment', { id: 1, article_id: 1, text: 'c' }))
  await tx(h, upd('article', '1', { title: 'B' }), del('comment', '1'))
  const before = await counts(h)

  const dry = await revert(h, 'article', '1', { to: first, relations: ['comments'], dryRun: true })
  t.equal(dry.status, 200)
  t.equal(dry.body.transaction, null)
  t.same(sorted(dry.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A' } },
    { type: 'comment', op: 'insert', id: '1', data: { id: 1, article_id: 1, text: 'c' } }
  ])
  t.same(await counts(h), before, 'no transaction, version or reference stored')
  t.equal((await state(h, 'article', '1')).body.data.title, 'B')
  t.equal((await state(h, 'comment', '1')).status, 404)

  const real = await revert(h, 'article', '1', { to: first, relations: ['comments'] })
  t.equal(real.status, 201)
  t.same(real.body.changes, dry.body.changes, 'the dry run answered what the real revert does')
})

eachDatabase('entity revert: unknown entity or type is 404, unknown relation is 400, and nothing is recorded', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h, ins('article', { id: 1, title: 'A' }))
  await tx(h, upd('article', '1', { title: 'B' }))
  const before = await counts(h)

  assertProblem(t, await revert(h, 'article', '99', { to: first }), 404)
  assertProblem(t, await revert(h, 'nosuchtype', '1', { to: first }), 404)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['nope'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['tags', 'nope'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['tags.nope'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', { to: first, relations: ['title'] }), 400)
  assertProblem(t, await revert(h, 'article', '1', {}), 400)
  t.same(await counts(h), before)
  t.equal((await state(h, 'article', '1')).body.data.title, 'B')
})

// ---- entity revert with relations -----------------------------------------------------

eachDatabase('entity revert with ["tags"]: a removed tag comes back as a new association version, a later one is deleted', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h,
    ins('article', { id: 1, title: 'A' }),
    ins('tag', { id: 1, name: 'one' }), ins('tag', { id: 2, name: 'two' }), ins('tag', { id: 3, name: 'three' }),
    link(1, 1), link(1, 2))
  await tx(h, unlink(1, 2), link(1, 3), upd('tag', '1', { name: 'uno' }))

  const res = await revert(h, 'article', '1', { to: first, relations: ['tags'] })
  t.equal(res.status, 201)
  t.same(sorted(res.body.changes), [
    { type: 'article_tag', op: 'insert', id: '1,2', data: { article_id: 1, tag_id: 2 } },
    { type: 'article_tag', op: 'delete', id: '1,3' },
    { type: 'tag', op: 'update', id: '1', data: { name: 'one' } }
  ], 'membership as it was, and the related tag as it was')
  keepsForeignKeysValid(t, res.body.changes)
  const rev = res.body.transaction.id

  const now = await state(h, 'article', '1', '?relations=tags')
  t.same(now.body.relations.tags.map((v: any) => v.data), [{ id: 1, name: 'one' }, { id: 2, name: 'two' }])
  const back = await h.get('/entities/article_tag/1,2/versions')
  t.same(back.body.items.map((v: any) => v.operation), ['insert', 'delete', 'insert'])
  t.equal(back.body.items[2].transactionId, rev)
  const later = await h.get('/entities/article_tag/1,3/versions')
  t.same(later.body.items.map((v: any) => v.operation), ['insert', 'delete'])
  t.same((await state(h, 'tag', '3')).body.data, { id: 3, name: 'three' }, 'the tag itself stays; only the association goes')
})

eachDatabase('entity revert with ["comments"]: updated, deleted, moved-away and newly added children', async (t, h) => {
  await registerBlog(h)
  const first = await tx(h,
    ins('article', { id: 1, title: 'A' }), ins('article', { id: 2, title: 'B' }),
    ins('comment', { id: 1, article_id: 1, text: 'one' }),
    ins('comment', { id: 2, article_id: 1, text: 'two' }),
    ins('comment', { id: 3, article_id: 1, text: 'three' }),
    ins('comment', { id: 5, article_id: 2, text: 'other' }))
  await tx(h, upd('comment', '1', { text: 'one!' }), del('comment', '2'))
  await tx(h, ins('comment', { id: 4, article_id: 1, text: 'new' }), upd('comment', '3', { article_id: 2 }))

  const res = await revert(h, 'article', '1', { to: first, relations: ['comments'] })
  t.equal(res.status, 201)
  t.same(sorted(res.body.changes), [
    { type: 'comment', op: 'update', id: '1', data: { text: 'one' } },
    { type: 'comment', op: 'insert', id: '2', data: { id: 2, article_id: 1, text: 'two' } },
    { type: 'comment', op: 'update', id: '3', data: { article_id: 1 } },
    { type: 'comment', op: 'delete', id: '4' }
  ])
  keepsForeignKeysValid(t, res.body.changes)
  const now = await state(h, 'article', '1', '?relations=comments')
  t.same(now.body.relations.comments.map((v: any) => v.data), [
    { id: 1, article_id: 1, text: 'one' }, { id: 2, article_id: 1, text: 'two' }, { id: 3, article_id: 1, text: 'three' }
  ])
  t.same((await state(h, 'comment', '5')).body.data, { id: 5, article_id: 2, text: 'other' }, 'comments of other articles are untouched')
})

eachDatabase('entity revert with a dotted path ["articles.tags"] reverts the relations of the related entities too', async (t, h) => {
  await registerBlog(h, USER_WITH_ARTICLES)
  const first = await tx(h,
    ins('user', { id: 1, name: 'Ann' }),
    ins('article', { id: 1, title: 'A', author_id: 1 }), ins('article', { id: 2, title: 'B', author_id: 1 }),
    ins('tag', { id: 1 }), ins('tag', { id: 2 }),
    link(1, 1), link(2, 1))
  await tx(h, upd('user', '1', { name: 'Ann B.' }), unlink(1, 1), link(1, 2), link(2, 2), upd('article', '2', { title: 'B2' }))

  const shallow = await revert(h, 'user', '1', { to: first, relations: ['articles'], dryRun: true })
  t.same(sorted(shallow.body.changes), [
    { type: 'article', op: 'update', id: '2', data: { title: 'B' } },
    { type: 'user', op: 'update', id: '1', data: { name: 'Ann' } }
  ], 'without the path, associations are left alone')

  const res = await revert(h, 'user', '1', { to: first, relations: ['articles.tags'] })
  t.equal(res.status, 201)
  t.same(sorted(res.body.changes), [
    { type: 'article', op: 'update', id: '2', data: { title: 'B' } },
    { type: 'article_tag', op: 'insert', id: '1,1', data: { article_id: 1, tag_id: 1 } },
    { type: 'article_tag', op: 'delete', id: '1,2' },
    { type: 'article_tag', op: 'delete', id: '2,2' },
    { type: 'user', op: 'update', id: '1', data: { name: 'Ann' } }
  ])
  keepsForeignKeysValid(t, res.body.changes)
  t.same(res.body.transaction.revertOf, { type: 'user', id: '1', to: first })
  for (const [article, tags] of [['1', [1]], ['2', [1]]] as const) {
    const now = await state(h, 'article', article, '?relations=tags')
    t.same(now.body.relations.tags.map((v: any) => v.data.id), tags, `article ${article} has its tags back`)
  }
})

eachDatabase('entity revert: the changes keep foreign keys valid (child deletes first, parent inserts first)', async (t, h) => {
  await registerBlog(h)
  const empty = await tx(h, ins('user', { id: 1, name: 'Ann' }), ins('tag', { id: 1 }))
  const full = await tx(h,
    ins('article', { id: 1, title: 'A', author_id: 1 }),
    ins('comment', { id: 1, article_id: 1 }), ins('comment', { id: 2, article_id: 1 }),
    link(1, 1))

  const down = await revert(h, 'article', '1', { to: empty, relations: ['comments', 'tags'], dryRun: true })
  t.equal(down.status, 200)
  t.same(sorted(down.body.changes), [
    { type: 'article', op: 'delete', id: '1' },
    { type: 'article_tag', op: 'delete', id: '1,1' },
    { type: 'comment', op: 'delete', id: '1' },
    { type: 'comment', op: 'delete', id: '2' }
  ])
  t.match(down.body.changes.at(-1), { type: 'article', op: 'delete', id: '1' }, 'the article is deleted after its children')
  keepsForeignKeysValid(t, down.body.changes)

  // Everything deleted, children first; the revert must insert parents first.
  await tx(h, del('comment', '1'), del('comment', '2'), unlink(1, 1), del('article', '1'), del('user', '1'), del('tag', '1'))
  const up = await revert(h, 'article', '1', { to: full, relations: ['comments', 'tags', 'author'] })
  t.equal(up.status, 201)
  t.same(up.body.changes.map((c: any) => c.op), ['insert', 'insert', 'insert', 'insert', 'insert', 'insert'])
  t.same(sorted(up.body.changes).map((c) => `${c.type as string}/${c.id as string}`),
    ['article/1', 'article_tag/1,1', 'comment/1', 'comment/2', 'tag/1', 'user/1'])
  keepsForeignKeysValid(t, up.body.changes)
  const now = await state(h, 'article', '1', '?relations=author,comments,tags')
  t.equal(now.body.relations.author?.id, '1')
  t.same(now.body.relations.comments.map((v: any) => v.id), ['1', '2'])
  t.same(now.body.relations.tags.map((v: any) => v.id), ['1'])
})

// ---- transaction revert ---------------------------------------------------------------

/** Two articles, then one transaction that inserts a third, updates the first and deletes the second. */
async function threeWay (h: Harness): Promise<number> {
  await registerBlog(h)
  await tx(h, ins('article', { id: 1, title: 'A', body: 'x' }), ins('article', { id: 2, title: 'B' }))
  return await tx(h, ins('article', { id: 3, title: 'C' }), upd('article', '1', { title: 'A2' }), del('article', '2'))
}

eachDatabase('transaction revert: insert → delete, update → update back, delete → insert', async (t, h) => {
  const target = await threeWay(h)
  const res = await h.post(`/transactions/${target}/revert`, { actor: 'admin' })
  t.equal(res.status, 201)
  t.same(sorted(res.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A' } },
    { type: 'article', op: 'insert', id: '2', data: { id: 2, title: 'B' } },
    { type: 'article', op: 'delete', id: '3' }
  ])
  keepsForeignKeysValid(t, res.body.changes)
  t.same(res.body.transaction.revertOf, { transaction: target })
  t.equal(res.body.transaction.actor, 'admin')
  t.same(res.body.versions.map((v: any) => [v.id, v.operation, v.transactionId]).sort(),
    [['1', 'update', res.body.transaction.id], ['2', 'insert', res.body.transaction.id], ['3', 'delete', res.body.transaction.id]])

  t.same((await state(h, 'article', '1')).body.data, { id: 1, title: 'A', body: 'x' })
  t.same((await state(h, 'article', '2')).body.data, { id: 2, title: 'B' })
  t.equal((await state(h, 'article', '3')).status, 404)
  t.same((await h.get(`/transactions/${res.body.transaction.id as number}`)).body.revertOf, { transaction: target })
})

eachDatabase('transaction revert: a later change is a 409 with conflicts, nothing recorded; force reverts anyway', async (t, h) => {
  const target = await threeWay(h)
  const later1 = await tx(h, upd('article', '1', { body: 'y' }))
  const later2 = await tx(h, upd('article', '1', { title: 'A3' }))
  await tx(h, ins('article', { id: 9, title: 'unrelated' }))
  const before = await counts(h)

  const res = await h.post(`/transactions/${target}/revert`, {})
  assertProblem(t, res, 409)
  t.same(res.body.conflicts, [{ type: 'article', id: '1', transactionIds: [later1, later2] }])
  t.same(await counts(h), before, 'nothing recorded')
  t.equal((await state(h, 'article', '3')).status, 200)

  const forced = await h.post(`/transactions/${target}/revert`, { force: true })
  t.equal(forced.status, 201)
  t.same(sorted(forced.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A', body: 'x' } },
    { type: 'article', op: 'insert', id: '2', data: { id: 2, title: 'B' } },
    { type: 'article', op: 'delete', id: '3' }
  ], 'each entity back to its state just before the transaction')
  t.same(forced.body.transaction.revertOf, { transaction: target })
  t.same((await state(h, 'article', '1')).body.data, { id: 1, title: 'A', body: 'x' })
})

eachDatabase('transaction revert: no body at all is accepted; dryRun records nothing; unknown transaction is 404', async (t, h) => {
  const target = await threeWay(h)
  const before = await counts(h)

  const dry = await h.post(`/transactions/${target}/revert`, { dryRun: true })
  t.equal(dry.status, 200)
  t.equal(dry.body.transaction, null)
  t.equal(dry.body.changes.length, 3)
  t.same(await counts(h), before, 'dryRun records nothing')
  t.equal((await state(h, 'article', '3')).status, 200)

  assertProblem(t, await h.post(`/transactions/${target + 1000}/revert`), 404)
  t.same(await counts(h), before)

  const bare = await h.request('POST', `/transactions/${target}/revert`)
  t.equal(bare.status, 201, 'a POST without a body (and without content-type) is accepted')
  t.same(bare.body.transaction.revertOf, { transaction: target })
  t.same(bare.body.changes, dry.body.changes, 'the dry run answered what the revert did')
  t.equal((await state(h, 'article', '3')).status, 404)
})

eachDatabase('transaction revert: changes keep foreign keys valid both ways', async (t, h) => {
  await registerBlog(h)
  const inserted = await tx(h,
    ins('user', { id: 1, name: 'Ann' }), ins('article', { id: 1, title: 'A', author_id: 1 }),
    ins('comment', { id: 1, article_id: 1 }), ins('tag', { id: 1 }), link(1, 1))
  const undo = await h.post(`/transactions/${inserted}/revert`, { dryRun: true })
  t.same(undo.body.changes.map((c: any) => c.op), ['delete', 'delete', 'delete', 'delete', 'delete'])
  keepsForeignKeysValid(t, undo.body.changes)

  const deleted = await tx(h, unlink(1, 1), del('comment', '1'), del('article', '1'), del('user', '1'), del('tag', '1'))
  const redo = await h.post(`/transactions/${deleted}/revert`)
  t.equal(redo.status, 201)
  t.same(redo.body.changes.map((c: any) => c.op), ['insert', 'insert', 'insert', 'insert', 'insert'])
  keepsForeignKeysValid(t, redo.body.changes)
  t.same(redo.body.changes.slice(0, 2).map((c: any) => c.type).sort(), ['tag', 'user'], 'parents first')
  t.same(redo.body.changes.slice(3).map((c: any) => c.type).sort(), ['article_tag', 'comment'], 'children last')
})
