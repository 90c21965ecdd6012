import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { runRetention } from '../src/services/retention.js'
import { ephemeralSigner } from '../src/services/signing-key.js'
import { Tenants } from '../src/services/tenants.js'
import type { ServiceContext } from '../src/services/context.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { assertProblem, indexesOf, verifyOk } from './helpers/assertions.js'
import { ins, tx, upd } from './helpers/changes.js'

// API.md, "Redaction and retention (v2)": a type's retention rule prunes old versions
// (never an entity's latest), `index` never changes, what needs a pruned version is 410,
// verify still passes; legal holds stop pruning.

const DAY = 86_400_000
const NONE = { versions: 0, entities: [], truncated: false }

/** The app and the service functions called directly sign with the same key, so that verify accepts both's checkpoints. */
const signer = ephemeralSigner()
/** A service context on the harness's database (as bench/in-process.ts builds one): to run retention at another `now`. */
const contextOf = (h: Harness): ServiceContext => new Tenants(h.db, 0, signer).context(undefined, 'default')

async function gone (t: Test, h: Harness, url: string, body?: unknown): Promise<void> {
  const res = body === undefined ? await h.get(url) : await h.post(url, body)
  assertProblem(t, res, 410, url)
  t.equal(res.body.type, 'urn:rewind:problem/gone', `${url}: problem type gone`)
}

