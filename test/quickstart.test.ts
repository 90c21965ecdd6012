import { eachDatabase } from './helpers/harness.js'

eachDatabase('the quickstart end to end: register, insert, update, list, revert to the first version', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)

  const insert = await h.post('/transactions', {
    actor: 'user-1',
    changes: [{ type: 'article', op: 'insert', data: { id: 1, name: 'Initial Name', content: 'Initial Content' } }]
  })
  t.equal(insert.status, 201)
  const first = insert.body.transaction.id

  const update = await h.post('/transactions', { changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'Updated Name' } }] })
  t.equal(update.status, 201)
  t.ok(update.body.transaction.id > first, 'transaction ids increase')

  const list = await h.get('/entities/article/1/versions')
  t.equal(list.status, 200)
  t.strictSame(list.body.items.map((v: any) => v.operation), ['insert', 'update'])
  t.strictSame(list.body.items.map((v: any) => v.changeset), [
    { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] },
    { name: ['Initial Name', 'Updated Name'] }
  ])
  t.equal(list.body.items[0].endTransactionId, list.body.items[1].transactionId)
  t.equal(list.body.nextCursor, null)

  const revert = await h.post('/entities/article/1/revert', { to: first })
  t.equal(revert.status, 201)
  t.strictSame(revert.body.changes, [{ type: 'article', op: 'update', id: '1', data: { name: 'Initial Name' } }])
  t.strictSame(revert.body.transaction.revertOf, { type: 'article', id: '1', to: first })

  const now = await h.get('/entities/article/1')
  t.equal(now.body.data.name, 'Initial Name')
  const after = await h.get('/entities/article/1/versions')
  t.equal(after.body.items.length, 3)
  const third = after.body.items[2]
  t.strictSame(third.changeset, { name: ['Updated Name', 'Initial Name'] })
  const tx = await h.get(`/transactions/${third.transactionId}`)
  t.strictSame(tx.body.revertOf, { type: 'article', id: '1', to: first })
})
