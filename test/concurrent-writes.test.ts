import { sql } from 'kysely'
import { DefinitionCache } from '../src/services/definitions.js'
import { recordChanges, recordChangesOptimistically } from '../src/services/record.js'
import { appendTransaction } from '../src/store/append.js'
import { inTransaction } from '../src/store/database.js'
import { lockKeys, lockNames } from '../src/store/locks.js'
import { latestVersions } from '../src/store/versions.js'
import { entityRef } from '../src/versioning/keys.js'
import { planVersions, resolveChanges } from '../src/versioning/unit-of-work.js'
import type { Test } from 'tap'
import { buildApp } from '../src/http/app.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { GENESIS_HASH } from '../src/integrity/canonical.js'
import { sealVersion } from '../src/integrity/seal.js'
import { hashedTransaction } from '../src/integrity/version-hash.js'
import { del, ins, tx, upd } from './helpers/changes.js'

/**
 * POST /transactions without an Idempotency-Key reads the latest versions (unless this
 * process wrote them, or the entity is inserted) and appends in one statement that takes
 * the entity locks itself, with no database transaction around the two. An entity's
 * version numbers are unique, so a writer that planned on a version another writer (or
 * another instance) has since superseded appends nothing and is redone on a fresh read.
 */

const TENANT = 'default'

/**
 * Sessions waiting for an advisory lock that session `pid` holds. pg_locks lists every session
 * of the cluster: other tests (other schemas, other test processes) take advisory locks too,
 * so only the waiters of this test's lock holder are counted.
 */
async function waitingOn (h: Harness, pid: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from pg_locks
    where locktype = 'advisory' and not granted and ${pid}::int = any(pg_blocking_pids(pid))`.execute(h.db)
  return Number(rows[0]?.n)
}

const backendPid = async (trx: Parameters<Parameters<typeof inTransaction>[1]>[0]): Promise<number> =>
  Number((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!.pid)

async function versionsOf (h: Harness, id: string): Promise<Array<{ index: number, transactionId: number, data: Record<string, unknown> }>> {
  const res = await h.get(`/entities/article/${id}/versions?order=asc&limit=200`)
  if (res.status !== 200) throw new Error(`GET versions: ${res.status}`)
  return res.body.items
}

/** Another instance of the service on the same database (its own caches), as a second replica would be. */
async function secondInstance (t: Test, h: Harness): Promise<(changes: unknown[], extra?: object) => Promise<{ status: number, body: any }>> {
  const app = await buildApp({ db: h.db, closeDatabase: false })
  t.teardown(async () => { await app.close() })
  return async (changes, extra = {}) => {
    const res = await app.inject({ method: 'POST', url: '/transactions', headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminKey}` }, payload: JSON.stringify({ ...extra, changes }) })
    return { status: res.statusCode, body: JSON.parse(res.body) }
  }
}

/** The statements of one POST /transactions (the fewest of three tries: a reload of the cached type definitions may fall into one). */
async function statementsOf (t: Test, h: Harness, name: string, changes: () => unknown[]): Promise<string[]> {
  let fewest: string[] | undefined
  for (let run = 0; run < 3; run++) {
    h.resetQueries()
    const res = await h.post('/transactions', { changes: changes() })
    t.equal(res.status, 201, `${name}: recorded`)
    if (fewest === undefined || h.queries.length < fewest.length) fewest = [...h.queries]
  }
  return fewest ?? []
}

eachDatabase('Ingest: one statement when the entities are new or were written here, two otherwise', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const other = await secondInstance(t, h)
  t.equal((await other(Array.from({ length: 10 }, (_, i) => ins('article', { id: i, title: `a${i}` })))).status, 201, 'another instance creates the articles')
  let n = 0
  const mixed = (): unknown[] => Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? ins('article', { id: 100 + ++n, title: 'new' }) : upd('article', String(i), { title: `t${++n}` }))

  h.resetQueries()
  t.equal((await h.post('/transactions', { changes: mixed() })).status, 201)
  const unknown = h.queries.filter((q) => !/entity_types/.test(q))
  t.equal(unknown.length, 2, 'updates of entities this instance has not written: one read, one append', { queries: unknown })
  t.match(unknown[0], /from unnest/, 'the latest versions are read in one statement')
  t.match(unknown[1], /pg_advisory_xact_lock[\s\S]*insert into transactions[\s\S]*insert into versions/, 'the append takes the locks, then writes')

  for (const [name, changes] of Object.entries({
    '1 insert': () => [ins('article', { id: 1000 + ++n })],
    '1 update': () => [upd('article', '1', { title: `t${++n}` })],
    '10 changes, inserts and updates': mixed
  })) {
    const statements = await statementsOf(t, h, name, changes)
    t.equal(statements.length, 1, `${name}: the append alone`, { queries: statements })
  }
})

