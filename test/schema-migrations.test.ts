import type { Test } from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, postChanges, tx, upd } from './helpers/changes.js'
import { allRevisions, isTimestamp } from './helpers/entity-types.js'
import { shape, sorted } from './helpers/revert.js'
import { migrate, migrateOk } from './helpers/migrations.js'

// API.md, "Schema changes (v2)" (issue 13): POST /entity-types/{type}/migrations renames,
// drops and adds fields; every read presents history in the current schema, the stored form
// stays as recorded (?asRecorded=true), a rename is not a change, old names are refused on
// write, and verify still passes. Relations across a rename and concurrent writers are in
// schema-migrations-relations.test.ts.

const PLAIN = { idFields: ['id'], exclude: [], relations: {} }


/** Every version of an entity (one page), with a query string such as `?asRecorded=true`. */
async function versionsOf (t: Test, h: Harness, type: string, id: string, query = ''): Promise<any[]> {
  const sep = query === '' ? '?' : '&'
  const res = await h.get(`/entities/${type}/${id}/versions${query}${sep}limit=1000`)
  t.equal(res.status, 200, `GET versions of ${type} ${id}${query}`)
  return res.body.items
}

/** What a user compares of a version: transaction, operation, data, changeset. */
const seen = (v: any): unknown[] => [v.transactionId, v.operation, v.data, v.changeset]

async function okGet (t: Test, h: Harness, url: string): Promise<any> {
  const res = await h.get(url)
  t.equal(res.status, 200, `GET ${url}: ${res.status === 200 ? '' : JSON.stringify(res.body)}`)
  return res.body
}

const revisionOf = async (h: Harness, type: string): Promise<number> => (await h.get(`/entity-types/${type}`)).body.revision

async function verifies (t: Test, h: Harness): Promise<void> {
  const res = await h.post('/integrity/verify', {})
  t.equal(res.status, 200)
  t.equal(res.body.ok, true, `verify passes: ${JSON.stringify(res.body.problems)}`)
  t.strictSame(res.body.problems, [])
}

