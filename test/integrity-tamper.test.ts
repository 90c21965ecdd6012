import type { Test } from 'tap'
import { sql } from 'kysely'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, postChanges, upd, type Change } from './helpers/changes.js'
import type { Db } from '../src/store/database.js'
import { entityChain } from '../src/store/history-scan.js'
import { listRecords } from '../src/store/integrity-records.js'
import { commitmentsOf } from '../src/integrity/commitments.js'
import { GENESIS_HASH } from '../src/integrity/canonical.js'
import { hashedDocument, versionHash } from '../src/integrity/version-hash.js'
import { recordChainHash, NO_RECORDS } from '../src/integrity/records.js'
import { signCheckpoint, type Checkpoint } from '../src/integrity/checkpoint.js'
import { rootAt } from '../src/services/checkpoints.js'
import { ephemeralSigner } from '../src/services/signing-key.js'

// Tampering with stored history, as someone with the database owner's rights would:
// every kind of change must be found by POST /integrity/verify, naming the entity (and
// transaction) it concerns.

type Triple = [string | null, string | null, number | null]

interface History {
  t1: number, t2: number, t3: number, t4: number, t5: number, t6: number
  cp1: Checkpoint
  /** The number of versions recorded. */
  versions: number
}

async function txAs (h: Harness, actor: string, ...changes: Change[]): Promise<number> {
  const res = await postChanges(h, changes, { actor })
  if (res.status !== 201) throw new Error(`POST /transactions: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.transaction.id
}

/**
 * Three types, several entities each with several versions, a checkpoint, and a
 * transaction after it. article 1: t1 (index 0), t2 (1), t4 (2), t5 (3); article 2: t1, t5;
 * article 3: t1, t6; author a1: t1, t4; author a2: t3; comment 1: t2, t5; comment 2: t6.
 * t3 touches author a2 only. Checkpoint 1 covers t1..t5.
 */
async function history (t: Test, h: Harness): Promise<History> {
  for (const type of ['article', 'author', 'comment']) t.equal((await h.put(`/entity-types/${type}`, {})).status, 201, `${type} registered`)
  const t1 = await txAs(h, 'alice',
    ins('article', { id: 1, title: 'one', body: 'first body' }), ins('article', { id: 2, title: 'two' }), ins('article', { id: 3, title: 'three' }),
    ins('author', { id: 'a1', name: 'Ann' }))
  const t2 = await txAs(h, 'bob', upd('article', '1', { title: 'uno', body: 'first body' }), ins('comment', { id: 1, text: 'nice' }))
  const t3 = await txAs(h, 'alice', ins('author', { id: 'a2', name: 'Bo' }))
  const t4 = await txAs(h, 'carol', upd('article', '1', { title: 'eins', body: 'second body' }), upd('author', 'a1', { name: 'Anne' }))
  const t5 = await txAs(h, 'bob', upd('article', '1', { title: 'ichi', body: 'second body' }), upd('article', '2', { title: 'deux' }), upd('comment', '1', { text: 'nicer' }))
  const made = await h.post('/integrity/checkpoints')
  t.equal(made.status, 201, JSON.stringify(made.body))
  t.equal(made.body.sequence, 1)
  t.equal(made.body.upToTransactionId, t5)
  t.equal(made.body.versions, 12)
  const t6 = await txAs(h, 'dave', upd('article', '3', { title: 'trois' }), ins('comment', { id: 2, text: 'late' }))
  const listed = await h.get('/integrity/checkpoints')
  t.equal(listed.status, 200)
  t.strictSame(listed.body.items, [made.body], 'the checkpoint as listed is the one made')
  const cp1 = listed.body.items[0] as Checkpoint

  const verified = await h.post('/integrity/verify', {})
  t.strictSame(verified.body, { ok: true, versionsChecked: 14, checkpointsChecked: 1, problems: [] }, 'untouched history verifies')
  const withKept = await h.post('/integrity/verify', { checkpoint: cp1 })
  t.strictSame(withKept.body, { ok: true, versionsChecked: 14, checkpointsChecked: 1, problems: [] }, 'the kept checkpoint is still there')
  return { t1, t2, t3, t4, t5, t6, cp1, versions: 14 }
}

/** Runs `work` as the owner with the append-only triggers of `tables` disabled. */
async function tamper (h: Harness, tables: string[], work: (owner: Db) => Promise<void>): Promise<void> {
  await h.asOwner(async (owner) => {
    for (const table of tables) await sql.raw(`alter table ${table} disable trigger ${table}_append_only`).execute(owner)
    try {
      await work(owner)
    } finally {
      for (const table of tables) await sql.raw(`alter table ${table} enable trigger ${table}_append_only`).execute(owner)
    }
  })
}

/** POST /integrity/verify; asserts it fails, with a non-empty text for every problem; answers the problems. */
async function verifyFails (t: Test, h: Harness, body: object = {}): Promise<any[]> {
  const res = await h.post('/integrity/verify', body)
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.equal(res.body.ok, false, 'verify finds the tampering')
  const problems: any[] = res.body.problems
  t.strictSame(problems.filter((p) => typeof p.problem !== 'string' || p.problem.length === 0), [], 'every problem is explained')
  return problems
}

const triples = (problems: any[]): Triple[] => problems.map((p) => [p.type, p.id, p.transactionId])

/** The distinct [type, id, transactionId] of the problems, in the order they first appear. */
function distinct (problems: any[]): Triple[] {
  const seen = new Set<string>()
  const out: Triple[] = []
  for (const triple of triples(problems)) {
    const key = JSON.stringify(triple)
    if (!seen.has(key)) { seen.add(key); out.push(triple) }
  }
  return out
}

const show = (problems: any[]): string => JSON.stringify(problems)

// 1. A version's values.

eachDatabase('tamper: editing a middle version\'s data is found at that version', async (t, h) => {
  const { t2 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    const { numAffectedRows } = await sql`update versions set data = jsonb_set(data, '{title}', '"hacked"')
      where type = 'article' and entity_key = '1' and transaction_id = ${t2}`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['article', '1', t2]], show(problems))
})

eachDatabase('tamper: editing a middle version\'s changeset is found at that version', async (t, h) => {
  const { t4 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    await sql`update versions set changeset = jsonb_set(changeset, '{title}', '["uno", "hacked"]')
      where type = 'article' and entity_key = '1' and transaction_id = ${t4}`.execute(owner)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['article', '1', t4]], show(problems))
})

// 2, 3. A version's transaction.

eachDatabase('tamper: editing a transaction\'s actor is found at each of its versions', async (t, h) => {
  const { t2 } = await history(t, h)
  await tamper(h, ['transactions'], async (owner) => {
    const { numAffectedRows } = await sql`update transactions set actor = 'mallory' where id = ${t2}`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['article', '1', t2], ['comment', '1', t2]], show(problems))
})

eachDatabase('tamper: editing a transaction\'s issuedAt is found at each of its versions', async (t, h) => {
  const { t4 } = await history(t, h)
  await tamper(h, ['transactions'], async (owner) => {
    const { numAffectedRows } = await sql`update transactions set issued_at = issued_at - interval '1 day' where id = ${t4}`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['article', '1', t4], ['author', 'a1', t4]], show(problems))
})

eachDatabase('tamper: deleting a version\'s transaction is found at each of its versions', async (t, h) => {
  const { t3 } = await history(t, h)
  await tamper(h, ['transactions'], async (owner) => {
    // No foreign key is in the way (the append writes a transaction and its versions together).
    const { numAffectedRows } = await sql`delete from transactions where id = ${t3}`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['author', 'a2', t3]], show(problems))
})

// 4, 5. Deleting versions.

eachDatabase('tamper: deleting a middle version is found at the version after it', async (t, h) => {
  const { t2, t4 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    const { numAffectedRows } = await sql`delete from versions where type = 'article' and entity_key = '1' and transaction_id = ${t2}`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(distinct(problems), [['article', '1', t4]], show(problems))
})

eachDatabase('tamper: deleting the first version is found at the version after it', async (t, h) => {
  const { t1, t5 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    await sql`delete from versions where type = 'article' and entity_key = '2' and transaction_id = ${t1}`.execute(owner)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(distinct(problems), [['article', '2', t5]], show(problems))
})

eachDatabase('tamper: deleting an entity\'s latest version that a checkpoint covers is found by the checkpoint', async (t, h) => {
  const { t4 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    const { numAffectedRows } = await sql`delete from versions where type = 'author' and entity_key = 'a1' and transaction_id = ${t4}`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['author', 'a1', t4]], show(problems))
})

// 6. Reordering.

eachDatabase('tamper: swapping two versions\' values is found at both', async (t, h) => {
  const { t2, t4 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    await sql`update versions v set data = o.data, changeset = o.changeset, salts = o.salts
      from versions o
      where v.tenant = o.tenant and v.type = o.type and v.entity_key = o.entity_key
        and v.type = 'article' and v.entity_key = '1'
        and ((v.transaction_id = ${t2} and o.transaction_id = ${t4}) or (v.transaction_id = ${t4} and o.transaction_id = ${t2}))`.execute(owner)
  })
  const stored = await h.get('/entities/article/1/versions')
  t.strictSame(stored.body.items.map((v: any) => v.data.title), ['one', 'eins', 'uno', 'ichi'], 'the values were swapped')
  const problems = await verifyFails(t, h)
  t.strictSame(distinct(problems), [['article', '1', t2], ['article', '1', t4]], show(problems))
})

eachDatabase('tamper: swapping two versions\' transactions (reordering them) is found at both', async (t, h) => {
  const { t2, t3, t4 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    // The key (…, transaction_id) is unique: through t3, which article 1 has no version of.
    const at = (from: number, to: number) => sql`update versions set transaction_id = ${to}
      where type = 'article' and entity_key = '1' and transaction_id = ${from}`.execute(owner)
    await at(t2, t3)
    await at(t4, t2)
    await at(t3, t4)
  })
  const problems = await verifyFails(t, h)
  // In index order: index 1 now has t4, index 2 has t2.
  t.strictSame(distinct(problems), [['article', '1', t4], ['article', '1', t2]], show(problems))
})

// 7. Inserting versions.

eachDatabase('tamper: a forged version at the end of a chain (after the checkpoint, made-up hash) is found', async (t, h) => {
  const { versions, t1: h1, t5: h5 } = await history(t, h)
  let forged = 0
  await h.asOwner(async (owner) => {
    // Inserting needs no trigger to be disabled: the history tables refuse updates and deletes.
    const { rows } = await sql<{ id: string }>`insert into transactions (tenant, issued_at, actor) values ('default', now(), 'mallory') returning id`.execute(owner)
    forged = Number(rows[0]!.id)
    await sql`insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      values ('default', 'article', '2', ${forged}, 2, 0, 'update', ${JSON.stringify({ id: 2, title: 'forged' })}::jsonb,
        ${JSON.stringify({ title: ['deux', 'forged'] })}::jsonb, ${JSON.stringify({ id: 'c2FsdHNhbHRzYWx0', title: 'c2FsdHNhbHRzYWx0' })}::jsonb,
        ${'f'.repeat(64)})`.execute(owner)
    // The entity's head (migration 0011) tells reads where its history ends: a forger who wants the version read moves it too.
    await sql`update entity_heads set last_transaction_id = ${forged} where tenant = 'default' and type = 'article' and entity_key = '2'`.execute(owner)
  })
  const stored = await h.get('/entities/article/2/versions')
  t.strictSame(stored.body.items.map((v: any) => [v.transactionId, v.data.title]), [[h1, 'two'], [h5, 'deux'], [forged, 'forged']], 'the service reads the forged version')
  const res = await h.post('/integrity/verify', {})
  t.equal(res.body.ok, false)
  t.equal(res.body.versionsChecked, versions + 1)
  t.strictSame(distinct(res.body.problems), [['article', '2', forged]], show(res.body.problems))
})

eachDatabase('tamper: a forged version in the middle of a chain is found, first at the forged version', async (t, h) => {
  const { t3, t4, t5 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    // Make room at index 2 (the index is unique: up out of the way, then back one further).
    await sql`update versions set seq = seq + 1000 where type = 'article' and entity_key = '1' and seq >= 2`.execute(owner)
    await sql`update versions set seq = seq - 999 where type = 'article' and entity_key = '1' and seq >= 1000`.execute(owner)
    // t3 (a transaction of another entity) falls between t2 and t4.
    await sql`insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      values ('default', 'article', '1', ${t3}, 2, 1, 'update', ${JSON.stringify({ id: 1, title: 'forged', body: 'first body' })}::jsonb,
        ${JSON.stringify({ title: ['uno', 'forged'] })}::jsonb, ${JSON.stringify({ id: 'c2FsdHNhbHRzYWx0', title: 'c2FsdHNhbHRzYWx0', body: 'c2FsdHNhbHRzYWx0' })}::jsonb,
        ${'a'.repeat(64)})`.execute(owner)
  })
  const problems = await verifyFails(t, h)
  // Every later version's hash covers its index, and t4's its previous version's hash.
  t.strictSame(distinct(problems), [['article', '1', t3], ['article', '1', t4], ['article', '1', t5]], show(problems))
})

/** Rewrites article 1's chain from its version of `from` on, consistently, with the service's own hashing; answers the new hashes by transaction. */
async function forgeChain (owner: Db, from: number, title: string): Promise<Map<number, string>> {
  const versions = await entityChain(owner, 'default', 'article', '1', 0, Number.MAX_SAFE_INTEGER)
  const hashes = new Map<number, string>()
  let previous = GENESIS_HASH
  for (const v of versions) {
    if (v.transactionId >= from) {
      if (v.transactionId === from) {
        v.data = { ...v.data, title }
        v.changeset = { ...v.changeset, title: [(v.changeset.title as unknown[])[0], title] }
      }
      const { commitments, unverifiable } = commitmentsOf({ data: v.data, changeset: v.changeset }, v.salts, v.erased)
      if (unverifiable.length > 0) throw new Error(`unverifiable: ${unverifiable.join(', ')}`)
      const hash = versionHash(hashedDocument(
        { tenant: 'default', type: v.type, id: v.id, index: v.index, transactionId: v.transactionId, operation: v.operation },
        v.transaction!, commitments, previous))
      await sql`update versions set data = ${JSON.stringify(v.data)}::jsonb, changeset = ${JSON.stringify(v.changeset)}::jsonb, hash = ${hash}
        where type = 'article' and entity_key = '1' and transaction_id = ${v.transactionId}`.execute(owner)
      v.hash = hash
      hashes.set(v.transactionId, hash)
    }
    previous = v.hash
  }
  return hashes
}

eachDatabase('tamper: a whole chain recomputed consistently is found by the checkpoint (its head, then its signed root)', async (t, h) => {
  const { t2, t5, cp1, versions } = await history(t, h)
  let forged = new Map<number, string>()
  await tamper(h, ['versions'], async (owner) => { forged = await forgeChain(owner, t2, 'forged') })
  t.equal(forged.size, 3, 'the versions of t2, t4 and t5 were rewritten')
  const read = await h.get(`/entities/article/1/versions/${t2}`)
  t.equal(read.body.data.title, 'forged', 'the service reads the forged value')

  // Every link verifies: only the checkpoint's head of article 1 differs.
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['article', '1', t5]], show(problems))

  // Rewriting the checkpoint's stored head too: the heads no longer give the signed root.
  await tamper(h, ['checkpoint_heads'], async (owner) => {
    const { numAffectedRows } = await sql`update checkpoint_heads set hash = ${forged.get(t5)!}
      where type = 'article' and entity_key = '1' and sequence = 1`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const res = await h.post('/integrity/verify', {})
  t.equal(res.body.ok, false)
  t.equal(res.body.versionsChecked, versions)
  t.strictSame(triples(res.body.problems), [[null, null, cp1.upToTransactionId]], show(res.body.problems))
  t.equal(typeof res.body.problems[0].problem, 'string')
})

// 8. Deleting an entity.

eachDatabase('tamper: deleting a whole entity\'s history is found by the checkpoint', async (t, h) => {
  const { t4, versions } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    const { numAffectedRows } = await sql`delete from versions where type = 'author' and entity_key = 'a1'`.execute(owner)
    t.equal(numAffectedRows, 2n)
  })
  const res = await h.post('/integrity/verify', {})
  t.equal(res.body.ok, false)
  t.equal(res.body.versionsChecked, versions - 2)
  t.strictSame(triples(res.body.problems), [['author', 'a1', t4]], show(res.body.problems))
})

eachDatabase('tamper: deleting the last entity (in leaf order) is found by the checkpoint', async (t, h) => {
  const { t5 } = await history(t, h)
  await tamper(h, ['versions'], async (owner) => {
    await sql`delete from versions where type = 'comment' and entity_key = '1'`.execute(owner)
    await sql`delete from versions where type = 'comment' and entity_key = '2'`.execute(owner)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['comment', '1', t5]], show(problems))
})

// 9. Rollback and fork.

/** Deletes, as the owner, every version and transaction after `upTo` and every checkpoint from `sequence` on (a restored backup). */
async function rollBack (h: Harness, upTo: number, sequence: number): Promise<void> {
  await tamper(h, ['versions', 'transactions', 'checkpoints', 'checkpoint_heads'], async (owner) => {
    await sql`delete from versions where transaction_id > ${upTo}`.execute(owner)
    await sql`delete from transactions where id > ${upTo}`.execute(owner)
    await sql`delete from checkpoint_heads where sequence >= ${sequence}`.execute(owner)
    await sql`delete from checkpoints where sequence >= ${sequence}`.execute(owner)
  })
}

eachDatabase('tamper: a rollback past a kept checkpoint is found with it (and only with it)', async (t, h) => {
  const { t6, cp1 } = await history(t, h)
  const made = await h.post('/integrity/checkpoints')
  t.equal(made.status, 201)
  t.equal(made.body.upToTransactionId, t6)
  const kept = (await h.get('/integrity/checkpoints')).body.items[0] as Checkpoint
  t.strictSame(kept, made.body)
  t.equal(kept.sequence, 2)
  await txAs(h, 'erin', upd('article', '2', { title: 'zwei' }))

  // The database goes back to before checkpoint 2 (checkpoint 1 and what it covers stay).
  await rollBack(h, cp1.upToTransactionId, 2)
  const alone = await h.post('/integrity/verify', {})
  t.strictSame(alone.body, { ok: true, versionsChecked: 12, checkpointsChecked: 1, problems: [] }, 'a rolled-back history is self-consistent')
  const problems = await verifyFails(t, h, { checkpoint: kept })
  t.strictSame(triples(problems), [[null, null, kept.upToTransactionId]], show(problems))
  // The checkpoint still there is no evidence of anything.
  const older = await h.post('/integrity/verify', { checkpoint: cp1 })
  t.strictSame(older.body, { ok: true, versionsChecked: 12, checkpointsChecked: 1, problems: [] })
})

eachDatabase('tamper: a rollback to before any checkpoint verifies alone and is found with the kept checkpoint', async (t, h) => {
  const { t4, cp1 } = await history(t, h)
  await rollBack(h, t4, 1)
  const alone = await h.post('/integrity/verify', {})
  t.strictSame(alone.body, { ok: true, versionsChecked: 9, checkpointsChecked: 0, problems: [] }, 'nothing left to tell it by')
  const problems = await verifyFails(t, h, { checkpoint: cp1 })
  t.strictSame(triples(problems), [[null, null, cp1.upToTransactionId]], show(problems))
})

eachDatabase('tamper: a fork (a stored checkpoint replaced by another) is found with the kept one', async (t, h) => {
  const { cp1 } = await history(t, h)
  await tamper(h, ['checkpoints'], async (owner) => {
    const other = { ...cp1, createdAt: new Date(Date.parse(cp1.createdAt) + 1000).toISOString() }
    await sql`update checkpoints set checkpoint = ${JSON.stringify(other)}::jsonb where sequence = 1`.execute(owner)
  })
  const alone = await verifyFails(t, h)
  t.strictSame(triples(alone), [[null, null, cp1.upToTransactionId]], `not signed by the key: ${show(alone)}`)
  const problems = await verifyFails(t, h, { checkpoint: cp1 })
  t.strictSame(triples(problems), [[null, null, cp1.upToTransactionId], [null, null, cp1.upToTransactionId]], show(problems))
  t.equal(problems[1].problem === alone[0].problem, false, 'the kept checkpoint adds its own problem')
})

const forker = ephemeralSigner()
eachDatabase('tamper: a fork signed with the service\'s key (history and checkpoint rewritten) is found only with the kept checkpoint', async (t, h) => {
  const { t2, cp1 } = await history(t, h)
  await tamper(h, ['versions', 'checkpoint_heads', 'checkpoints'], async (owner) => {
    const forged = await forgeChain(owner, t2, 'forked')
    for (const [transactionId, hash] of forged) {
      await sql`update checkpoint_heads set hash = ${hash} where type = 'article' and entity_key = '1' and transaction_id = ${transactionId}`.execute(owner)
    }
    const { signature: _signature, ...unsigned } = cp1
    const resigned = signCheckpoint({ ...unsigned, root: await rootAt(owner, 'default', 1) }, forker.privateKey)
    t.not(resigned.root, cp1.root)
    await sql`update checkpoints set checkpoint = ${JSON.stringify(resigned)}::jsonb where sequence = 1`.execute(owner)
  })
  const alone = await h.post('/integrity/verify', {})
  t.strictSame(alone.body, { ok: true, versionsChecked: 14, checkpointsChecked: 1, problems: [] }, 'whoever holds the key can rewrite history undetectably, without a kept checkpoint')
  const problems = await verifyFails(t, h, { checkpoint: cp1 })
  t.strictSame(triples(problems), [[null, null, cp1.upToTransactionId]], show(problems))
}, { signer: forker })

// 10. Checkpoints and integrity records.

eachDatabase('tamper: an altered checkpoint signature is found (and breaks the next checkpoint\'s link)', async (t, h) => {
  const { cp1 } = await history(t, h)
  const cp2 = (await h.post('/integrity/checkpoints')).body as Checkpoint
  t.equal(cp2.sequence, 2)
  await tamper(h, ['checkpoints'], async (owner) => {
    const signature = Buffer.alloc(64, 7).toString('base64')
    t.not(signature, cp1.signature)
    await sql`update checkpoints set checkpoint = jsonb_set(checkpoint, '{signature}', ${JSON.stringify(signature)}::jsonb) where sequence = 1`.execute(owner)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [[null, null, cp1.upToTransactionId], [null, null, cp2.upToTransactionId]], show(problems))
})

eachDatabase('tamper: a checkpoint deleted from the middle of the sequence is found at the next one', async (t, h) => {
  await history(t, h)
  const cp2 = (await h.post('/integrity/checkpoints')).body as Checkpoint
  await txAs(h, 'erin', upd('article', '2', { title: 'zwei' }))
  const cp3 = (await h.post('/integrity/checkpoints')).body as Checkpoint
  t.equal(cp2.sequence, 2)
  t.equal(cp3.sequence, 3)
  t.not(cp3.upToTransactionId, cp2.upToTransactionId)
  await tamper(h, ['checkpoints'], async (owner) => {
    const { numAffectedRows } = await sql`delete from checkpoints where sequence = 2`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const res = await h.post('/integrity/verify', {})
  t.equal(res.body.ok, false)
  t.equal(res.body.checkpointsChecked, 2)
  t.strictSame(distinct(res.body.problems), [[null, null, cp3.upToTransactionId]], show(res.body.problems))
})

eachDatabase('tamper: an altered integrity record (a type definition) is found', async (t, h) => {
  await history(t, h)
  await tamper(h, ['integrity_records'], async (owner) => {
    const { numAffectedRows } = await sql`update integrity_records set body = jsonb_set(body, '{definition}', '{"exclude": ["title"]}')
      where sequence = 1 and kind = 'entityType'`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [[null, null, null]], show(problems))
})

eachDatabase('tamper: integrity records rewritten with a consistent chain are found by the checkpoint', async (t, h) => {
  const { cp1 } = await history(t, h)
  await tamper(h, ['integrity_records'], async (owner) => {
    await sql`update integrity_records set body = jsonb_set(body, '{definition}', '{"exclude": ["title"]}') where sequence = 1`.execute(owner)
    let previous = NO_RECORDS
    for (const record of await listRecords(owner, 'default', { limit: 100 })) {
      const chainHash = recordChainHash(previous, record)
      await sql`update integrity_records set chain_hash = ${chainHash} where sequence = ${record.sequence}`.execute(owner)
      previous = chainHash
    }
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [[null, null, cp1.upToTransactionId]], show(problems))
})

eachDatabase('tamper: an integrity record deleted from the middle is found', async (t, h) => {
  await history(t, h)
  await tamper(h, ['integrity_records'], async (owner) => {
    const { numAffectedRows } = await sql`delete from integrity_records where sequence = 2`.execute(owner)
    t.equal(numAffectedRows, 1n)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(distinct(problems), [[null, null, null]], show(problems))
})

// Beyond the list: imitating the service's own ways of changing history.

eachDatabase('tamper: a whole new entity forged under the checkpoint with a consistent chain is found by the checkpoint', async (t, h) => {
  const { t3, cp1 } = await history(t, h)
  await h.asOwner(async (owner) => {
    const [tr] = (await entityChain(owner, 'default', 'author', 'a2', 0, Number.MAX_SAFE_INTEGER)).map((v) => v.transaction!)
    const data = { id: 'a3', name: 'Ghost' }
    const salts = { id: 'c2FsdHNhbHRzYWx0c2FsdA', name: 'c2FsdHNhbHRzYWx0c2FsdB' }
    const changeset = { id: [null, 'a3'], name: [null, 'Ghost'] }
    const { commitments } = commitmentsOf({ data, changeset }, salts, null)
    const hash = versionHash(hashedDocument({ tenant: 'default', type: 'author', id: 'a3', index: 0, transactionId: t3, operation: 'insert' }, tr!, commitments, GENESIS_HASH))
    await sql`insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      values ('default', 'author', 'a3', ${t3}, 0, 1, 'insert', ${JSON.stringify(data)}::jsonb, ${JSON.stringify(changeset)}::jsonb, ${JSON.stringify(salts)}::jsonb, ${hash})`.execute(owner)
  })
  const problems = await verifyFails(t, h)
  t.strictSame(triples(problems), [['author', 'a3', t3]], show(problems))
  t.equal(t3 <= cp1.upToTransactionId, true)
})

eachDatabase('tamper: deleting the oldest versions and forging a pruning anchor (no pruning record) is found', async (t, h) => {
  const { t2, t4, t5 } = await history(t, h)
  // Prune-like: article 1 keeps its versions from index 2 (t4) on, as rewind_prune would leave them, but no pruning is recorded.
  await tamper(h, ['versions'], async (owner) => {
    const { rows } = await sql<{ hash: string }>`select hash from versions where type = 'article' and entity_key = '1' and transaction_id = ${t2}`.execute(owner)
    await sql`delete from versions where type = 'article' and entity_key = '1' and seq < 2`.execute(owner)
    await sql`insert into entity_anchors (tenant, type, entity_key, seq, transaction_id, hash) values ('default', 'article', '1', 2, ${t2}, ${rows[0]!.hash})`.execute(owner)
  })
  const stored = await h.get('/entities/article/1/versions')
  t.strictSame(stored.body.items.map((v: any) => v.transactionId), [t4, t5], 'the oldest versions are gone')
  const problems = await verifyFails(t, h)
  // Expected: the anchor matches no recorded pruning of article 1 (the integrity records hold none).
  t.strictSame(distinct(problems).map(([type, id]) => [type, id]), [['article', '1']], show(problems))
})

eachDatabase('tamper: deleting a checkpointed head and all before it, with a forged anchor, is found', async (t, h) => {
  const { t4 } = await history(t, h)
  // author a1: t1 (index 0), t4 (index 1, the checkpoint's head). A forged later version, anchored after the deleted ones.
  let forged = 0
  await tamper(h, ['versions'], async (owner) => {
    const versions = await entityChain(owner, 'default', 'author', 'a1', 0, Number.MAX_SAFE_INTEGER)
    const head = versions[1]!
    const { rows } = await sql<{ id: string }>`insert into transactions (tenant, issued_at, actor) values ('default', now(), 'mallory') returning id`.execute(owner)
    forged = Number(rows[0]!.id)
    // The forged version's transaction as its hash covers it.
    const transaction = { ...versions[0]!.transaction!, actor: 'mallory' }
    const { rows: stored } = await sql<{ issued_at: Date, recorded_at: Date }>`select issued_at, recorded_at from transactions where id = ${forged}`.execute(owner)
    transaction.issuedAt = new Date(stored[0]!.issued_at).toISOString()
    transaction.recordedAt = new Date(stored[0]!.recorded_at).toISOString()
    transaction.recordedBy = null
    const data = { id: 'a1', name: 'Mallory' }
    const changeset = { name: ['Anne', 'Mallory'] }
    const salts = { id: 'c2FsdHNhbHRzYWx0c2FsdA', name: 'c2FsdHNhbHRzYWx0c2FsdB' }
    const { commitments } = commitmentsOf({ data, changeset }, salts, null)
    const hash = versionHash(hashedDocument({ tenant: 'default', type: 'author', id: 'a1', index: 2, transactionId: forged, operation: 'update' }, transaction, commitments, head.hash))
    await sql`insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
      values ('default', 'author', 'a1', ${forged}, 2, 0, 'update', ${JSON.stringify(data)}::jsonb, ${JSON.stringify(changeset)}::jsonb, ${JSON.stringify(salts)}::jsonb, ${hash})`.execute(owner)
    await sql`delete from versions where type = 'author' and entity_key = 'a1' and seq < 2`.execute(owner)
    await sql`insert into entity_anchors (tenant, type, entity_key, seq, transaction_id, hash) values ('default', 'author', 'a1', 2, ${t4}, ${head.hash})`.execute(owner)
  })
  const stored = await h.get('/entities/author/a1/versions')
  t.strictSame(stored.body.items.map((v: any) => [v.transactionId, v.data.name]), [[forged, 'Mallory']], 'only the forged version is left')
  const problems = await verifyFails(t, h)
  // Expected: the checkpoint's head of author a1 (t4) is gone without a recorded pruning.
  t.strictSame(distinct(problems).map(([type, id]) => [type, id]), [['author', 'a1']], show(problems))
})