eachDatabase('Ingest: an append planned on a superseded version writes nothing', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 1, title: 'first', views: 0 }))
  const definitions = await new DefinitionCache(TENANT).get(h.db)
  const changes = resolveChanges(definitions, [{ type: 'article', op: 'update', id: '1', data: { views: 1 } }])
  const read = await latestVersions(h.db, TENANT, [{ type: 'article', key: '1' }])
  const planned = planVersions(definitions, changes, read)
  t.equal(planned[0]?.index, 1, 'planned as the second version')

  await tx(h, upd('article', '1', { title: 'second' })) // another writer gets there first
  const before = { transactions: await h.count('transactions'), versions: await h.count('versions') }
  await t.rejects(appendTransaction(h.db, TENANT, { actor: 'stale', issuedAt: new Date().toISOString(), recordedAt: new Date().toISOString() }, planned, planned.map((v) => sealVersion({ tenant: TENANT, type: v.type, id: v.key, index: v.index, operation: v.operation }, hashedTransaction({ issuedAt: new Date().toISOString(), recordedAt: new Date().toISOString() }), v.data, v.changeset, GENESIS_HASH)), [], new Map(), { refs: [entityRef('article', '1')], heads: [{ type: 'article', key: '1', after: read.get(entityRef('article', '1'))!.transactionId }] }),
    { name: 'ConcurrentAppend' }, 'the taken version number is reported as a concurrent append')
  t.strictSame({ transactions: await h.count('transactions'), versions: await h.count('versions') }, before, 'no transaction and no version were written')

  const redone = await recordChangesOptimistically(h.db, TENANT, definitions, { actor: 'fresh', changes: [{ type: 'article', op: 'update', id: '1', data: { views: 1 } }] })
  t.equal(redone.versions[0]?.index, 2, 'a fresh read appends the third version')
  t.strictSame(redone.versions[0]?.data, { id: 1, title: 'second', views: 1 }, 'on top of the other writer\'s state')
  t.strictSame(redone.versions[0]?.changeset, { views: [0, 1] })
})

eachDatabase('Ingest: a writer that read before another committed is redone on the fresh state', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 1, title: 'first', views: 0 }))
  const definitions = await new DefinitionCache(TENANT).get(h.db)

  // Writer A holds the entity's lock in an open transaction, its version appended but not committed.
  let releaseA!: () => void
  const aMayCommit = new Promise<void>((resolve) => { releaseA = resolve })
  let aAppended!: (pid: number) => void
  const aHasAppended = new Promise<number>((resolve) => { aAppended = resolve })
  const writerA = inTransaction(h.db, async (trx) => {
    const result = await recordChanges(trx, TENANT, definitions, { actor: 'A', changes: [{ type: 'article', op: 'update', id: '1', data: { title: 'by A' } }] })
    aAppended(await backendPid(trx))
    await aMayCommit
    return result
  })
  const aPid = await aHasAppended

  // Writer B reads the committed state (A's version is not visible yet), then waits on A's lock.
  const writerB = recordChangesOptimistically(h.db, TENANT, definitions, { actor: 'B', changes: [{ type: 'article', op: 'update', id: '1', data: { views: 5 } }] })
  for (let i = 0; i < 200; i++) {
    if (await waitingOn(h, aPid) > 0) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.equal(await waitingOn(h, aPid), 1, 'B waits on the lock A holds')
  releaseA()
  const [a, b] = await Promise.all([writerA, writerB])

  t.equal(a.versions[0]?.index, 1)
  t.equal(b.versions[0]?.index, 2, 'B appended after A')
  t.strictSame(b.versions[0]?.data, { id: 1, title: 'by A', views: 5 }, 'B\'s update applies on top of A\'s, nothing is lost')
  t.strictSame(b.versions[0]?.changeset, { views: [0, 5] }, 'B\'s changeset is taken against A\'s version')
  const stored = await versionsOf(h, '1')
  t.strictSame(stored.map((v) => v.index), [0, 1, 2], 'the history is one unbroken chain')
  t.strictSame(stored.map((v) => v.data), [{ id: 1, title: 'first', views: 0 }, { id: 1, title: 'by A', views: 0 }, { id: 1, title: 'by A', views: 5 }])
}, { skip: { pglite: 'PGlite has one connection: no writer can wait on another\'s lock; the append test above covers the check' } })