eachDatabase('keepVersions prunes the older versions; what needs them is 410; verify passes; pruning is recorded', async (t, h) => {
  const types = await h.newKey(['types'])
  assertProblem(t, await h.request('PUT', '/entity-types/session', { retention: { keepVersions: 2 } }, { authorization: `Bearer ${types.key}` }), 403, 'a types-only key')
  t.equal((await h.request('PUT', '/entity-types/session', {}, { authorization: `Bearer ${types.key}` })).status, 201, 'a types-only key registers the type without retention')
  assertProblem(t, await h.request('PUT', '/entity-types/session', { retention: { keepVersions: 2 } }, { authorization: `Bearer ${types.key}` }), 403, 'nor add it later')
  const put = await h.put('/entity-types/session', { retention: { keepVersions: 2 } })
  t.equal(put.status, 200, JSON.stringify(put.body))
  t.strictSame(put.body.definition.retention, { keepVersions: 2 })
  t.equal((await h.put('/entity-types/single', { retention: { keepVersions: 1 } })).status, 201)

  const t1 = await tx(h, ins('session', { id: 's1', n: 0 }), ins('single', { id: 'x', n: 0 }))
  const t2 = await tx(h, upd('session', 's1', { n: 1 }))
  const t3 = await tx(h, upd('session', 's1', { n: 2 }))
  const tS2 = await tx(h, ins('session', { id: 's2', n: 0 }))
  const t4 = await tx(h, upd('session', 's1', { n: 3 }))
  const t5 = await tx(h, upd('session', 's1', { n: 4 }))
  const checkpointsBefore = (await h.get('/integrity/checkpoints')).body.items.length

  const writer = await h.newKey(['read', 'write', 'revert', 'types'])
  assertProblem(t, await h.request('POST', '/retention/run', undefined, { authorization: `Bearer ${writer.key}` }), 403, 'a non-admin run')
  t.strictSame(await indexesOf(h, 'session', 's1'), [0, 1, 2, 3, 4], 'a refused run prunes nothing')

  const run = await h.post('/retention/run')
  t.equal(run.status, 200)
  t.strictSame(run.body, { versions: 3, entities: [{ type: 'session', id: 's1', versions: 3, keptFromIndex: 3 }], truncated: false })

  const list = await h.get('/entities/session/s1/versions')
  t.strictSame(list.body.items.map((v: any) => [v.index, v.transactionId, v.data.n]), [[3, t4, 3], [4, t5, 4]], 'index 3 and 4 remain, their index unchanged')
  t.strictSame(await indexesOf(h, 'session', 's2'), [0], 'an entity with one version keeps it')
  t.strictSame(await indexesOf(h, 'single', 'x'), [0], 'the latest version is never pruned (keepVersions 1, one version)')
  const oldest = await h.get(`/entities/session/s1/versions/${t4}`)
  t.equal(oldest.status, 200)
  t.equal(oldest.body.previous, null)
  t.equal(oldest.body.pruned, true)
  t.equal(oldest.body.index, 3)
  const newest = await h.get(`/entities/session/s1/versions/${t5}`)
  t.equal(newest.body.previous, t4)
  t.equal(newest.body.pruned, undefined, 'only the oldest kept version says pruned')

  await gone(t, h, `/entities/session/s1/versions/${t2}`)
  await gone(t, h, `/entities/session/s1/versions/${t3}`)
  await gone(t, h, `/entities/session/s1?at=${t1}`)
  await gone(t, h, `/entities/session/s1?at=${t3}`)
  await gone(t, h, `/entities/session/s1?at=${tS2}`) // between the last pruned and the oldest kept: s1's state then was index 2
  t.strictSame((await h.get(`/entities/session/s1?at=${t4}`)).body.data, { id: 's1', n: 3 }, 'the oldest kept state is there')
  await gone(t, h, `/entities/session/s1/changeset?from=${t2}&to=${t5}`)
  await gone(t, h, `/entities/session/s1/changeset?from=${t4}&to=${t2}`)
  await gone(t, h, `/entities/session/s1/changeset?from=${tS2}&to=${t5}`) // s1's state at tS2 was index 2
  t.strictSame((await h.get(`/entities/session/s1/changeset?from=${t4}&to=${t5}`)).body, { n: [3, 4] })
  await gone(t, h, '/entities/session/s1/revert', { to: t2, dryRun: true })
  await gone(t, h, '/entities/session/s1/revert', { to: t2 })
  await gone(t, h, '/entities/session/s1/revert', { to: tS2, dryRun: true })
  const revert = await h.post('/entities/session/s1/revert', { to: t4, dryRun: true })
  t.equal(revert.status, 200, 'a revert to a kept version works')
  t.strictSame((await h.get(`/entities/session/s2/versions/${tS2}`)).body.index, 0, 'another entity\'s version in between is untouched')

  await verifyOk(t, h, 'after pruning')
  t.equal((await h.get('/integrity/checkpoints')).body.items.length, checkpointsBefore + 1, 'the run made a checkpoint')

  const exported = await h.app.inject({ method: 'GET', url: '/export', headers: { authorization: `Bearer ${h.adminKey}` } })
  t.equal(exported.statusCode, 200)
  const lines = exported.body.trim().split('\n').map((l) => JSON.parse(l))
  const prunings = lines.filter((l) => l.kind === 'record' && l.record.kind === 'pruning')
  t.equal(prunings.length, 1, 'the pruning is recorded')
  const anchorLine = lines.find((l) => l.kind === 'anchor')
  t.strictSame(prunings[0]?.record.body, { type: 'session', id: 's1', keptFromIndex: 3, versions: 3, anchorHash: anchorLine?.hash, anchorTransactionId: t3 }, 'the record names the anchor the chain restarts from')
  t.strictSame(lines.filter((l) => l.kind === 'anchor').map((l) => [l.type, l.id, l.index, l.transactionId]), [['session', 's1', 3, t3]], 'the export carries where the chain restarts')

  t.strictSame((await h.post('/retention/run')).body, NONE, 'running again prunes nothing')
  t.equal((await h.get('/integrity/checkpoints')).body.items.length, checkpointsBefore + 1, 'and makes no checkpoint')
  const t6 = await tx(h, upd('session', 's1', { n: 5 }))
  t.strictSame((await h.post('/retention/run')).body, { versions: 1, entities: [{ type: 'session', id: 's1', versions: 1, keptFromIndex: 4 }], truncated: false })
  t.strictSame(await indexesOf(h, 'session', 's1'), [4, 5])
  t.equal((await h.get(`/entities/session/s1/versions/${t5}`)).body.pruned, true)
  await gone(t, h, `/entities/session/s1/versions/${t4}`)
  t.strictSame((await h.get('/entities/session/s1')).body.transactionId, t6)
  await verifyOk(t, h, 'after pruning twice')
})