eachDatabase('renameField: every read and both reverts speak the new name; asRecorded the old one', async (t, h) => {
  t.equal((await h.put('/entity-types/post', {})).status, 201)
  const t1 = await tx(h, ins('post', { id: 1, name: 'A', body: 'x' }), ins('post', { id: 2, name: 'P', body: 'p' }))
  const t2 = await tx(h, upd('post', '1', { name: 'B' }))
  const t3 = await tx(h, upd('post', '1', { body: 'y' }))
  const t4 = await tx(h, upd('post', '2', { name: 'Q' }))
  const t5 = await tx(h, ins('post', { id: 3, name: 'Z', body: null }))
  const t6 = await tx(h, del('post', '3'))
  const before = await h.get('/entities/post/1/versions')
  const storedVersions = await h.count('versions')
  const storedTransactions = await h.count('transactions')

  const migrated = await migrateOk(t, h, 'post', [{ op: 'renameField', from: 'name', to: 'title' }])
  t.strictSame(Object.keys(migrated).sort(), ['createdAt', 'definition', 'revision', 'type', 'updatedAt'], 'the answer is the type')
  t.equal(migrated.type, 'post')
  t.equal(migrated.revision, 2, 'the revision rises by one')
  t.strictSame(migrated.definition, PLAIN, 'the definition is unchanged')
  t.ok(isTimestamp(migrated.createdAt) && isTimestamp(migrated.updatedAt))
  t.strictSame((await okGet(t, h, '/entity-types/post')).revision, 2)
  t.equal(await h.count('versions'), storedVersions, 'a migration records no version')
  t.equal(await h.count('transactions'), storedTransactions, 'a migration records no transaction')

  const revisions = (await allRevisions(h, 'post')).sort((a, b) => a.revision - b.revision)
  t.strictSame(revisions.map((r) => r.revision), [1, 2])
  t.strictSame(Object.keys(revisions[0]).sort(), ['createdAt', 'definition', 'revision'], 'a PUT revision has no operations')
  t.strictSame(Object.keys(revisions[1]).sort(), ['createdAt', 'definition', 'operations', 'revision'])
  t.strictSame(revisions[1].operations, [{ op: 'renameField', from: 'name', to: 'title' }], 'the revision keeps the operations that made it')
  t.strictSame(revisions[1].definition, PLAIN)

  // The versions list and one version.
  const expected = [
    [t1, 'insert', { id: 1, title: 'A', body: 'x' }, { id: [null, 1], title: [null, 'A'], body: [null, 'x'] }],
    [t2, 'update', { id: 1, title: 'B', body: 'x' }, { title: ['A', 'B'] }],
    [t3, 'update', { id: 1, title: 'B', body: 'y' }, { body: ['x', 'y'] }]
  ]
  const list = await versionsOf(t, h, 'post', '1')
  t.strictSame(list.map(seen), expected, 'versions: data and changesets under the new name')
  t.strictSame(list.map((v) => [v.index, v.endTransactionId, v.hash]), before.body.items.map((v: any) => [v.index, v.endTransactionId, v.hash]),
    'index, endTransactionId and hash are those recorded')
  t.strictSame((await versionsOf(t, h, 'post', '1', '?order=desc')).map(seen), [...expected].reverse())
  const recorded = await versionsOf(t, h, 'post', '1', '?asRecorded=true')
  t.strictSame(recorded.map(seen), [
    [t1, 'insert', { id: 1, name: 'A', body: 'x' }, { id: [null, 1], name: [null, 'A'], body: [null, 'x'] }],
    [t2, 'update', { id: 1, name: 'B', body: 'x' }, { name: ['A', 'B'] }],
    [t3, 'update', { id: 1, name: 'B', body: 'y' }, { body: ['x', 'y'] }]
  ], '?asRecorded=true: the stored form')
  t.strictSame(recorded.map((v) => v.hash), list.map((v) => v.hash))
  for (const [i, v] of list.entries()) {
    const one = await okGet(t, h, `/entities/post/1/versions/${v.transactionId as number}`)
    t.strictSame(seen(one), expected[i], `version ${i}: the new name`)
    const { previous: _p, next: _n, transaction: _t, ...version } = one
    t.strictSame(version, v, `version ${i}: the same as in the list`)
    const stored = await okGet(t, h, `/entities/post/1/versions/${v.transactionId as number}?asRecorded=true`)
    t.strictSame(seen(stored), seen(recorded[i]), `version ${i}?asRecorded=true: the stored form`)
  }

  // States, changesets between transactions, transactions.
  t.strictSame(await okGet(t, h, '/entities/post/1'), { type: 'post', id: '1', data: { id: 1, title: 'B', body: 'y' }, transactionId: t3 })
  t.strictSame(await okGet(t, h, `/entities/post/1?at=${t2}`), { type: 'post', id: '1', data: { id: 1, title: 'B', body: 'x' }, transactionId: t2 })
  t.strictSame(await okGet(t, h, `/entities/post/1?at=${t1}`), { type: 'post', id: '1', data: { id: 1, title: 'A', body: 'x' }, transactionId: t1 })
  t.strictSame(await okGet(t, h, `/entities/post/1/changeset?from=${t1}&to=${t3}`), { title: ['A', 'B'], body: ['x', 'y'] })
  t.strictSame(await okGet(t, h, `/entities/post/1/changeset?from=${t2}&to=${t3}`), { body: ['x', 'y'] })
  t.strictSame(await okGet(t, h, `/entities/post/1/changeset?from=${t3}&to=${t1}`), { title: ['B', 'A'], body: ['y', 'x'] })
  const first = await okGet(t, h, `/transactions/${t1}`)
  t.strictSame(first.versions.map((v: any) => [v.id, v.data, v.changeset]), [
    ['1', { id: 1, title: 'A', body: 'x' }, { id: [null, 1], title: [null, 'A'], body: [null, 'x'] }],
    ['2', { id: 2, title: 'P', body: 'p' }, { id: [null, 2], title: [null, 'P'], body: [null, 'p'] }]
  ], 'GET /transactions/{id}: its versions under the new name')
  const firstVersions = await okGet(t, h, `/transactions/${t1}/versions`)
  t.strictSame(firstVersions.items.map((v: any) => v.data), [{ id: 1, title: 'A', body: 'x' }, { id: 2, title: 'P', body: 'p' }], 'GET /transactions/{id}/versions')
  const deleted = await okGet(t, h, `/entities/post/3/versions/${t6}`)
  t.strictSame([deleted.operation, deleted.data, deleted.changeset], ['delete', { id: 3, title: 'Z', body: null }, { id: [3, null], title: ['Z', null] }])

  // Reverts: entity (dry run), transaction (dry run and real).
  const dry = await h.post('/entities/post/1/revert', { to: t1, dryRun: true })
  t.equal(dry.status, 200)
  t.strictSame(dry.body.changes, [{ type: 'post', op: 'update', id: '1', data: { title: 'A', body: 'x' } }], 'entity revert (dry run): the new name')
  const txDry = await h.post(`/transactions/${t4}/revert`, { dryRun: true })
  t.equal(txDry.status, 200)
  t.strictSame(txDry.body.changes, [{ type: 'post', op: 'update', id: '2', data: { title: 'P' } }], 'transaction revert (dry run): the new name')
  const txReal = await h.post(`/transactions/${t4}/revert`, {})
  t.equal(txReal.status, 201, JSON.stringify(txReal.body))
  t.strictSame(txReal.body.changes, txDry.body.changes)
  t.strictSame(txReal.body.versions.map((v: any) => [v.data, v.changeset]), [[{ id: 2, title: 'P', body: 'p' }, { title: ['Q', 'P'] }]])
  const undelete = await h.post(`/transactions/${t6}/revert`, {})
  t.equal(undelete.status, 201, JSON.stringify(undelete.body))
  t.strictSame(undelete.body.changes, [{ type: 'post', op: 'insert', id: '3', data: { id: 3, title: 'Z', body: null } }], 'a delete undone: an insert of the state under the new name')
  t.equal((await h.get(`/entities/post/3/versions/${t5}`)).body.data.title, 'Z')

  // Writes: the old name is refused, a rename is not a change, the new name works.
  const count = await h.count('versions')
  const oldUpdate = await postChanges(h, [upd('post', '1', { name: 'C' })])
  assertProblem(t, oldUpdate, 400, 'an update with the old name')
  t.match(oldUpdate.body.detail, /"title"/, 'the problem names the new field')
  const oldInsert = await postChanges(h, [ins('post', { id: 9, name: 'N' })])
  assertProblem(t, oldInsert, 400, 'an insert with the old name')
  t.match(oldInsert.body.detail, /"title"/)
  const mixed = await postChanges(h, [ins('post', { id: 10, title: 'ok' }), upd('post', '1', { body: 'z', name: 'C' })])
  assertProblem(t, mixed, 400, 'a transaction with one change using the old name')
  t.equal(await h.count('versions'), count, 'nothing recorded')
  t.equal((await h.get('/entities/post/10')).status, 404)

  for (const data of [{ title: 'B' }, { title: 'B', body: 'y' }]) {
    const same = await postChanges(h, [upd('post', '1', data)])
    t.equal(same.status, 200, `${JSON.stringify(data)}: same values`)
    t.strictSame(same.body, { transaction: null, versions: [] }, 'a rename is not a change: no version')
  }
  const real = await postChanges(h, [upd('post', '1', { title: 'C' })])
  t.equal(real.status, 201)
  const t7 = real.body.transaction.id
  t.strictSame([real.body.versions[0].index, real.body.versions[0].data, real.body.versions[0].changeset],
    [3, { id: 1, title: 'C', body: 'y' }, { title: ['B', 'C'] }])
  const body = await postChanges(h, [upd('post', '1', { body: 'z' })])
  t.strictSame(body.body.versions[0].changeset, { body: ['y', 'z'] }, 'the next change does not mention the renamed field')
  const t8 = body.body.transaction.id
  t.strictSame((await versionsOf(t, h, 'post', '1', '?asRecorded=true')).slice(3).map((v) => v.data),
    [{ id: 1, title: 'C', body: 'y' }, { id: 1, title: 'C', body: 'z' }], 'written after the rename: stored under the new name')
  t.strictSame(await okGet(t, h, `/entities/post/1/changeset?from=${t2}&to=${t8}`), { title: ['B', 'C'], body: ['x', 'z'] }, 'a changeset across the rename')
  const inserted = await postChanges(h, [ins('post', { id: 4, title: 'new', body: 'b' })])
  t.equal(inserted.status, 201)
  t.strictSame(inserted.body.versions[0].changeset, { id: [null, 4], title: [null, 'new'], body: [null, 'b'] })

  // A real entity revert across the rename.
  const back = await h.post('/entities/post/1/revert', { to: t1 })
  t.equal(back.status, 201)
  t.strictSame(back.body.changes, [{ type: 'post', op: 'update', id: '1', data: { title: 'A', body: 'x' } }])
  t.strictSame(back.body.versions.map((v: any) => [v.data, v.changeset]), [[{ id: 1, title: 'A', body: 'x' }, { title: ['C', 'A'], body: ['z', 'x'] }]])
  const toMiddle = await h.post('/entities/post/1/revert', { to: t7, dryRun: true })
  t.strictSame(toMiddle.body.changes, [{ type: 'post', op: 'update', id: '1', data: { title: 'C', body: 'y' } }])
  await verifies(t, h)
})

