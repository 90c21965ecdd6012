import type { Test } from 'tap'
import { sql } from 'kysely'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { checkProof } from './helpers/proof-checker.js'
import type { Db } from '../src/store/database.js'

// The service works as rewind_runtime, which may only read and add to history; the owner
// is refused changes by the append-only triggers unless it disables them.

/** The error `statement` fails with (a test failure when it succeeds). */
async function failure (t: Test, db: Db, statement: string): Promise<{ code?: string, message: string }> {
  try {
    await sql.raw(statement).execute(db)
  } catch (error) {
    return error as { code?: string, message: string }
  }
  t.fail(`${statement}: succeeded`)
  return { message: '' }
}

const HISTORY = ['versions', 'transactions', 'checkpoints', 'checkpoint_heads', 'integrity_records']

/** Two versions of article 1 and a checkpoint; answers the first version's transaction. */
async function someHistory (t: Test, h: Harness): Promise<number> {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const first = await tx(h, ins('article', { id: 1, title: 'one' }))
  await tx(h, upd('article', '1', { title: 'two' }))
  t.equal((await h.post('/integrity/checkpoints')).status, 201)
  return first
}

eachDatabase('runtime role: the service\'s database role is rewind_runtime', async (t, h) => {
  const { rows } = await sql<{ user: string }>`select current_user as user`.execute(h.db)
  t.strictSame(rows, [{ user: 'rewind_runtime' }])
  const owner = await h.asOwner(async (db) => (await sql<{ user: string }>`select current_user as user`.execute(db)).rows[0]!.user)
  t.not(owner, 'rewind_runtime', 'the owner is another role')
  // Back to the runtime role after the owner's work (one session on PGlite).
  const again = await sql<{ user: string }>`select current_user as user`.execute(h.db)
  t.strictSame(again.rows, [{ user: 'rewind_runtime' }])
})

eachDatabase('runtime role: UPDATE, DELETE and TRUNCATE of history are permission denied', async (t, h) => {
  await someHistory(t, h)
  for (const table of HISTORY) {
    for (const statement of [
      `update ${table} set tenant = tenant`,
      `delete from ${table}`,
      `truncate ${table}`
    ]) {
      const error = await failure(t, h.db, statement)
      t.equal(error.code, '42501', `${statement}: ${error.message}`)
      t.equal(error.message.includes('permission denied'), true, `${statement}: ${error.message}`)
      t.equal(error.message.includes('append-only'), false, 'refused by the grants, before any trigger')
    }
  }
  // What it may do: read and add.
  const { rows } = await sql<{ n: string }>`select count(*) as n from versions`.execute(h.db)
  t.equal(Number(rows[0]!.n), 2)
  t.equal(await h.count('versions'), 2, 'nothing was removed')
  t.equal(await h.count('transactions'), 2)
})

eachDatabase('runtime role: the owner is refused UPDATE, DELETE and TRUNCATE of history by the trigger unless it disables it', async (t, h) => {
  const first = await someHistory(t, h)
  await h.asOwner(async (owner) => {
    for (const table of HISTORY) {
      for (const statement of [
        `update ${table} set tenant = tenant`,
        `delete from ${table}`,
        // transactions is referenced by versions: truncating it needs versions too.
        table === 'transactions' ? 'truncate transactions cascade' : `truncate ${table}`
      ]) {
        const error = await failure(t, owner, statement)
        t.equal(error.message.includes('append-only'), true, `${statement}: ${error.message}`)
        t.equal(error.code, '42501')
      }
    }
    const counts = async (): Promise<number[]> => await Promise.all(HISTORY.map(async (table) =>
      Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(owner)).rows[0]!.n)))
    t.strictSame(await counts(), [2, 2, 1, 1, 1], 'nothing changed')

    // Disabled, the trigger stops no one: the owner can change history (and verify will tell).
    await sql`alter table versions disable trigger versions_append_only`.execute(owner)
    try {
      const { numAffectedRows } = await sql`update versions set data = jsonb_set(data, '{title}', '"owned"') where seq = 0`.execute(owner)
      t.equal(numAffectedRows, 1n)
    } finally {
      await sql`alter table versions enable trigger versions_append_only`.execute(owner)
    }
    const again = await failure(t, owner, 'delete from versions')
    t.equal(again.message.includes('append-only'), true, 'enabled again, the trigger refuses')
  })
  const verified = await h.post('/integrity/verify', {})
  t.equal(verified.body.ok, false)
  t.strictSame(verified.body.problems.map((p: any) => [p.type, p.id, p.transactionId]), [['article', '1', first]])
})

eachDatabase('runtime role: the API works end to end as rewind_runtime', async (t, h) => {
  const { rows } = await sql<{ user: string }>`select current_user as user`.execute(h.db)
  t.strictSame(rows, [{ user: 'rewind_runtime' }])
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const t1 = await tx(h, ins('article', { id: 1, title: 'one', email: 'a@example.com' }))
  await tx(h, upd('article', '1', { title: 'two', email: 'b@example.com' }))

  const reverted = await h.post('/entities/article/1/revert', { to: t1 })
  t.equal(reverted.status, 201, JSON.stringify(reverted.body))
  const state = await h.get('/entities/article/1')
  t.equal(state.status, 200)
  t.strictSame(state.body.data, { id: 1, title: 'one', email: 'a@example.com' })
  const versions = await h.get('/entities/article/1/versions')
  t.strictSame(versions.body.items.map((v: any) => v.index), [0, 1, 2])

  const checkpoint = await h.post('/integrity/checkpoints')
  t.equal(checkpoint.status, 201)
  t.equal(checkpoint.body.versions, 3)
  const proof = await h.get(`/entities/article/1/versions/${t1}/proof`)
  t.equal(proof.status, 200)
  const key = await h.app.inject({ method: 'GET', url: '/integrity/public-key' })
  t.strictSame(checkProof(proof.body, key.body), [])

  // Redaction goes through the owner's audited function.
  const redacted = await h.post('/entities/article/1/redact', { fields: ['email'], reason: 'erasure request' })
  t.equal(redacted.status, 201, JSON.stringify(redacted.body))
  t.equal(redacted.body.versions, 3)
  const after = await h.get('/entities/article/1/versions')
  t.strictSame(after.body.items.map((v: any) => v.data.email), [0, 1, 2].map(() => ({ $redacted: redacted.body.id })))

  const verified = await h.post('/integrity/verify', {})
  t.strictSame(verified.body, { ok: true, versionsChecked: 3, checkpointsChecked: 1, problems: [] })
})