eachDatabase('Ingest: concurrent updates of one entity all land, one version each', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 1 }))
  const writers = 24
  const replies = await Promise.all(Array.from({ length: writers }, async (_, i) =>
    await h.post('/transactions', { actor: `writer ${i}`, changes: [upd('article', '1', { [`f${i}`]: i })] })))
  t.strictSame(replies.map((r) => r.status), replies.map(() => 201), 'every write is recorded')
  const indexes = replies.map((r) => r.body.versions[0].index as number).sort((a, b) => a - b)
  t.strictSame(indexes, Array.from({ length: writers }, (_, i) => i + 1), 'each got its own version number')
  const stored = await versionsOf(h, '1')
  t.strictSame(stored.map((v) => v.index), Array.from({ length: writers + 1 }, (_, i) => i), 'the stored chain has no gap and no duplicate')
  const last = stored.at(-1)!.data
  t.strictSame(last, { id: 1, ...Object.fromEntries(Array.from({ length: writers }, (_, i) => [`f${i}`, i])) }, 'the final state holds every writer\'s field')
  for (const [i, v] of stored.entries()) {
    if (i === 0) continue
    t.equal(Object.keys(v.data).length, Object.keys(stored[i - 1]!.data).length + 1, `version ${i} adds one field to version ${i - 1}`)
  }
})

eachDatabase('Ingest: what another instance wrote is never overlooked', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const other = await secondInstance(t, h)
  const here = async (changes: unknown[], extra: object = {}): Promise<{ status: number, body: any }> => await h.post('/transactions', { ...extra, changes })
  await tx(h, ins('article', { id: 1, title: 'a', views: 0 }), ins('article', { id: 2, title: 'a' }), ins('article', { id: 3, title: 'a' }), ins('article', { id: 4, title: 'a' }))

  // An update on top of a version this instance did not write.
  t.equal((await other([upd('article', '1', { title: 'b' })])).status, 201)
  const update = await here([upd('article', '1', { views: 1 })])
  t.equal(update.status, 201)
  t.strictSame(update.body.versions[0], { ...update.body.versions[0], index: 2, data: { id: 1, title: 'b', views: 1 }, changeset: { views: [0, 1] } },
    'applied to the other instance\'s version, numbered after it')

  // Setting back a value the other instance changed is a change, not a no-op.
  t.equal((await other([upd('article', '2', { title: 'b' })])).status, 201)
  const back = await here([upd('article', '2', { title: 'a' })])
  t.equal(back.status, 201, 'recorded')
  t.strictSame(back.body.versions[0]?.changeset, { title: ['b', 'a'] })

  // expectedTransactionId is checked against the latest version, whoever wrote it.
  const elsewhere = await other([upd('article', '3', { title: 'b' })])
  const expected = await here([{ ...upd('article', '3', { title: 'c' }), expectedTransactionId: elsewhere.body.transaction.id }])
  t.equal(expected.status, 201, 'the other instance\'s transaction is the one expected')
  const stale = await here([{ ...upd('article', '3', { title: 'd' }), expectedTransactionId: elsewhere.body.transaction.id }])
  t.equal(stale.status, 409, 'an older expected transaction is a conflict')

  // Deleted elsewhere: an update is a 409; brought back elsewhere: an update works.
  t.equal((await other([del('article', '4')])).status, 201)
  t.equal((await here([upd('article', '4', { title: 'x' })])).status, 409, 'updating an entity deleted elsewhere is a conflict')
  t.equal((await here([del('article', '4')])).status, 409, 'deleting it again too')
  t.equal((await other([ins('article', { id: 4, title: 'back' })])).status, 201)
  const revived = await here([upd('article', '4', { title: 'y' })])
  t.equal(revived.status, 201, 'an entity brought back elsewhere can be updated here')
  t.equal(revived.body.versions[0]?.index, 3)

  // An insert of an entity that exists (or existed) elsewhere.
  t.equal((await other([ins('article', { id: 5, title: 'elsewhere' })])).status, 201)
  t.equal((await here([ins('article', { id: 5, title: 'here' })])).status, 409, 'inserting an entity that exists is a conflict')
  t.equal((await other([del('article', '5')])).status, 201)
  const again = await here([ins('article', { id: 5, title: 'here' })])
  t.equal(again.status, 201, 'inserting it after its delete brings it back')
  t.strictSame([again.body.versions[0]?.operation, again.body.versions[0]?.index], ['insert', 2])

  const chains = await Promise.all(['1', '2', '3', '4', '5'].map(async (id) => (await versionsOf(h, id)).map((v) => v.index)))
  t.strictSame(chains, [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2, 3], [0, 1, 2]], 'every history is one unbroken chain')
})