eachDatabase('dropField: the field is gone from data, changesets, states and reverts; it stays stored', async (t, h) => {
  t.equal((await h.put('/entity-types/doc', {})).status, 201)
  const t1 = await tx(h, ins('doc', { id: 1, title: 'A', secret: 's1' }))
  const t2 = await tx(h, upd('doc', '1', { secret: 's2' }))
  const t3 = await tx(h, upd('doc', '1', { title: 'B', secret: 's3' }))
  await tx(h, ins('doc', { id: 2, title: 'D', secret: 's' }))
  const t5 = await tx(h, del('doc', '2'))

  const migrated = await migrateOk(t, h, 'doc', [{ op: 'dropField', field: 'secret' }])
  t.equal(migrated.revision, 2)
  t.strictSame((await allRevisions(h, 'doc')).find((r) => r.revision === 2)?.operations, [{ op: 'dropField', field: 'secret' }])

  t.strictSame((await versionsOf(t, h, 'doc', '1')).map(seen), [
    [t1, 'insert', { id: 1, title: 'A' }, { id: [null, 1], title: [null, 'A'] }],
    [t2, 'update', { id: 1, title: 'A' }, {}],
    [t3, 'update', { id: 1, title: 'B' }, { title: ['A', 'B'] }]
  ], 'the dropped field is gone from data and changesets (a version that changed only it has an empty changeset)')
  t.strictSame((await versionsOf(t, h, 'doc', '1', '?asRecorded=true')).map((v) => v.data), [
    { id: 1, title: 'A', secret: 's1' }, { id: 1, title: 'A', secret: 's2' }, { id: 1, title: 'B', secret: 's3' }
  ], '?asRecorded=true: still stored')
  const one = await okGet(t, h, `/entities/doc/1/versions/${t2}`)
  t.strictSame([one.data, one.changeset], [{ id: 1, title: 'A' }, {}])
  const oneRecorded = await okGet(t, h, `/entities/doc/1/versions/${t2}?asRecorded=true`)
  t.strictSame([oneRecorded.data, oneRecorded.changeset], [{ id: 1, title: 'A', secret: 's2' }, { secret: ['s1', 's2'] }])
  t.strictSame((await okGet(t, h, '/entities/doc/1')).data, { id: 1, title: 'B' })
  t.strictSame((await okGet(t, h, `/entities/doc/1?at=${t1}`)).data, { id: 1, title: 'A' })
  t.strictSame(await okGet(t, h, `/entities/doc/1/changeset?from=${t1}&to=${t2}`), {})
  t.strictSame(await okGet(t, h, `/entities/doc/1/changeset?from=${t1}&to=${t3}`), { title: ['A', 'B'] })
  t.strictSame((await okGet(t, h, `/transactions/${t1}`)).versions.map((v: any) => [v.data, v.changeset]),
    [[{ id: 1, title: 'A' }, { id: [null, 1], title: [null, 'A'] }]])
  t.strictSame((await okGet(t, h, `/entities/doc/2/versions/${t5}`)).changeset, { id: [2, null], title: ['D', null] })

  const dry = await h.post('/entities/doc/1/revert', { to: t2, dryRun: true })
  t.strictSame(dry.body.changes, [{ type: 'doc', op: 'update', id: '1', data: { title: 'A' } }], 'entity revert: no dropped field')
  const undelete = await h.post(`/transactions/${t5}/revert`, { dryRun: true })
  t.strictSame(undelete.body.changes, [{ type: 'doc', op: 'insert', id: '2', data: { id: 2, title: 'D' } }], 'transaction revert: no dropped field')

  const next = await postChanges(h, [upd('doc', '1', { title: 'C' })])
  t.equal(next.status, 201)
  t.strictSame([next.body.versions[0].data, next.body.versions[0].changeset], [{ id: 1, title: 'C' }, { title: ['B', 'C'] }],
    'a write after the drop does not bring the dropped value back')
  t.strictSame((await okGet(t, h, '/entities/doc/1')).data, { id: 1, title: 'C' })
  const revertBack = await h.post('/entities/doc/1/revert', { to: t1 })
  t.equal(revertBack.status, 201)
  t.strictSame(revertBack.body.changes, [{ type: 'doc', op: 'update', id: '1', data: { title: 'A' } }])
  t.strictSame(revertBack.body.versions[0].data, { id: 1, title: 'A' })
  await verifies(t, h)
})

