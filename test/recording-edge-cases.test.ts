import { eachDatabase } from './helpers/harness.js'

// Recording rules at their edges: definitions changed after data, the forms revert
// answers use, timestamps, and the smallest valid requests.

eachDatabase('a field excluded after it was stored is dropped from later versions and makes no version alone', async (t, h) => {
  await h.put('/entity-types/acct', {})
  await h.post('/transactions', { changes: [{ type: 'acct', op: 'insert', data: { id: 1, name: 'x', secret: 's1' } }] })
  t.equal((await h.put('/entity-types/acct', { exclude: ['secret'] })).status, 200)
  const update = await h.post('/transactions', { changes: [{ type: 'acct', op: 'update', id: '1', data: { name: 'y', secret: 's2' } }] })
  t.equal(update.status, 201)
  t.strictSame(update.body.versions[0].data, { id: 1, name: 'y' }, 'the excluded field is gone from the new version')
  t.strictSame(update.body.versions[0].changeset, { name: ['x', 'y'] }, 'its disappearance is not a change')
  const same = await h.post('/transactions', { changes: [{ type: 'acct', op: 'delete', id: '1' }, { type: 'acct', op: 'insert', data: { id: 1, name: 'y', secret: 's3' } }] })
  t.strictSame(same.body, { transaction: null, versions: [] }, 'nothing versioned changed')
})

eachDatabase('the changes a revert answers can be posted back as they are (a delete with data null)', async (t, h) => {
  await h.put('/entity-types/note', {})
  const first = await h.post('/transactions', { changes: [{ type: 'note', op: 'insert', data: { id: 1, text: 'a' } }] })
  const dry = await h.post(`/transactions/${first.body.transaction.id}/revert`, { dryRun: true })
  t.strictSame(dry.body.changes, [{ type: 'note', op: 'delete', id: '1', data: null }])
  const applied = await h.post('/transactions', { changes: dry.body.changes })
  t.equal(applied.status, 201)
  t.equal(applied.body.versions[0].operation, 'delete')
  const bad = await h.post('/transactions', { changes: [{ type: 'note', op: 'insert', data: null }] })
  t.equal(bad.status, 400, 'an insert still needs data')
})

eachDatabase('issuedAt is kept to the millisecond, so since/until agree with what is shown', async (t, h) => {
  await h.put('/entity-types/note', {})
  const res = await h.post('/transactions', { issuedAt: '2026-01-03T00:00:00.123456Z', changes: [{ type: 'note', op: 'insert', data: { id: 1 } }] })
  t.equal(res.body.transaction.issuedAt, '2026-01-03T00:00:00.123Z')
  t.strictSame((await h.get('/transactions?since=2026-01-03T00:00:00.1234Z')).body.items, [])
  t.equal((await h.get('/transactions?since=2026-01-03T00:00:00.123Z')).body.items.length, 1)
  t.equal((await h.get('/transactions?until=2026-01-03T00:00:00.1231Z')).body.items.length, 1)
})

eachDatabase('the smallest requests: no changes, a null actor, an empty idempotency key', async (t, h) => {
  await h.put('/entity-types/note', {})
  t.strictSame((await h.post('/transactions', { changes: [] })).body, { transaction: null, versions: [] })
  const nullActor = await h.post('/transactions', { actor: null, changes: [{ type: 'note', op: 'insert', data: { id: 1 } }] })
  t.equal(nullActor.status, 201)
  t.equal(nullActor.body.transaction.actor, null)
  const keyed = await h.post('/transactions', { changes: [{ type: 'note', op: 'insert', data: { id: 2 } }] }, { 'idempotency-key': '' })
  t.equal(keyed.status, 201)
  const again = await h.post('/transactions', { changes: [{ type: 'note', op: 'insert', data: { id: 2 } }] }, { 'idempotency-key': '' })
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.strictSame(again.body, keyed.body)
  t.equal(await h.count('transactions'), 2)
})