eachDatabase('keepDays alone: versions recorded more than d days ago go (exactly d days ago stays); never the latest', async (t, h) => {
  t.equal((await h.put('/entity-types/aged', { retention: { keepDays: 30 } })).status, 201)
  const ctx = contextOf(h)
  const recordedAt = async (): Promise<number> => {
    const res = await h.post('/transactions', { changes: [(await h.get('/entities/aged/a')).status === 200 ? upd('aged', 'a', { n: Date.now() }) : ins('aged', { id: 'a', n: 0 })] })
    t.equal(res.status, 201)
    await sleep(5)
    return Date.parse(res.body.transaction.recordedAt)
  }
  const r0 = await recordedAt()
  const r1 = await recordedAt()
  await recordedAt()
  t.equal(r1 - r0 > 1, true, 'the versions were recorded at least 2 ms apart')

  t.strictSame(await runRetention(ctx, new Date(r0 + 29 * DAY)), NONE, 'nothing is 30 days old yet')
  t.strictSame((await h.post('/retention/run')).body, NONE, 'nor now')
  t.strictSame(await runRetention(ctx, new Date(r0 + 30 * DAY)), NONE, 'recorded exactly at the cutoff: kept')
  t.strictSame(await runRetention(ctx, new Date(r0 + 30 * DAY + 1)), { versions: 1, entities: [{ type: 'aged', id: 'a', versions: 1, keptFromIndex: 1 }], truncated: false },
    'recorded before the cutoff: pruned')
  t.strictSame(await indexesOf(h, 'aged', 'a'), [1, 2])
  t.strictSame(await runRetention(ctx, new Date(r0 + 3650 * DAY)), { versions: 1, entities: [{ type: 'aged', id: 'a', versions: 1, keptFromIndex: 2 }], truncated: false },
    'everything is old: all but the latest go')
  t.strictSame(await indexesOf(h, 'aged', 'a'), [2], 'the latest is never pruned')
  t.strictSame(await runRetention(ctx, new Date(r0 + 3650 * DAY)), NONE)
  await verifyOk(t, h, 'after pruning by age')
}, { signer })

eachDatabase('keepVersions with keepDays: a version goes only when beyond the newest n AND older than d days', async (t, h) => {
  t.equal((await h.put('/entity-types/one', { retention: { keepVersions: 1, keepDays: 30 } })).status, 201)
  t.equal((await h.put('/entity-types/three', { retention: { keepVersions: 3, keepDays: 30 } })).status, 201)
  const ctx = contextOf(h)
  const times: number[] = []
  for (let i = 0; i < 4; i++) {
    const changes = i === 0 ? [ins('one', { id: 'e', n: 0 }), ins('three', { id: 'e', n: 0 })] : [upd('one', 'e', { n: i }), upd('three', 'e', { n: i })]
    const res = await h.post('/transactions', { changes })
    t.equal(res.status, 201)
    times.push(Date.parse(res.body.transaction.recordedAt))
    await sleep(5)
  }
  // The cutoff falls after index 1 and before index 2: indexes 0 and 1 are old, 2 and 3 are not.
  const now = new Date(times[1]! + 30 * DAY + 1)
  t.equal(times[2]! > times[1]! + 1, true)
  t.strictSame(await runRetention(ctx, now), {
    versions: 3,
    entities: [{ type: 'one', id: 'e', versions: 2, keptFromIndex: 2 }, { type: 'three', id: 'e', versions: 1, keptFromIndex: 1 }],
    truncated: false
  }, 'one: the old ones beyond the newest 1 (not index 2, too young); three: the old one beyond the newest 3')
  t.strictSame(await indexesOf(h, 'one', 'e'), [2, 3])
  t.strictSame(await indexesOf(h, 'three', 'e'), [1, 2, 3])
  t.strictSame(await runRetention(ctx, new Date(times[3]! + 3650 * DAY)), {
    versions: 1, entities: [{ type: 'one', id: 'e', versions: 1, keptFromIndex: 3 }], truncated: false
  }, 'all old: the newest n stay')
  t.strictSame(await indexesOf(h, 'one', 'e'), [3])
  t.strictSame(await indexesOf(h, 'three', 'e'), [1, 2, 3])
  t.strictSame((await h.post('/retention/run')).body, NONE)
  await verifyOk(t, h, 'after pruning by age and count')
}, { signer })