eachDatabase('addField: the default shows in data where a version had no value, never in changesets', async (t, h) => {
  t.equal((await h.put('/entity-types/note', {})).status, 201)
  const t1 = await tx(h, ins('note', { id: 1, text: 'a' }))
  const t2 = await tx(h, upd('note', '1', { text: 'b' }))
  await tx(h, ins('note', { id: 3, text: 'z' }))
  const t4 = await tx(h, del('note', '3'))

  const ops = [
    { op: 'addField', field: 'status', default: 'draft' },
    { op: 'addField', field: 'tags', default: [] },
    { op: 'addField', field: 'meta', default: { a: 1, b: [true, null] } },
    { op: 'addField', field: 'owner', default: null }
  ]
  const migrated = await migrateOk(t, h, 'note', ops)
  t.equal(migrated.revision, 2, 'several operations in one request raise the revision once')
  const revisions = await allRevisions(h, 'note')
  t.equal(revisions.length, 2)
  t.strictSame(revisions.find((r) => r.revision === 2)?.operations, ops)

  const D = { status: 'draft', tags: [], meta: { a: 1, b: [true, null] }, owner: null }
  t.strictSame((await versionsOf(t, h, 'note', '1')).map(seen), [
    [t1, 'insert', { id: 1, text: 'a', ...D }, { id: [null, 1], text: [null, 'a'] }],
    [t2, 'update', { id: 1, text: 'b', ...D }, { text: ['a', 'b'] }]
  ], 'defaults in data, not in changesets')
  t.strictSame((await versionsOf(t, h, 'note', '1', '?asRecorded=true')).map((v) => v.data), [{ id: 1, text: 'a' }, { id: 1, text: 'b' }])
  const one = await okGet(t, h, `/entities/note/1/versions/${t1}`)
  t.strictSame([one.data, one.changeset], [{ id: 1, text: 'a', ...D }, { id: [null, 1], text: [null, 'a'] }])
  t.strictSame((await okGet(t, h, `/entities/note/1/versions/${t1}?asRecorded=true`)).data, { id: 1, text: 'a' })
  t.strictSame((await okGet(t, h, '/entities/note/1')).data, { id: 1, text: 'b', ...D })
  t.strictSame((await okGet(t, h, `/entities/note/1?at=${t1}`)).data, { id: 1, text: 'a', ...D })
  t.strictSame(await okGet(t, h, `/entities/note/1/changeset?from=${t1}&to=${t2}`), { text: ['a', 'b'] })
  t.strictSame((await okGet(t, h, `/transactions/${t2}`)).versions.map((v: any) => v.data), [{ id: 1, text: 'b', ...D }])
  const deleted = await okGet(t, h, `/entities/note/3/versions/${t4}`)
  t.strictSame([deleted.data, deleted.changeset], [{ id: 3, text: 'z', ...D }, { id: [3, null], text: ['z', null] }])

  const undelete = await h.post(`/transactions/${t4}/revert`, { dryRun: true })
  t.strictSame(undelete.body.changes, [{ type: 'note', op: 'insert', id: '3', data: { id: 3, text: 'z', ...D } }], 'an insert carries the defaults')

  // Writes after the add: the previous state has the defaults.
  const text = await postChanges(h, [upd('note', '1', { text: 'c' })])
  t.equal(text.status, 201)
  t.strictSame([text.body.versions[0].data, text.body.versions[0].changeset], [{ id: 1, text: 'c', ...D }, { text: ['b', 'c'] }])
  const same = await postChanges(h, [upd('note', '1', { status: 'draft', owner: null })])
  t.strictSame([same.status, same.body], [200, { transaction: null, versions: [] }], 'setting a field to its default (as the previous state shows it) is no change')
  const status = await postChanges(h, [upd('note', '1', { status: 'published' })])
  t.equal(status.status, 201)
  t.strictSame([status.body.versions[0].data, status.body.versions[0].changeset], [{ id: 1, text: 'c', ...D, status: 'published' }, { status: ['draft', 'published'] }])
  const fresh = await postChanges(h, [ins('note', { id: 2, text: 'n', status: 's', tags: ['x'], meta: {}, owner: 'u' })])
  t.equal(fresh.status, 201)
  t.strictSame((await okGet(t, h, '/entities/note/2')).data, { id: 2, text: 'n', status: 's', tags: ['x'], meta: {}, owner: 'u' })

  const back = await h.post('/entities/note/1/revert', { to: t1 })
  t.equal(back.status, 201)
  t.strictSame(back.body.changes, [{ type: 'note', op: 'update', id: '1', data: { text: 'a', status: 'draft' } }], 'a revert to before the add brings the default back')
  t.strictSame((await okGet(t, h, '/entities/note/1')).data, { id: 1, text: 'a', ...D })
  await verifies(t, h)
})