eachDatabase('Ingest: writes after a revert or an idempotent write start from what they recorded', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const first = await tx(h, ins('article', { id: 1, title: 'first', views: 0 }))
  await tx(h, upd('article', '1', { title: 'second' }))
  t.equal((await h.post('/entities/article/1/revert', { to: first })).status, 201, 'reverted to the first version')
  const afterRevert = await h.post('/transactions', { changes: [upd('article', '1', { views: 1 })] })
  t.equal(afterRevert.status, 201)
  t.strictSame([afterRevert.body.versions[0]?.index, afterRevert.body.versions[0]?.data], [3, { id: 1, title: 'first', views: 1 }], 'the update applies to the reverted state')

  const keyed = await h.post('/transactions', { changes: [upd('article', '1', { title: 'keyed' })] }, { 'idempotency-key': 'k-1' })
  t.equal(keyed.status, 201)
  h.resetQueries()
  const afterKeyed = await h.post('/transactions', { changes: [upd('article', '1', { views: 2 })] })
  t.equal(h.queries.filter((q) => !/entity_types/.test(q)).length, 1, 'the keyed write left its state as the hint: the next write only appends')
  t.strictSame([afterKeyed.body.versions[0]?.index, afterKeyed.body.versions[0]?.data], [5, { id: 1, title: 'keyed', views: 2 }], 'the update applies to the idempotent write\'s state')
  t.strictSame(afterKeyed.body.versions[0]?.changeset, { views: [1, 2] })
})

eachDatabase('Ingest: an append that PostgreSQL aborts for a deadlock is run again', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 1, n: 0 }), ins('article', { id: 2, n: 0 }))
  const definitions = await new DefinitionCache(TENANT).get(h.db)
  // The append takes the locks of both articles in key order; another writer takes them the other way round.
  const keyOf = (id: string): string => lockKeys(TENANT, [entityRef('article', id)])[0]!
  const [early, late] = lockKeys(TENANT, [entityRef('article', '1'), entityRef('article', '2')])[0] === keyOf('1') ? ['1', '2'] : ['2', '1']
  let attempt = 0
  let holdsLate!: () => void
  const otherHoldsLate = new Promise<void>((resolve) => { holdsLate = resolve })
  const other = inTransaction(h.db, async (trx) => {
    await lockNames(trx, TENANT, [entityRef('article', late!)])
    if (++attempt === 1) {
      const pid = await backendPid(trx)
      holdsLate()
      for (let i = 0; i < 300 && await waitingOn(h, pid) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await lockNames(trx, TENANT, [entityRef('article', early!)]) // the append holds it and waits for `late`: a deadlock
    return await recordChanges(trx, TENANT, definitions, { actor: 'other', changes: [{ type: 'article', op: 'update', id: late!, data: { n: 1 } }] })
  })
  await otherHoldsLate
  const append = recordChangesOptimistically(h.db, TENANT, definitions, {
    actor: 'append', changes: ['1', '2'].map((id) => ({ type: 'article', op: 'update' as const, id, data: { m: 1 } }))
  })
  const [a, b] = await Promise.all([append, other])
  t.strictSame(a.versions.map((v) => v.id).sort(), ['1', '2'], 'the append recorded both versions')
  t.equal(b.versions.length, 1, 'the other writer recorded its version')
  t.strictSame((await versionsOf(h, early!)).map((v) => v.index), [0, 1], 'one chain is unbroken')
  const lateVersions = await versionsOf(h, late!)
  t.strictSame(lateVersions.map((v) => v.index), [0, 1, 2], 'the other too')
  t.strictSame(lateVersions.at(-1)?.data, { id: Number(late), n: 1, m: 1 }, 'both writes are in the final state')
}, { skip: { pglite: 'PGlite has one connection: no two writers can wait on each other' } })
