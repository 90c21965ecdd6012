import t from 'tap'
import { WriteOrder } from '../src/services/write-order.js'
import { eachDatabase } from './helpers/harness.js'

/**
 * Writes of one process to the same entity are ordered: each plans on the version the one
 * before it recorded, so none appends on a stale version and has to be done again.
 */

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('a write waits for the earlier writes to its entities, and only for those', async (t) => {
  const order = new WriteOrder()
  const events: string[] = []
  let releaseFirst!: () => void
  const first = order.run('default', ['a:1', 'a:2'], async () => {
    events.push('first starts')
    await new Promise<void>((resolve) => { releaseFirst = resolve })
    events.push('first ends')
  })
  const second = order.run('default', ['a:2'], async () => { events.push('second runs') })
  const other = order.run('default', ['a:3'], async () => { events.push('other entity runs') })
  const otherTenant = order.run('acme', ['a:1'], async () => { events.push('other tenant runs') })
  await Promise.all([other, otherTenant])
  await settle()
  t.strictSame(events, ['first starts', 'other entity runs', 'other tenant runs'], 'the write to a:2 waits; the others do not')
  releaseFirst()
  await Promise.all([first, second])
  t.strictSame(events, ['first starts', 'other entity runs', 'other tenant runs', 'first ends', 'second runs'])
  t.equal(order.size, 0, 'nothing is left behind')
})

t.test('a write that fails releases the writes behind it, and its error reaches its caller only', async (t) => {
  const order = new WriteOrder()
  const failed = order.run('default', ['a:1'], async () => { throw new Error('refused') })
  const next = order.run('default', ['a:1'], async () => 'recorded')
  await t.rejects(failed, new Error('refused'))
  t.equal(await next, 'recorded')
  t.equal(order.size, 0)
})

eachDatabase('concurrent updates of one entity: each is one statement, none is redone, the versions follow one another', async (t, h) => {
  t.equal((await h.put('/entity-types/counter', {})).status, 201)
  t.equal((await h.post('/transactions', { changes: [{ type: 'counter', op: 'insert', data: { id: 1, n: 0 } }] })).status, 201)
  h.resetQueries()
  const answers = await Promise.all(Array.from({ length: 10 }, async (_, i) =>
    await h.post('/transactions', { changes: [{ type: 'counter', op: 'update', id: '1', data: { n: i + 1 } }] })))
  t.strictSame(answers.map((a) => a.status), Array(10).fill(201))
  t.strictSame(answers.map((a) => a.body.versions[0].index), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'in the order they arrived')
  t.strictSame(h.queries.filter((q) => !/from "?entity_types"?/.test(q)).length, 10, 'one statement each: every write planned on the version before it')
  const versions = await h.get('/entities/counter/1/versions?limit=20')
  t.strictSame(versions.body.items.map((v: { changeset: { n: [number, number] } }) => v.changeset.n), [[null, 0], ...Array.from({ length: 10 }, (_, i) => [i, i + 1])])
})