eachDatabase('chains compose: a → b then b → c; old names are refused naming the current one', async (t, h) => {
  t.equal((await h.put('/entity-types/item', {})).status, 201)
  const t1 = await tx(h, ins('item', { id: 1, name: 'A' }))
  t.equal((await migrateOk(t, h, 'item', [{ op: 'renameField', from: 'name', to: 'title' }])).revision, 2)
  const t2 = await tx(h, upd('item', '1', { title: 'B' }))
  t.equal((await migrateOk(t, h, 'item', [{ op: 'renameField', from: 'title', to: 'heading' }])).revision, 3)
  const t3 = await tx(h, upd('item', '1', { heading: 'C' }))

  t.strictSame((await versionsOf(t, h, 'item', '1')).map(seen), [
    [t1, 'insert', { id: 1, heading: 'A' }, { id: [null, 1], heading: [null, 'A'] }],
    [t2, 'update', { id: 1, heading: 'B' }, { heading: ['A', 'B'] }],
    [t3, 'update', { id: 1, heading: 'C' }, { heading: ['B', 'C'] }]
  ], 'versions of every revision under the current name')
  t.strictSame((await versionsOf(t, h, 'item', '1', '?asRecorded=true')).map((v) => v.data),
    [{ id: 1, name: 'A' }, { id: 1, title: 'B' }, { id: 1, heading: 'C' }], 'each stored under its own revision\'s name')
  t.strictSame((await okGet(t, h, `/entities/item/1?at=${t1}`)).data, { id: 1, heading: 'A' })
  t.strictSame(await okGet(t, h, `/entities/item/1/changeset?from=${t1}&to=${t3}`), { heading: ['A', 'C'] })
  t.strictSame((await h.post('/entities/item/1/revert', { to: t1, dryRun: true })).body.changes,
    [{ type: 'item', op: 'update', id: '1', data: { heading: 'A' } }])
  for (const old of ['name', 'title']) {
    const res = await postChanges(h, [upd('item', '1', { [old]: 'X' })])
    assertProblem(t, res, 400, `a write with ${old}`)
    t.match(res.body.detail, /"heading"/, `${old}: the problem names the current field`)
  }
  t.strictSame((await postChanges(h, [upd('item', '1', { heading: 'C' })])).body, { transaction: null, versions: [] })
  const revisions = (await allRevisions(h, 'item')).sort((a, b) => a.revision - b.revision)
  t.strictSame(revisions.map((r) => r.operations ?? null), [null,
    [{ op: 'renameField', from: 'name', to: 'title' }], [{ op: 'renameField', from: 'title', to: 'heading' }]])
})

