import type { Test } from 'tap'
import { performance } from 'node:perf_hooks'
import { buildApp } from '../src/http/app.js'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { del, ins, postChanges, tx, upd } from './helpers/changes.js'
import { keepsForeignKeysValid, sorted } from './helpers/revert.js'
import { migrate, migrateOk } from './helpers/migrations.js'

// API.md, "Schema changes (v2)" (issue 13), continued from schema-migrations.test.ts:
// a relation's foreignKey / localKey / remoteKey follows a rename of its field, and history
// reads the same relations across it; a migration while 16 writers write; another instance.


async function okGet (t: Test, h: Harness, url: string): Promise<any> {
  const res = await h.get(url)
  t.equal(res.status, 200, `GET ${url}: ${res.status === 200 ? '' : JSON.stringify(res.body)}`)
  return res.body
}

const dataOf = (list: any[]): any[] => list.map((v) => v.data)

async function verifies (t: Test, h: Harness): Promise<void> {
  const res = await h.post('/integrity/verify', {})
  t.equal(res.status, 200)
  t.equal(res.body.ok, true, `verify passes: ${JSON.stringify(res.body.problems)}`)
  t.strictSame(res.body.problems, [])
}

/** article —comments→ comment (article_id), comment —article→ article, article —tags→ tag through article_tag (own id). */
async function registerTypes (t: Test, h: Harness): Promise<void> {
  // The association type has an id of its own, so that its key fields can be renamed.
  t.equal((await h.put('/entity-types/article_tag', { idFields: ['id'] })).status, 201)
  t.equal((await h.put('/entity-types/article', {
    relations: {
      comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' },
      tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
    }
  })).status, 201)
  t.equal((await h.put('/entity-types/comment', { relations: { article: { kind: 'manyToOne', target: 'article', foreignKey: 'article_id' } } })).status, 201)
  t.equal((await h.put('/entity-types/tag', {})).status, 201)
  t.strictSame((await okGet(t, h, '/entity-types/article_tag')).definition.idFields, ['id'], 'the association type keeps its own id')
}

