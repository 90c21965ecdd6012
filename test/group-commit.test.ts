import { GENESIS_HASH } from '../src/integrity/canonical.js'
import { sealVersion } from '../src/integrity/seal.js'
import { hashedTransaction } from '../src/integrity/version-hash.js'
import { DefinitionCache } from '../src/services/definitions.js'
import { GroupCommit } from '../src/services/group-commit.js'
import { currentRevision } from '../src/services/schema.js'
import type { Append, Appended } from '../src/store/append.js'
import { latestVersions } from '../src/store/versions.js'
import { entityRef } from '../src/versioning/keys.js'
import { planVersions, resolveChanges, type ChangeInput } from '../src/versioning/unit-of-work.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins as insert, upd as update } from './helpers/changes.js'

/**
 * Group commit (src/services/group-commit.ts): appends that wait while others are written
 * are written together, one statement and one commit, each answered with its own
 * transaction; a batch's failure never fails the appends beside it.
 */

const TENANT = 'default'
const ins = (type: string, data: Record<string, unknown>): ChangeInput => insert(type, data) as unknown as ChangeInput
const upd = (type: string, id: string, data: Record<string, unknown>): ChangeInput => update(type, id, data) as unknown as ChangeInput

/** The `rewind_append_batch_transactions` histogram's count (group commits) and sum (transactions). */
async function batches (h: Harness): Promise<{ commits: number, transactions: number }> {
  const text = String((await h.get('/metrics')).body)
  const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? 0)
  return { commits: value('rewind_append_batch_transactions_count'), transactions: value('rewind_append_batch_transactions_sum') }
}

/** An append planned now, as the service would plan it without hints, taking its own locks. */
async function planned (h: Harness, actor: string, changes: ChangeInput[], revision?: number): Promise<Append> {
  const definitions = await new DefinitionCache(TENANT).get(h.db)
  const resolved = resolveChanges(definitions, changes)
  const latest = await latestVersions(h.db, TENANT, resolved)
  const versions = planVersions(definitions, resolved, latest)
  const now = new Date().toISOString()
  const tx = { actor, issuedAt: now, recordedAt: now }
  const sealed = versions.map((v) => sealVersion({ tenant: TENANT, type: v.type, id: v.key, index: v.index, operation: v.operation },
    hashedTransaction(tx), v.data, v.changeset, latest.get(entityRef(v.type, v.key))?.hash ?? GENESIS_HASH))
  const refs = versions.map((v) => entityRef(v.type, v.key))
  const current = currentRevision(definitions, 'article')
  const revisions = new Map(revision !== undefined ? [['article', revision]] : current !== undefined ? [['article', current]] : [])
  return {
    tx, versions, sealed, refs: [],
    revisions,
    locking: { refs, heads: versions.map((v) => ({ type: v.type, key: v.key, after: latest.get(entityRef(v.type, v.key))?.transactionId ?? null })) }
  }
}

/** Each promise's value, or its error's name. */
const outcomes = async (appends: Array<Promise<Appended>>): Promise<Array<string | Appended>> =>
  await Promise.all(appends.map(async (p) => await p.then((a) => a, (e: Error) => e.name)))

eachDatabase('concurrent posts of distinct entities share commits; each gets its own transaction, and history verifies', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.post('/transactions', { changes: Array.from({ length: 24 }, (_, i) => ins('article', { id: i, n: 0 })) })).status, 201)
  const before = await batches(h)
  const answers = await Promise.all(Array.from({ length: 24 }, async (_, i) =>
    await h.post('/transactions', { actor: `writer ${i}`, changes: [upd('article', String(i), { n: 1 }), ins('article', { id: 100 + i, n: 0 })] })))
  t.strictSame(answers.map((a) => a.status), Array(24).fill(201))
  const after = await batches(h)
  t.equal(after.transactions - before.transactions, 24, 'every transaction went through a group commit')
  // The embedded database runs each statement on the event loop: a write's append is done before
  // the next request's reaches it, so nothing waits to be grouped there.
  if (h.kind === 'postgres') t.ok(after.commits - before.commits < 24, `fewer commits than transactions (${after.commits - before.commits} for 24)`)
  const ids = answers.map((a) => a.body.transaction.id as number)
  t.equal(new Set(ids).size, 24, 'each its own transaction')
  for (const [i, a] of answers.entries()) {
    t.strictSame(a.body.versions.map((v: { id: string, index: number, transactionId: number }) => [v.id, v.index, v.transactionId]),
      [[String(i), 1, ids[i]], [String(100 + i), 0, ids[i]]], `writer ${i}: its own versions`)
    const read = await h.get(`/transactions/${ids[i]!}`)
    t.equal(read.body.actor, `writer ${i}`, `transaction ${ids[i]!} reads back as writer ${i}'s`)
  }
  t.strictSame((await h.post('/integrity/verify', {})).body, { ok: true, versionsChecked: 72, checkpointsChecked: 0, problems: [] })
})

eachDatabase('a batch whose statement fails is written append by append: only the failing one fails', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const commits = new GroupCommit(h.db, 1)
  const appends = [
    await planned(h, 'first', [ins('article', { id: 1 })]),
    await planned(h, 'a', [ins('article', { id: 2 })]),
    await planned(h, 'stale', [ins('article', { id: 3 })], 99),
    await planned(h, 'b', [ins('article', { id: 4 })])
  ]
  const before = await batches(h)
  // The last three wait while the first is written, then go together; the stale one's revision is not the type's.
  const [first, ...waiting] = appends.map((a) => commits.append(TENANT, a))
  t.equal(commits.waitingCount, 3, 'three appends wait for the first')
  const [done, ...rest] = await outcomes([first!, ...waiting])
  t.equal(typeof done, 'object')
  t.strictSame(rest.map((r) => typeof r === 'string' ? r : r.transaction.actor), ['a', 'StaleDefinition', 'b'])
  const after = await batches(h)
  t.strictSame({ commits: after.commits - before.commits, transactions: after.transactions - before.transactions }, { commits: 2, transactions: 4 },
    'the first alone, the three as one batch (then one by one)')
  t.strictSame((await h.get('/entities/article?limit=10')).body.items.map((e: { id: string }) => e.id), ['1', '2', '4'], 'nothing of the stale one was written')
  t.equal(await h.count('transactions'), 3)
})

eachDatabase('two appends planned on one version of an entity never share a batch: the later one is refused', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.post('/transactions', { changes: [ins('article', { id: 1, n: 0 })] })).status, 201)
  const commits = new GroupCommit(h.db, 1)
  const appends = [
    await planned(h, 'other', [ins('article', { id: 2 })]),
    await planned(h, 'one', [upd('article', '1', { n: 1 })]),
    await planned(h, 'two', [upd('article', '1', { n: 2 })])
  ]
  const [first, one, two] = appends.map((a) => commits.append(TENANT, a))
  t.equal(commits.waitingCount, 2)
  const [, a, b] = await outcomes([first!, one!, two!])
  t.equal(typeof a === 'string' ? a : a?.transaction.actor, 'one')
  t.equal(b, 'ConcurrentAppend', 'planned on the version the first replaced')
  const versions = await h.get('/entities/article/1/versions?order=asc')
  t.strictSame(versions.body.items.map((v: { index: number, data: { n: number } }) => [v.index, v.data.n]), [[0, 0], [1, 1]])
})