eachDatabase('a rename then a new field with the old name; a drop then an add of the same name', async (t, h) => {
  t.equal((await h.put('/entity-types/card', {})).status, 201)
  t.equal((await h.put('/entity-types/box', {})).status, 201)
  const t1 = await tx(h, ins('card', { id: 1, name: 'A', n: 1 }), ins('box', { id: 1, color: 'red', size: 1 }))
  const t2 = await tx(h, upd('box', '1', { color: 'blue' }))

  // card: name → title and a new `name`, in one request (applied in order).
  const card = await migrateOk(t, h, 'card', [{ op: 'renameField', from: 'name', to: 'title' }, { op: 'addField', field: 'name', default: 'untitled' }])
  t.equal(card.revision, 2)
  t.strictSame((await versionsOf(t, h, 'card', '1')).map(seen), [
    [t1, 'insert', { id: 1, title: 'A', n: 1, name: 'untitled' }, { id: [null, 1], title: [null, 'A'], n: [null, 1] }]
  ], 'the old value under the new name, the added field\'s default under the old name')
  t.strictSame((await versionsOf(t, h, 'card', '1', '?asRecorded=true')).map((v) => v.data), [{ id: 1, name: 'A', n: 1 }])
  t.strictSame((await okGet(t, h, '/entities/card/1')).data, { id: 1, title: 'A', n: 1, name: 'untitled' })
  const dry = await h.post('/entities/card/1/revert', { to: t1, dryRun: true })
  t.strictSame(dry.body.changes, [], 'nothing to revert: the state is the same')
  const named = await postChanges(h, [upd('card', '1', { name: 'fresh' })])
  t.equal(named.status, 201, 'writing the old name is fine again: it is the new field')
  t.strictSame([named.body.versions[0].data, named.body.versions[0].changeset], [{ id: 1, title: 'A', n: 1, name: 'fresh' }, { name: ['untitled', 'fresh'] }])
  t.equal((await postChanges(h, [ins('card', { id: 2, title: 't', name: 'm' })])).status, 201)
  t.strictSame((await okGet(t, h, '/entities/card/2')).data, { id: 2, title: 't', name: 'm' })
  const back = await h.post('/entities/card/1/revert', { to: t1 })
  t.strictSame(back.body.changes, [{ type: 'card', op: 'update', id: '1', data: { name: 'untitled' } }])

  // box: color dropped, then added again (separate requests).
  t.equal((await migrateOk(t, h, 'box', [{ op: 'dropField', field: 'color' }])).revision, 2)
  t.equal((await migrateOk(t, h, 'box', [{ op: 'addField', field: 'color', default: 'none' }])).revision, 3)
  t.strictSame((await versionsOf(t, h, 'box', '1')).map(seen), [
    [t1, 'insert', { id: 1, size: 1, color: 'none' }, { id: [null, 1], size: [null, 1] }],
    [t2, 'update', { id: 1, size: 1, color: 'none' }, {}]
  ], 'the old values stay dropped: the default shows')
  t.strictSame((await versionsOf(t, h, 'box', '1', '?asRecorded=true')).map((v) => v.data), [{ id: 1, color: 'red', size: 1 }, { id: 1, color: 'blue', size: 1 }])
  t.strictSame(await okGet(t, h, `/entities/box/1/changeset?from=${t1}&to=${t2}`), {})
  t.strictSame((await h.post('/entities/box/1/revert', { to: t1, dryRun: true })).body.changes, [])
  const painted = await postChanges(h, [upd('box', '1', { color: 'green' })])
  t.equal(painted.status, 201)
  t.strictSame(painted.body.versions[0].changeset, { color: ['none', 'green'] })
  t.strictSame((await h.post('/entities/box/1/revert', { to: t2, dryRun: true })).body.changes, [{ type: 'box', op: 'update', id: '1', data: { color: 'none' } }])
  await verifies(t, h)
})

