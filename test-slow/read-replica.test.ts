import t from 'tap'
import { httpRequest, waitUntil, type HttpAnswer } from './helpers/http.js'
import { queryOnce } from './helpers/pg.js'
import { startService } from './helpers/service-process.js'
import { startThrowawayPostgres } from './helpers/throwaway-postgres.js'

/**
 * Read replicas: the service with DATABASE_URL on a primary and DATABASE_READ_URL on a hot
 * standby of it (pg_basebackup -R, streaming). With the standby's replay paused, what a read
 * answers shows where it was answered from: history reads come from the replica, a read that
 * names the transaction it wrote (Rewind-Min-Transaction) from the primary until the replica
 * has replayed it, and a replica that is down leaves reads to the primary.
 */
t.test('history reads from a hot standby, with read-your-writes through the minimum-transaction hint', async (t) => {
  const primary = await startThrowawayPostgres()
  t.teardown(primary.destroy)
  const standby = await startThrowawayPostgres({ standbyOf: primary })
  t.teardown(standby.destroy)
  t.strictSame((await queryOnce(standby.url, 'select pg_is_in_recovery() as standby')).rows, [{ standby: true }], 'the replica is a hot standby')

  const service = await startService({ databaseUrl: primary.url, env: { DATABASE_READ_URL: standby.url } })
  t.teardown(service.dispose)
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    await httpRequest(service.baseUrl, method, path, body, { headers, timeoutMs: 15_000 })
  const hinted = (id: number): Record<string, string> => ({ 'rewind-min-transaction': String(id) })
  const reads = async (): Promise<Record<string, number>> => {
    const text = String((await call('GET', '/metrics')).body)
    return Object.fromEntries([...text.matchAll(/^rewind_history_reads_total\{source="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
  }
  const replicaLsnReached = async (): Promise<void> => {
    const lsn = String((await queryOnce(primary.url, 'select pg_current_wal_insert_lsn() as lsn')).rows[0].lsn)
    await waitUntil('the standby replays the primary', 15_000, async () =>
      (await queryOnce(standby.url, 'select pg_last_wal_replay_lsn() >= $1::pg_lsn as caught', [lsn])).rows[0].caught === true)
  }

  t.equal((await call('PUT', '/entity-types/item', {})).status, 201)
  const first = await call('POST', '/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: 1, n: 0 } }] })
  t.equal(first.status, 201)
  await replicaLsnReached()

  await queryOnce(standby.url, 'select pg_wal_replay_pause()')
  const second = await call('POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { n: 1 } }] })
  t.equal(second.status, 201, 'writes go to the primary while the replica lags')
  const written = Number(second.body.transaction.id)
  t.equal((await call('PUT', '/entity-types/note', {})).status, 201, 'a type registered while the replica lags')
  const before = await reads()

  const stale = await call('GET', '/entities/item/1')
  t.strictSame([stale.status, stale.body.data, stale.body.transactionId], [200, { id: 1, n: 0 }, Number(first.body.transaction.id)], 'without the hint: the replica, which has not replayed the update')
  t.equal((await call('GET', `/transactions/${written}`)).status, 404, 'the replica does not have the transaction yet')
  const own = await call('GET', '/entities/item/1', undefined, hinted(written))
  t.strictSame([own.status, own.body.data, own.body.transactionId], [200, { id: 1, n: 1 }, written], 'with the hint: the primary answers the write it names')
  t.equal((await call('GET', `/transactions/${written}`, undefined, hinted(written))).status, 200)
  const versions = await call('GET', '/entities/item/1/versions', undefined, hinted(Number(first.body.transaction.id)))
  t.strictSame(versions.body.items.map((v: { transactionId: number }) => v.transactionId), [Number(first.body.transaction.id)], 'a hint the replica has replayed: the replica answers')
  const notes = await call('GET', '/entities/note')
  t.strictSame([notes.status, notes.body.items], [200, []], 'type definitions come from the primary: a type the replica has not replayed is known, with no history yet')
  const after = await reads()
  t.strictSame({ replica: after.replica! - before.replica!, primary: after.primary! - before.primary! }, { replica: 4, primary: 2 }, 'rewind_history_reads_total counts where reads were answered')

  for (const bad of ['abc', '0', '1.5']) {
    const refused = await call('GET', '/entities/item/1', undefined, { 'rewind-min-transaction': bad })
    t.strictSame([refused.status, refused.headers['content-type'], String(refused.body.detail).includes('rewind-min-transaction')], [400, 'application/problem+json; charset=utf-8', true], `hint "${bad}" is refused, naming the header`)
  }

  await queryOnce(standby.url, 'select pg_wal_replay_resume()')
  await waitUntil('the replica replays the update', 15_000, async () => (await call('GET', `/transactions/${written}`)).status === 200)
  t.strictSame((await call('GET', '/entities/item/1')).body.data, { id: 1, n: 1 }, 'once replayed, the replica answers the update')

  await standby.stop('immediate')
  const waited = await waitUntil('reads leave a replica that is down', 10_000, async () => (await call('GET', '/entities/item/1')).status === 200)
  t.ok(waited <= 5000, `reads answered by the primary within ${waited} ms of the replica going down`)
  await standby.start()
  const replicaReads = (await reads()).replica!
  await waitUntil('reads come back to the replica', 15_000, async () => {
    await call('GET', '/entities/item/1')
    return (await reads()).replica! > replicaReads
  })
  t.equal((await call('GET', '/entities/item/1')).status, 200)
})