eachDatabase('legal holds stop pruning of a type or of one entity until released', async (t, h) => {
  t.equal((await h.put('/entity-types/session', { retention: { keepVersions: 1 } })).status, 201)
  for (const id of ['h1', 'h2']) {
    await tx(h, ins('session', { id, n: 0 }))
    await tx(h, upd('session', id, { n: 1 }))
    await tx(h, upd('session', id, { n: 2 }))
  }

  const typeHold = await h.post('/legal-holds', { type: 'session', reason: 'litigation 2025-17' })
  t.equal(typeHold.status, 201, JSON.stringify(typeHold.body))
  t.match(typeHold.body.id, /^\S+$/)
  t.strictSame({ ...typeHold.body, id: 'ID', createdAt: 'T' }, { id: 'ID', type: 'session', entityId: null, reason: 'litigation 2025-17', createdAt: 'T' })
  t.equal(Number.isFinite(Date.parse(typeHold.body.createdAt)), true)
  t.strictSame((await h.post('/retention/run')).body, NONE, 'a held type is not pruned')
  t.strictSame(await indexesOf(h, 'session', 'h1'), [0, 1, 2])

  const entityHold = await h.post('/legal-holds', { type: 'session', id: 'h1' })
  t.equal(entityHold.status, 201)
  t.equal(entityHold.body.entityId, 'h1')
  t.equal(entityHold.body.reason, null)
  const listed = await h.get('/legal-holds')
  t.equal(listed.status, 200)
  t.strictSame(listed.body.items.map((x: any) => x.id).sort(), [typeHold.body.id, entityHold.body.id].sort())
  t.strictSame(listed.body.items.find((x: any) => x.id === entityHold.body.id), entityHold.body)

  const released = await h.request('DELETE', `/legal-holds/${typeHold.body.id as string}`)
  t.equal(released.status, 204)
  t.equal(released.body, undefined)
  t.strictSame((await h.post('/retention/run')).body, { versions: 2, entities: [{ type: 'session', id: 'h2', versions: 2, keptFromIndex: 2 }], truncated: false },
    'the entity hold stops only that entity')
  t.strictSame(await indexesOf(h, 'session', 'h1'), [0, 1, 2])
  t.strictSame(await indexesOf(h, 'session', 'h2'), [2])
  t.equal((await h.request('DELETE', `/legal-holds/${entityHold.body.id as string}`)).status, 204)
  t.strictSame((await h.get('/legal-holds')).body.items, [])
  t.strictSame((await h.post('/retention/run')).body, { versions: 2, entities: [{ type: 'session', id: 'h1', versions: 2, keptFromIndex: 2 }], truncated: false },
    'released: pruning resumes')

  assertProblem(t, await h.request('DELETE', `/legal-holds/${typeHold.body.id as string}`), 404, 'a released hold')
  assertProblem(t, await h.request('DELETE', '/legal-holds/hold_unknown'), 404, 'an unknown hold')
  assertProblem(t, await h.post('/legal-holds', { type: 'nope' }), 404, 'a hold on an unknown type')
  const writer = await h.newKey(['read', 'write', 'revert', 'types'])
  const as = { authorization: `Bearer ${writer.key}` }
  assertProblem(t, await h.request('POST', '/legal-holds', { type: 'session' }, as), 403, 'a non-admin hold')
  assertProblem(t, await h.request('GET', '/legal-holds', undefined, as), 403, 'a non-admin listing')
  const kept = await h.post('/legal-holds', { type: 'session' })
  assertProblem(t, await h.request('DELETE', `/legal-holds/${kept.body.id as string}`, undefined, as), 403, 'a non-admin release')
  t.strictSame((await h.get('/legal-holds')).body.items.map((x: any) => x.id), [kept.body.id], 'the refused requests changed nothing')
  await verifyOk(t, h, 'after pruning around holds')
})

