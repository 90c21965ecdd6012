import { buildApp } from '../src/http/app.js'
import { releaseLease, takeLease } from '../src/store/leases.js'
import { eachDatabase } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls until `done` answers true (at most ~10 s). */
async function eventually (done: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await done()) return true
    await sleep(100)
  }
  return false
}

eachDatabase('checkpoints and retention run on their own, one instance at a time', async (t, h) => {
  const jobs = await buildApp({ db: h.db, closeDatabase: false, checkpointIntervalMs: 150, retentionIntervalMs: 150 })
  t.teardown(async () => { await jobs.close() })
  t.equal((await h.put('/entity-types/session', { retention: { keepVersions: 1 } })).status, 201)
  await tx(h, ins('session', { id: 1, n: 0 }))
  await tx(h, upd('session', '1', { n: 1 }))
  const last = await tx(h, upd('session', '1', { n: 2 }))

  t.equal(await eventually(async () => (await h.get('/entities/session/1/versions')).body.items.length === 1), true, 'the retention job pruned all but the latest version')
  t.equal(await eventually(async () => (await h.get('/integrity/checkpoints')).body.items[0]?.upToTransactionId === last), true, 'the checkpoint job covered the history')
  await sleep(600) // the retention run's own checkpoint, and the job's, settle
  const count = (await h.get('/integrity/checkpoints')).body.items.length
  await sleep(600)
  t.equal((await h.get('/integrity/checkpoints')).body.items.length, count, 'no checkpoint is made while nothing new is recorded')
  // The jobs signed with the other instance's key: verified there.
  const verified = await jobs.inject({ method: 'POST', url: '/integrity/verify', headers: { authorization: `Bearer ${h.adminKey}` }, payload: {} })
  t.strictSame(verified.json().problems, [])
})

eachDatabase('a job\'s lease is one holder\'s until it is released or runs out', async (t, h) => {
  t.equal(await takeLease(h.db, 'test-job', 'a', 60_000), true, 'the first holder takes it')
  t.equal(await takeLease(h.db, 'test-job', 'b', 60_000), false, 'another holder does not')
  t.equal(await takeLease(h.db, 'test-job', 'a', 60_000), true, 'the holder renews it')
  await releaseLease(h.db, 'test-job', 'a')
  t.equal(await takeLease(h.db, 'test-job', 'b', 50), true, 'released: another holder takes it')
  await sleep(120)
  t.equal(await takeLease(h.db, 'test-job', 'a', 60_000), true, 'a lease that ran out is taken over')
})