eachDatabase('rejected migrations are 400 (404 for an unknown type) and change nothing, not even part of the list', async (t, h) => {
  t.equal((await h.put('/entity-types/post', {})).status, 201)
  t.equal((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 201)
  const t1 = await tx(h, ins('post', { id: 1, title: 'T', body: 'B' }), ins('pair', { a: 1, b: 2, v: 'x' }))
  const revisions = await allRevisions(h, 'post')

  const bad: Array<[string, unknown]> = [
    ['renaming an id field', [{ op: 'renameField', from: 'id', to: 'key' }]],
    ['renaming one of several id fields', null],
    ['renaming to an existing name', [{ op: 'renameField', from: 'title', to: 'body' }]],
    ['renaming a field that does not exist', [{ op: 'renameField', from: 'nope', to: 'other' }]],
    ['dropping an id field', [{ op: 'dropField', field: 'id' }]],
    ['adding an existing field', [{ op: 'addField', field: 'title', default: 'x' }]],
    ['adding without a default', [{ op: 'addField', field: 'extra' }]],
    ['an unknown op', [{ op: 'explode', field: 'title' }]],
    ['no operations', []],
    ['a bad operation in the middle', [{ op: 'renameField', from: 'title', to: 'headline' }, { op: 'renameField', from: 'id', to: 'ident' }, { op: 'addField', field: 'z', default: 1 }]],
    ['two fields made one', [{ op: 'renameField', from: 'title', to: 'headline' }, { op: 'renameField', from: 'body', to: 'headline' }]],
    ['renaming into a name just added', [{ op: 'addField', field: 'extra', default: 1 }, { op: 'renameField', from: 'title', to: 'extra' }]]
  ]
  for (const [what, operations] of bad) {
    if (operations === null) {
      assertProblem(t, await migrate(h, 'pair', [{ op: 'renameField', from: 'b', to: 'c' }]), 400, what)
      continue
    }
    assertProblem(t, await migrate(h, 'post', operations as unknown[]), 400, what)
  }
  assertProblem(t, await h.post('/entity-types/post/migrations', {}), 400, 'no operations member')
  assertProblem(t, await h.post('/entity-types/post/migrations', { operations: 'renameField' }), 400, 'operations not a list')
  assertProblem(t, await migrate(h, 'nosuchtype', [{ op: 'addField', field: 'x', default: 1 }]), 404, 'an unknown type')

  t.equal(await revisionOf(h, 'post'), 1, 'the revision is unchanged')
  t.equal(await revisionOf(h, 'pair'), 1)
  t.strictSame(await allRevisions(h, 'post'), revisions, 'no revision kept')
  t.strictSame((await versionsOf(t, h, 'post', '1')).map(seen), [[t1, 'insert', { id: 1, title: 'T', body: 'B' }, { id: [null, 1], title: [null, 'T'], body: [null, 'B'] }]],
    'history reads as before')
  t.equal((await postChanges(h, [upd('post', '1', { title: 'T2' })])).status, 201, 'the first operation of the rejected list was not applied: title is still a field')

  // A key without `types` may not migrate; one with it may.
  const writer = await h.newKey(['read', 'write', 'revert'])
  assertProblem(t, await h.request('POST', '/entity-types/post/migrations', { operations: [{ op: 'addField', field: 'x', default: 1 }] }, { authorization: `Bearer ${writer.key}` }), 403, 'no types scope')
  t.equal(await revisionOf(h, 'post'), 1)
  const typer = await h.newKey(['types'])
  const ok = await h.request('POST', '/entity-types/post/migrations', { operations: [{ op: 'renameField', from: 'title', to: 'headline' }] }, { authorization: `Bearer ${typer.key}` })
  t.equal(ok.status, 200, JSON.stringify(ok.body))
  t.equal(ok.body.revision, 2)
})

eachDatabase('types without migrations answer as before: a version has exactly its members', async (t, h) => {
  t.equal((await h.put('/entity-types/plain', {})).status, 201)
  t.equal((await h.put('/entity-types/moved', {})).status, 201)
  const t1 = await tx(h, ins('plain', { id: 1, name: 'A' }), ins('moved', { id: 1, name: 'A' }))
  const t2 = await tx(h, upd('plain', '1', { name: 'B' }), upd('moved', '1', { name: 'B' }))
  const beforeList = await h.get('/entities/plain/1/versions')
  const beforeOne = await h.get(`/entities/plain/1/versions/${t2}`)
  await migrateOk(t, h, 'moved', [{ op: 'renameField', from: 'name', to: 'title' }])

  const list = await h.get('/entities/plain/1/versions')
  t.strictSame(list.body, beforeList.body, 'another type\'s migration changes nothing of this one')
  t.strictSame(Object.keys(list.body.items[0]).sort(), ['changeset', 'data', 'endTransactionId', 'hash', 'id', 'index', 'operation', 'transactionId', 'type'])
  const one = await h.get(`/entities/plain/1/versions/${t2}`)
  t.strictSame(one.body, beforeOne.body)
  t.strictSame(Object.keys(one.body).sort(), ['changeset', 'data', 'endTransactionId', 'hash', 'id', 'index', 'next', 'operation', 'previous', 'transaction', 'transactionId', 'type'])
  t.strictSame(Object.keys((await h.get('/entities/plain/1')).body).sort(), ['data', 'id', 'transactionId', 'type'])
  t.strictSame((await h.get('/entities/plain/1/versions?asRecorded=true')).body, beforeList.body, '?asRecorded=true of an unmigrated type: the same')

  const moved = await h.get('/entities/moved/1/versions')
  t.strictSame(Object.keys(moved.body.items[0]).sort(), Object.keys(list.body.items[0]).sort(), 'a migrated type\'s version has the same members')
  t.strictSame(moved.body.items.map((v: any) => v.data), [{ id: 1, title: 'A' }, { id: 1, title: 'B' }])
  t.strictSame(Object.keys((await h.get(`/entities/moved/1/versions/${t1}`)).body).sort(), Object.keys(one.body).sort())
  t.strictSame(sorted((await h.post('/entities/plain/1/revert', { to: t1, dryRun: true })).body.changes), [{ type: 'plain', op: 'update', id: '1', data: { name: 'A' } }])
  t.strictSame((await h.post('/entities/moved/1/revert', { to: t1, dryRun: true })).body.changes.map(shape), [{ type: 'moved', op: 'update', id: '1', data: { title: 'A' } }])
  await verifies(t, h)
})

eachDatabase('requests name fields by their current names: redaction, a type\'s redact fields, a PUT after a migration', async (t, h) => {
  // Redacting by the current name erases the values stored under the old one.
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  await tx(h, ins('user', { id: 7, mail: 'first-secret', name: 'N' }))
  await tx(h, upd('user', '7', { mail: 'second-secret' }))
  await migrateOk(t, h, 'user', [{ op: 'renameField', from: 'mail', to: 'email' }])
  const red = await h.post('/entities/user/7/redact', { fields: ['email'] })
  t.equal(red.status, 201, JSON.stringify(red.body))
  t.equal(red.body.versions, 2)
  const M = { $redacted: red.body.id }
  t.strictSame((await versionsOf(t, h, 'user', '7')).map((v) => [v.data, v.changeset]), [
    [{ id: 7, email: M, name: 'N' }, { id: [null, 7], email: [null, M], name: [null, 'N'] }],
    [{ id: 7, email: M, name: 'N' }, { email: [M, M] }]
  ])
  t.strictSame((await versionsOf(t, h, 'user', '7', '?asRecorded=true')).map((v) => v.data), [{ id: 7, mail: M, name: 'N' }, { id: 7, mail: M, name: 'N' }],
    '?asRecorded=true: the stored form, still without the redacted values')

  // A type's redact fields follow a rename: the field is still never stored.
  t.equal((await h.put('/entity-types/acct', { redact: { fields: ['mail'] } })).status, 201)
  await tx(h, ins('acct', { id: 1, mail: 'secret-1', x: 1 }))
  const acct = await migrateOk(t, h, 'acct', [{ op: 'renameField', from: 'mail', to: 'email' }])
  t.strictSame(acct.definition.redact, { fields: ['email'] })
  t.equal((await postChanges(h, [upd('acct', '1', { email: 'secret-2' })])).status, 201)
  const stored = JSON.stringify([await versionsOf(t, h, 'acct', '1'), await versionsOf(t, h, 'acct', '1', '?asRecorded=true')])
  t.equal(stored.includes('secret-1') || stored.includes('secret-2'), false, 'no redacted value in any answer')

  // A later PUT of the definition keeps the migration.
  t.equal((await h.put('/entity-types/post', {})).status, 201)
  await tx(h, ins('post', { id: 1, name: 'A' }))
  await migrateOk(t, h, 'post', [{ op: 'renameField', from: 'name', to: 'title' }])
  const put = await h.put('/entity-types/post', { exclude: ['updated_at'] })
  t.strictSame([put.status, put.body.revision], [200, 3])
  t.strictSame((await versionsOf(t, h, 'post', '1')).map((v) => v.data), [{ id: 1, title: 'A' }], 'history still in the current schema')
  assertProblem(t, await postChanges(h, [upd('post', '1', { name: 'B' })]), 400, 'the old name after a PUT')
  t.strictSame((await postChanges(h, [upd('post', '1', { title: 'A', updated_at: 'x' })])).body, { transaction: null, versions: [] })
  t.strictSame((await allRevisions(h, 'post')).sort((a, b) => a.revision - b.revision).map((r) => r.operations ?? null),
    [null, [{ op: 'renameField', from: 'name', to: 'title' }], null])
  await verifies(t, h)
})