eachDatabase('a oneToMany / manyToOne foreign key follows a rename; relations read the same across it', async (t, h) => {
  await registerTypes(t, h)
  const t1 = await tx(h,
    ins('article', { id: 1, title: 'A' }), ins('article', { id: 2, title: 'Other' }),
    ins('comment', { id: 1, article_id: 1, text: 'c1' }),
    ins('comment', { id: 2, article_id: 1, text: 'c2' }),
    ins('comment', { id: 3, article_id: 2, text: 'c3' }))
  const t2 = await tx(h, upd('article', '1', { title: 'A2' }))

  const migrated = await migrateOk(t, h, 'comment', [{ op: 'renameField', from: 'article_id', to: 'post_id' }])
  t.strictSame(migrated.definition.relations, { article: { kind: 'manyToOne', target: 'article', foreignKey: 'post_id' } }, 'the manyToOne follows')
  t.strictSame((await okGet(t, h, '/entity-types/comment')).definition.relations.article.foreignKey, 'post_id')
  t.strictSame((await okGet(t, h, '/entity-types/article')).definition.relations.comments,
    { kind: 'oneToMany', target: 'comment', foreignKey: 'post_id' }, 'the oneToMany of the other type follows')

  const t3 = await tx(h, ins('comment', { id: 4, post_id: 1, text: 'c4' }), upd('comment', '2', { text: 'c2!' }))
  const old = await postChanges(h, [ins('comment', { id: 5, article_id: 1, text: 'c5' })])
  t.equal(old.status, 400, 'the old foreign key name is refused')
  t.match(old.body.detail, /"post_id"/)

  // As of the article's versions recorded before the rename.
  for (const at of [t1, t2]) {
    const v = await okGet(t, h, `/entities/article/1/versions/${at}?relations=comments`)
    t.strictSame(dataOf(v.relations.comments), [
      { id: 1, post_id: 1, text: 'c1' }, { id: 2, post_id: 1, text: 'c2' }
    ], `comments at ${at}: found through the renamed key, shown under the new name`)
  }
  t.strictSame(dataOf((await okGet(t, h, `/entities/article/2/versions/${t1}?relations=comments`)).relations.comments), [{ id: 3, post_id: 2, text: 'c3' }])
  const paged = await okGet(t, h, `/entities/article/1/versions/${t2}/relations/comments`)
  t.strictSame(dataOf(paged.items), [{ id: 1, post_id: 1, text: 'c1' }, { id: 2, post_id: 1, text: 'c2' }], 'the relation\'s own page too')
  // The article's state (its latest version is from before the rename), with comments written before and after.
  const now = await okGet(t, h, '/entities/article/1?relations=comments')
  t.equal(now.transactionId, t2)
  t.strictSame(dataOf(now.relations.comments), [
    { id: 1, post_id: 1, text: 'c1' }, { id: 2, post_id: 1, text: 'c2!' }, { id: 4, post_id: 1, text: 'c4' }
  ], 'comments written before and after the rename')
  t.strictSame(dataOf((await okGet(t, h, `/entities/article/1?at=${t3}&relations=comments`)).relations.comments).map((d) => d.id), [1, 2, 4])

  // The manyToOne from a comment's versions, before and after.
  const c1 = await okGet(t, h, `/entities/comment/1/versions/${t1}?relations=article`)
  t.strictSame([c1.data, c1.relations.article?.data], [{ id: 1, post_id: 1, text: 'c1' }, { id: 1, title: 'A' }])
  const c4 = await okGet(t, h, `/entities/comment/4/versions/${t3}?relations=article`)
  t.strictSame(c4.relations.article?.data, { id: 1, title: 'A2' })
  t.strictSame((await okGet(t, h, '/entities/comment/2?relations=article')).relations.article?.data, { id: 1, title: 'A2' })

  // Moving a comment with the new name, then reverting the article with its comments.
  await tx(h, upd('comment', '1', { post_id: 2 }), upd('article', '1', { title: 'A3' }))
  t.strictSame(dataOf((await okGet(t, h, '/entities/article/1?relations=comments')).relations.comments).map((d) => d.id), [2, 4])
  const dry = await h.post('/entities/article/1/revert', { to: t1, relations: ['comments'], dryRun: true })
  t.equal(dry.status, 200, JSON.stringify(dry.body))
  t.strictSame(sorted(dry.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A' } },
    { type: 'comment', op: 'update', id: '1', data: { post_id: 1 } },
    { type: 'comment', op: 'update', id: '2', data: { text: 'c2' } },
    { type: 'comment', op: 'delete', id: '4' }
  ], 'the revert\'s changes use the new foreign key name')
  const real = await h.post('/entities/article/1/revert', { to: t1, relations: ['comments'] })
  t.equal(real.status, 201, JSON.stringify(real.body))
  t.strictSame(real.body.changes, dry.body.changes)
  keepsForeignKeysValid(t, real.body.changes)
  t.strictSame(dataOf((await okGet(t, h, '/entities/article/1?relations=comments')).relations.comments), [
    { id: 1, post_id: 1, text: 'c1' }, { id: 2, post_id: 1, text: 'c2' }
  ])
  const revertComment = await h.post('/entities/comment/1/revert', { to: t1, relations: ['article'], dryRun: true })
  t.equal(revertComment.status, 200)
  t.strictSame(revertComment.body.changes, [], 'the comment and its article are already as they were then')
  await verifies(t, h)
})