eachDatabase('pruning while 16 writers write: verify passes, every chain is contiguous and ends with the last write', async (t, h) => {
  t.equal((await h.put('/entity-types/counter', { retention: { keepVersions: 3 } })).status, 201)
  const ENTITIES = 12
  const WRITERS = 16
  const WRITES = 12
  await tx(h, ...Array.from({ length: ENTITIES }, (_, i) => ins('counter', { id: `c${i}`, n: 0, by: 'init' })))
  // Every write's answer, per entity: the version it recorded.
  const written = new Map<string, Array<{ index: number, transactionId: number, data: unknown }>>()
  let writing = WRITERS
  const runs: unknown[] = []
  const failures: string[] = []
  await Promise.all([
    ...Array.from({ length: WRITERS }, async (_, w) => {
      try {
        for (let k = 0; k < WRITES; k++) {
          const id = `c${(w * 5 + k) % ENTITIES}`
          const res = await h.post('/transactions', { changes: [upd('counter', id, { n: w * 1000 + k, by: `w${w}` })] })
          if (res.status !== 201) { failures.push(`${res.status} ${JSON.stringify(res.body)}`); continue }
          const v = res.body.versions[0]
          const list = written.get(id) ?? []
          list.push({ index: v.index, transactionId: v.transactionId, data: v.data })
          written.set(id, list)
        }
      } finally {
        writing--
      }
    }),
    (async () => {
      do {
        const run = await h.post('/retention/run')
        if (run.status !== 200) failures.push(`run: ${run.status} ${JSON.stringify(run.body)}`)
        runs.push(run.body)
        await sleep(1)
      } while (writing > 0 || runs.length < 4)
    })()
  ])
  t.strictSame(failures, [], 'every write and every run succeeded')
  t.equal(runs.length >= 4, true, `${runs.length} runs`)
  t.equal(runs.some((r: any) => r.versions > 0), true, 'some run pruned while the writers wrote')

  await verifyOk(t, h, 'after concurrent pruning')
  for (let i = 0; i < ENTITIES; i++) {
    const id = `c${i}`
    const mine = (written.get(id) ?? []).sort((a, b) => a.index - b.index)
    t.strictSame(mine.map((v) => v.index), Array.from({ length: mine.length }, (_, j) => j + 1), `${id}: the writes got indexes 1..${mine.length}, each once`)
    const items = (await h.get(`/entities/counter/${id}/versions?limit=1000`)).body.items
    const first = items[0].index as number
    t.strictSame(items.map((v: any) => v.index), Array.from({ length: items.length }, (_, j) => first + j), `${id}: contiguous from its oldest kept`)
    const last = mine[mine.length - 1]!
    t.strictSame([items.at(-1).index, items.at(-1).transactionId, items.at(-1).data], [last.index, last.transactionId, last.data], `${id}: the latest is the last write`)
    t.strictSame((await h.get(`/entities/counter/${id}`)).body.data, last.data)
    t.equal(items.length >= 3, true, `${id}: at least the newest 3 kept`)
  }
  await h.post('/retention/run')
  for (let i = 0; i < ENTITIES; i++) {
    const last = (written.get(`c${i}`) ?? []).reduce((a, v) => Math.max(a, v.index), 0)
    t.strictSame(await indexesOf(h, 'counter', `c${i}`), [last - 2, last - 1, last], `c${i}: the newest 3 after a last run`)
  }
  await verifyOk(t, h, 'after the last run')
})
