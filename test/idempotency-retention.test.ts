import { sql } from 'kysely'
import { purgeIdempotencyKeys } from '../src/store/idempotency.js'
import { eachDatabase } from './helpers/harness.js'
import { ins, postChanges, upd } from './helpers/changes.js'

const insert = (id: number): Record<string, unknown> => ins('note', { id, text: 'hello' })

eachDatabase('idempotency keys are kept for the retention period, then purged', async (t, h) => {
  t.equal((await h.put('/entity-types/note', {})).status, 201)
  const first = await postChanges(h, [insert(1)], {}, { 'idempotency-key': 'old-key' })
  t.equal(first.status, 201)
  const kept = await postChanges(h, [insert(2)], {}, { 'idempotency-key': 'fresh-key' })
  t.equal(kept.status, 201)

  // Within the retention, a purge keeps both keys and a retry still replays.
  t.equal(await purgeIdempotencyKeys(h.db, 24), 0)
  const replay = await postChanges(h, [insert(1)], {}, { 'idempotency-key': 'old-key' })
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.strictSame(replay.body, first.body)

  // Once older than the retention, only that key goes.
  await sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-key'`.execute(h.db)
  t.equal(await purgeIdempotencyKeys(h.db, 24), 1)
  t.equal(await h.count('idempotency_keys'), 1)
  const again = await postChanges(h, [insert(1)], {}, { 'idempotency-key': 'fresh-key' })
  t.equal(again.status, 422, 'the fresh key is still bound to its own body')

  // The purged key is free again: a new request with it is executed, not replayed.
  const reused = await postChanges(h, [upd('note', '1', { text: 'bye' })], {}, { 'idempotency-key': 'old-key' })
  t.equal(reused.status, 201)
  t.equal(reused.headers['idempotent-replayed'], undefined)
  t.not(reused.body.transaction.id, first.body.transaction.id)
})