eachDatabase('a manyToMany through a type with its own id: localKey and remoteKey follow renames in the association type', async (t, h) => {
  await registerTypes(t, h)
  const t1 = await tx(h,
    ins('article', { id: 1, title: 'A' }),
    ins('tag', { id: 1, name: 'one' }), ins('tag', { id: 2, name: 'two' }), ins('tag', { id: 3, name: 'three' }),
    ins('article_tag', { id: 10, article_id: 1, tag_id: 1 }),
    ins('article_tag', { id: 11, article_id: 1, tag_id: 3 }))
  const t2 = await tx(h, upd('article', '1', { title: 'A2' }))

  const migrated = await migrateOk(t, h, 'article_tag', [{ op: 'renameField', from: 'tag_id', to: 'label_id' }])
  t.equal(migrated.revision, 2)
  t.strictSame((await okGet(t, h, '/entity-types/article')).definition.relations.tags,
    { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'label_id' }, 'the remoteKey follows')
  t.strictSame((await okGet(t, h, '/entities/article_tag/10')).data, { id: 10, article_id: 1, label_id: 1 })

  const t3 = await tx(h, ins('article_tag', { id: 12, article_id: 1, label_id: 2 }), del('article_tag', '11'))
  const old = await postChanges(h, [ins('article_tag', { id: 13, article_id: 1, tag_id: 2 })])
  t.equal(old.status, 400)
  t.match(old.body.detail, /"label_id"/)

  for (const at of [t1, t2]) {
    const v = await okGet(t, h, `/entities/article/1/versions/${at}?relations=tags`)
    t.strictSame(dataOf(v.relations.tags), [{ id: 1, name: 'one' }, { id: 3, name: 'three' }], `tags at ${at}: old links`)
  }
  const now = await okGet(t, h, '/entities/article/1?relations=tags')
  t.strictSame(dataOf(now.relations.tags), [{ id: 1, name: 'one' }, { id: 2, name: 'two' }], 'an old link and a new one')
  t.strictSame(dataOf((await okGet(t, h, `/entities/article/1?at=${t3}&relations=tags`)).relations.tags).map((d) => d.id), [1, 2])
  t.strictSame(dataOf((await okGet(t, h, `/entities/article/1/versions/${t2}/relations/tags`)).items).map((d) => d.id), [1, 3])

  // The local key too, in a later migration.
  await migrateOk(t, h, 'article_tag', [{ op: 'renameField', from: 'article_id', to: 'post_id' }])
  t.strictSame((await okGet(t, h, '/entity-types/article')).definition.relations.tags,
    { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'post_id', remoteKey: 'label_id' }, 'the localKey follows')
  const t4 = await tx(h, ins('article_tag', { id: 14, post_id: 1, label_id: 3 }))
  t.strictSame(dataOf((await okGet(t, h, `/entities/article/1/versions/${t1}?relations=tags`)).relations.tags).map((d) => d.id), [1, 3])
  t.strictSame(dataOf((await okGet(t, h, `/entities/article/1?at=${t4}&relations=tags`)).relations.tags).map((d) => d.id), [1, 2, 3])
  t.strictSame((await okGet(t, h, `/entities/article_tag/11/versions/${t1}`)).data, { id: 11, post_id: 1, label_id: 3 })

  const dry = await h.post('/entities/article/1/revert', { to: t1, relations: ['tags'], dryRun: true })
  t.equal(dry.status, 200, JSON.stringify(dry.body))
  t.strictSame(sorted(dry.body.changes), [
    { type: 'article', op: 'update', id: '1', data: { title: 'A' } },
    { type: 'article_tag', op: 'insert', id: '11', data: { id: 11, post_id: 1, label_id: 3 } },
    { type: 'article_tag', op: 'delete', id: '12' },
    { type: 'article_tag', op: 'delete', id: '14' }
  ], 'membership as it was, in the new names')
  const real = await h.post('/entities/article/1/revert', { to: t1, relations: ['tags'] })
  t.equal(real.status, 201, JSON.stringify(real.body))
  t.strictSame(dataOf((await okGet(t, h, '/entities/article/1?relations=tags')).relations.tags).map((d) => d.id), [1, 3])
  await verifies(t, h)
})

eachDatabase('a migration while 16 writers write: chains intact, no write under the old name after the answer', async (t, h) => {
  t.equal((await h.put('/entity-types/thing', {})).status, 201)
  const ENTITIES = 4
  const WRITERS = 16
  const WRITES = 12
  await tx(h, ...Array.from({ length: ENTITIES }, (_, i) => ins('thing', { id: i, name: 'start', n: 0 })))

  interface Sent { writer: number, field: 'name' | 'title', sentAt: number, status: number, detail: string, transactionId: number | null }
  const sent: Sent[] = []
  let answeredAt = Number.POSITIVE_INFINITY
  let migrationAnswered = false
  let successes = 0
  let stopped = false

  const migration = (async () => {
    while (successes < 24 && !stopped) await new Promise((resolve) => setTimeout(resolve, 1))
    const res = await migrate(h, 'thing', [{ op: 'renameField', from: 'name', to: 'title' }])
    answeredAt = performance.now()
    migrationAnswered = true
    return res
  })()
  const send = async (w: number, i: number, field: 'name' | 'title'): Promise<Sent> => {
    const id = String((w + i) % ENTITIES)
    const sentAt = performance.now()
    // n changes with every write (it starts at 0): each write makes a version.
    const res = await postChanges(h, [upd('thing', id, { [field]: `w${w}-${i}`, n: w * 1000 + i + 1 })])
    const detail = typeof res.body?.detail === 'string' ? res.body.detail : ''
    const one: Sent = { writer: w, field, sentAt, status: res.status, detail, transactionId: res.body?.transaction?.id ?? null }
    sent.push(one)
    return one
  }
  // Writers w % 2 = 0 switch to title once they see the migration answered or get a 400;
  // w % 4 = 1 on the 400; w % 4 = 3 are stale: they retry the old name until the migration
  // has answered, and once more after it, so that old names are sent after the answer.
  const writer = async (w: number): Promise<void> => {
    let field: 'name' | 'title' = 'name'
    for (let i = 0; i < WRITES;) {
      if (w % 2 === 0 && migrationAnswered) field = 'title'
      const before = migrationAnswered
      const res = await send(w, i, field)
      if (res.status === 201) {
        successes++
        i++
      } else if (res.status === 400 && field === 'name' && res.detail.includes('title')) {
        if (w % 4 !== 3 || before) field = 'title'
        else await new Promise((resolve) => setTimeout(resolve, 2))
      } else {
        stopped = true
        throw new Error(`writer ${w}: ${res.status} ${JSON.stringify(res)}`)
      }
    }
    if (w % 4 === 3) {
      await migration
      await send(w, WRITES, 'name')
    }
  }
  const [migrated] = await Promise.all([migration, ...Array.from({ length: WRITERS }, async (_, w) => { await writer(w) })])
  t.equal(migrated.status, 200, JSON.stringify(migrated.body))
  t.equal(migrated.body.revision, 2)

  const ok = sent.filter((s) => s.status === 201)
  t.equal(ok.length, WRITERS * WRITES, 'every writer made all its writes')
  const lateOld = sent.filter((s) => s.field === 'name' && s.sentAt > answeredAt)
  t.strictSame(lateOld.filter((s) => s.status !== 400), [], 'no write sent with the old name after the migration answered succeeded')
  t.ok(lateOld.length >= WRITERS / 4, `old names were sent after the answer (${lateOld.length})`)
  t.ok(lateOld.every((s) => /"title"/.test(s.detail)), 'each refusal names the new field')
  t.strictSame(sent.filter((s) => s.field === 'title' && s.status !== 201), [], 'every write with the new name succeeded')
  t.ok(sent.some((s) => s.field === 'name' && s.status === 201), 'some writes with the old name were recorded before the migration')
  t.ok(sent.some((s) => s.field === 'title' && s.status === 201), 'some with the new name after')
  t.comment(`${sent.filter((s) => s.field === 'name' && s.status === 201).length} writes with name, ${lateOld.length} refused after the answer`)

  let total = 0
  for (let e = 0; e < ENTITIES; e++) {
    const items = (await okGet(t, h, `/entities/thing/${e}/versions?limit=1000`)).items
    total += items.length
    t.strictSame(items.map((v: any) => v.index), items.map((_: any, i: number) => i), `thing ${e}: indexes 0..n-1`)
    t.strictSame(items.map((v: any, i: number) => v.endTransactionId === (items[i + 1]?.transactionId ?? null)), items.map(() => true), `thing ${e}: each version ends where the next begins`)
    t.strictSame(items.filter((v: any) => 'name' in v.data || 'name' in v.changeset || !('title' in v.data)), [], `thing ${e}: every version shows title, never name`)
    t.strictSame(items.slice(1).filter((v: any) => Object.keys(v.changeset).sort().join() !== 'n,title'), [], `thing ${e}: every update changed title and n, the rename is no change`)
    const recorded = (await okGet(t, h, `/entities/thing/${e}/versions?asRecorded=true&limit=1000`)).items
    const fields = recorded.map((v: any) => ('title' in v.data ? 'T' : 'N')).join('')
    t.match(fields, /^N*T*$/, `thing ${e}: stored under name, then under title, never name again after title`)
  }
  t.equal(total, ENTITIES + WRITERS * WRITES, 'one version per insert and per recorded write')
  const titleTx = ok.filter((s) => s.field === 'title').map((s) => s.transactionId!)
  const nameTx = ok.filter((s) => s.field === 'name').map((s) => s.transactionId!)
  t.ok(Math.max(...nameTx) < Math.min(...titleTx), 'every write recorded with name comes before every write with title')
  await verifies(t, h)
})

eachDatabase('another instance on the same database refuses the old name as soon as the migration answered', async (t, h) => {
  t.equal((await h.put('/entity-types/thing', {})).status, 201)
  await tx(h, ins('thing', { id: 1, name: 'A', n: 0 }))
  const other = await buildApp({ db: h.db, closeDatabase: false })
  t.teardown(async () => { await other.close() })
  const onOther = async (method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await other.inject({ method, url, headers: { authorization: `Bearer ${h.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    return { status: res.statusCode, body: JSON.parse(res.body) }
  }
  // The other instance has the type, and the entity's latest version, in its caches.
  t.equal((await onOther('POST', '/transactions', { changes: [upd('thing', '1', { name: 'B' })] })).status, 201)
  t.equal((await onOther('GET', '/entities/thing/1/versions')).status, 200)

  await migrateOk(t, h, 'thing', [{ op: 'renameField', from: 'name', to: 'title' }])
  const stale = await onOther('POST', '/transactions', { changes: [upd('thing', '1', { name: 'C' })] })
  t.equal(stale.status, 400, `the old name, right after the answer: ${JSON.stringify(stale.body)}`)
  t.match(stale.body.detail, /"title"/)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // a type change is seen by every instance within 1 s
  t.strictSame((await onOther('GET', '/entities/thing/1/versions')).body.items.map((v: any) => [v.data, v.changeset]), [
    [{ id: 1, title: 'A', n: 0 }, { id: [null, 1], title: [null, 'A'], n: [null, 0] }],
    [{ id: 1, title: 'B', n: 0 }, { title: ['A', 'B'] }]
  ])
  t.strictSame((await onOther('POST', '/transactions', { changes: [upd('thing', '1', { title: 'B' })] })).body, { transaction: null, versions: [] },
    'the other instance: a rename is not a change')
  const next = await onOther('POST', '/transactions', { changes: [upd('thing', '1', { title: 'D' })] })
  t.equal(next.status, 201)
  t.strictSame(next.body.versions[0].changeset, { title: ['B', 'D'] })
  await verifies(t, h)
})
