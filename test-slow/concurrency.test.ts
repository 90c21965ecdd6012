import http from 'node:http'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import pg from 'pg'
import type { Harness } from '../test/helpers/harness.js'
import { canonicalJson } from '../test/helpers/json.js'
import { httpRequest, seededRandom, seedFromEnv, type HttpAnswer } from './helpers/http.js'

/**
 * Concurrent writers on PostgreSQL, over real HTTP: 16 clients write in parallel to 20
 * shared entities (updates of random fields, multi-entity transactions, optimistic
 * updates with expectedTransactionId, deletes and re-inserts, idempotent retries, entity
 * and transaction reverts, paginated reads). Afterwards every entity's version chain must
 * be intact, replaying its changesets must give its current state, every acknowledged
 * version must be stored exactly as answered, nothing may be stored that was not
 * acknowledged, transaction ids must follow commit order, every recorded revert must have
 * reached its target state, and there must be no 5xx (409 only for legitimate conflicts).
 *
 * SLOW_SEED replays a request mix; SLOW_CLIENTS / SLOW_OPS change the load.
 */

const CLIENTS = Number(process.env.SLOW_CLIENTS ?? 16)
const OPS_PER_CLIENT = Number(process.env.SLOW_OPS ?? 100)
const ENTITIES = 20
const FIELDS = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7']
const SEED = seedFromEnv('SLOW_SEED')

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Obj = Record<string, Json>

interface Sent {
  client: number
  kind: string
  method: string
  path: string
  body?: unknown
  /** Entity keys the request writes. */
  entities: string[]
  sentAt: number
  doneAt: number
  answer: HttpAnswer
  expected?: number
  /** For a retry of an idempotent request: the first attempt. */
  retryOf?: Sent
}

const SHARED_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function postgresReachable (): Promise<boolean> {
  const client = new pg.Client({ connectionString: SHARED_URL, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

async function admin (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SHARED_URL })
  await client.connect()
  try { await client.query(sql) } finally { await client.end() }
}

/*
 * openHarness makes one schema per test in TEST_DATABASE_URL. Kysely's migrator takes the
 * migration tables of *any* schema for its own (it looks them up without a schema), so a
 * harness schema of another test process running at the same time on the shared database
 * makes the migration fail ("relation kysely_migration_lock does not exist"). This file
 * therefore points the harness at a database of its own, created on the shared instance
 * and dropped at the end.
 */
const reachable = await postgresReachable()
let openHarness: typeof import('../test/helpers/harness.js')['openHarness'] | undefined
if (reachable) {
  const name = `slow_conc_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  await admin(`create database "${name}"`)
  t.teardown(async () => { await admin(`drop database if exists "${name}" with (force)`) })
  const url = new URL(SHARED_URL)
  url.pathname = `/${name}`
  process.env.TEST_DATABASE_URL = url.toString()
  openHarness = (await import('../test/helpers/harness.js')).openHarness
}

/** JSON equality where a missing field equals null (the changeset model). */
function normalized (value: Obj | null): string {
  if (value === null) return 'null'
  const keys = Object.keys(value).filter((k) => value[k] !== null).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`
}
const jsonEq = (a: unknown, b: unknown): boolean => normalized({ v: a as Json }) === normalized({ v: b as Json })

const LEGIT_CONFLICT: Record<string, RegExp> = {
  update: /does not exist|was expected at transaction/,
  delete: /does not exist|was expected at transaction/,
  insert: /already exists/,
  deleteInsert: /does not exist/,
  multi: /does not exist/,
  double: /does not exist/,
  optimistic: /does not exist|was expected at transaction/,
  idempotent: /does not exist/,
  // An entity revert locks the entity before it reads it, and so does a forced transaction
  // revert: neither has a legitimate conflict here. Without force, later changes are one.
  revert: /$^/,
  txrevertForce: /$^/,
  txrevert: /later transactions changed/
}

t.test('16 concurrent clients on 20 shared entities (PostgreSQL, real HTTP)', async (t) => {
  if (openHarness === undefined) {
    if (process.env.REQUIRE_POSTGRES === '1') t.fail(`PostgreSQL at ${SHARED_URL} is required`)
    else t.plan(0, `PostgreSQL at ${SHARED_URL} is not reachable`)
    return
  }
  const started = performance.now()
  const h: Harness = await openHarness(t, 'postgres')
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const address = h.app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const baseUrl = `http://127.0.0.1:${port}`
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 4 })
  t.teardown(() => { agent.destroy() })
  t.comment(`seed ${SEED} (SLOW_SEED=${SEED} replays the same request mix)`)

  t.equal((await h.put('/entity-types/item', {})).status, 201)
  const sent: Sent[] = []
  const send = async (client: number, kind: string, method: string, path: string, body: unknown, entities: string[], headers?: Record<string, string>): Promise<Sent> => {
    const sentAt = performance.now()
    const answer = await httpRequest(baseUrl, method, path, body, { agent, timeoutMs: 30_000, headers: { authorization: `Bearer ${h.adminKey}`, ...headers } })
    const record: Sent = { client, kind, method, path, body, entities, sentAt, doneAt: performance.now(), answer }
    sent.push(record)
    return record
  }
  for (let i = 1; i <= ENTITIES; i++) {
    const r = await send(-1, 'insert', 'POST', '/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: i, name: `e${i}` } }] }, [String(i)])
    t.equal(r.answer.status, 201, `setup insert ${i}`)
  }

  const randomValue = (rnd: () => number, client: number, n: number): Json => {
    const r = rnd()
    if (r < 0.35) return Math.floor(rnd() * 1000)
    if (r < 0.65) return `c${client}-${n}-${Math.floor(rnd() * 100)}`
    if (r < 0.72) return null
    if (r < 0.78) return rnd() < 0.5
    if (r < 0.89) return { nested: { n, list: [client, `x${Math.floor(rnd() * 5)}`] } }
    return [n, client, null]
  }
  const randomPatch = (rnd: () => number, client: number, n: number): Obj => {
    const patch: Obj = {}
    const count = 1 + Math.floor(rnd() * 3)
    for (let i = 0; i < count; i++) patch[FIELDS[Math.floor(rnd() * FIELDS.length)]!] = randomValue(rnd, client, n)
    patch[`by${client}`] = n // every update changes something of its own
    return patch
  }
  const pick = (rnd: () => number): number => 1 + Math.floor(rnd() * ENTITIES)

  const runClient = async (client: number): Promise<void> => {
    const rnd = seededRandom(SEED + client * 7919)
    for (let n = 1; n <= OPS_PER_CLIENT; n++) {
      const r = rnd()
      const id = pick(rnd)
      const key = String(id)
      if (r < 0.40) {
        await send(client, 'update', 'POST', '/transactions', {
          actor: `client-${client}`, changes: [{ type: 'item', op: 'update', id: key, data: randomPatch(rnd, client, n) }]
        }, [key])
      } else if (r < 0.52) {
        const ids = [...new Set([id, pick(rnd), pick(rnd)])].slice(0, 2 + Math.floor(rnd() * 2))
        await send(client, 'multi', 'POST', '/transactions', {
          actor: `client-${client}`,
          changes: ids.map((i) => ({ type: 'item', op: 'update', id: String(i), data: randomPatch(rnd, client, n) }))
        }, ids.map(String))
      } else if (r < 0.56) {
        await send(client, 'double', 'POST', '/transactions', {
          changes: [
            { type: 'item', op: 'update', id: key, data: randomPatch(rnd, client, n) },
            { type: 'item', op: 'update', id: key, data: randomPatch(rnd, client, n) }
          ]
        }, [key])
      } else if (r < 0.64) {
        const read = await send(client, 'read', 'GET', `/entities/item/${key}`, undefined, [])
        if (read.answer.status !== 200) continue
        const expected = read.answer.body.transactionId as number
        const s = await send(client, 'optimistic', 'POST', '/transactions', {
          changes: [{ type: 'item', op: 'update', id: key, expectedTransactionId: expected, data: randomPatch(rnd, client, n) }]
        }, [key])
        s.expected = expected
      } else if (r < 0.69) {
        await send(client, 'delete', 'POST', '/transactions', { changes: [{ type: 'item', op: 'delete', id: key }] }, [key])
      } else if (r < 0.82) {
        await send(client, 'insert', 'POST', '/transactions', {
          changes: [{ type: 'item', op: 'insert', data: { id, name: `e${id}`, ...randomPatch(rnd, client, n) } }]
        }, [key])
      } else if (r < 0.86) {
        await send(client, 'deleteInsert', 'POST', '/transactions', {
          changes: [
            { type: 'item', op: 'delete', id: key },
            { type: 'item', op: 'insert', data: { id, name: `e${id}-again`, ...randomPatch(rnd, client, n) } }
          ]
        }, [key])
      } else if (r < 0.89) {
        const body = { changes: [{ type: 'item', op: 'update', id: key, data: randomPatch(rnd, client, n) }] }
        const headers = { 'idempotency-key': `k-${SEED}-${client}-${n}` }
        const first = await send(client, 'idempotent', 'POST', '/transactions', body, [key], headers)
        // After a success the retry must replay it; after a rejection (nothing stored, no key
        // kept) the retry is a fresh attempt and is judged like any other write.
        const retry = await send(client, first.answer.status < 300 ? 'replay' : 'idempotent', 'POST', '/transactions', body,
          first.answer.status < 300 ? [] : [key], headers)
        retry.retryOf = first
      } else if (r < 0.93) {
        // Revert the entity to one of its recorded transactions (any client's).
        const known = sent.filter((x) => x.answer.status === 201 && x.entities.includes(key)).map((x) => x.answer.body.transaction.id as number)
        if (known.length === 0) continue
        const to = known[Math.floor(rnd() * known.length)]!
        await send(client, 'revert', 'POST', `/entities/item/${key}/revert`, { to, actor: `client-${client}` }, [key])
      } else if (r < 0.95) {
        const done = sent.filter((x) => x.answer.status === 201 && x.method === 'POST')
        if (done.length === 0) continue
        const target = done[Math.floor(rnd() * done.length)]!
        const force = rnd() < 0.5
        const s = await send(client, force ? 'txrevertForce' : 'txrevert', 'POST', `/transactions/${String(target.answer.body.transaction.id)}/revert`, { force },
          (target.answer.body.versions as any[]).map((v) => String(v.id)))
        s.expected = target.answer.body.transaction.id as number
      } else {
        const limit = 1 + Math.floor(rnd() * 20)
        const page = await send(client, 'read', 'GET', `/entities/item/${key}/versions?limit=${limit}&order=${rnd() < 0.5 ? 'asc' : 'desc'}`, undefined, [])
        if (page.answer.status === 200 && typeof page.answer.body?.nextCursor === 'string') {
          await send(client, 'read', 'GET', `/entities/item/${key}/versions?limit=${limit}&cursor=${encodeURIComponent(page.answer.body.nextCursor as string)}&order=${page.path.includes('desc') ? 'desc' : 'asc'}`, undefined, [])
        }
      }
    }
  }

  const loadStarted = performance.now()
  const results = await Promise.allSettled(Array.from({ length: CLIENTS }, async (_, c) => { await runClient(c) }))
  const loadMs = performance.now() - loadStarted
  for (const r of results) if (r.status === 'rejected') t.fail(`a client failed: ${String(r.reason)}`)

  // ---- every answer is one the contract allows ----
  const byStatus = new Map<number, number>()
  for (const s of sent) byStatus.set(s.answer.status, (byStatus.get(s.answer.status) ?? 0) + 1)
  const fiveHundreds = sent.filter((s) => s.answer.status >= 500)
  t.strictSame(fiveHundreds.map((s) => ({ kind: s.kind, body: s.body, status: s.answer.status, answer: s.answer.body })).slice(0, 5), [],
    `no 5xx among ${sent.length} requests`)
  const illegit: unknown[] = []
  const acked = new Map<string, { version: any, sent: Sent }>() // `${key}@${tx}` → version as answered
  const ackedTx = new Map<number, Sent>()
  let replays = 0
  for (const s of sent) {
    const { status, body } = s.answer
    if (s.method === 'GET') {
      if (status !== 200 && !(status === 404 && s.path.match(/^\/entities\/item\/\d+$/))) illegit.push({ path: s.path, status, body })
      continue
    }
    if (s.kind === 'replay') { replays++; continue }
    if (status === 409) {
      if (!(LEGIT_CONFLICT[s.kind] ?? /$^/).test(String(body?.detail))) illegit.push({ kind: s.kind, request: s.body, status, body })
      continue
    }
    if (status === 200) {
      if (body?.transaction !== null || body?.versions?.length !== 0) illegit.push({ kind: s.kind, status, body })
      continue
    }
    if (status !== 201) { illegit.push({ kind: s.kind, request: s.body, status, body }); continue }
    const txId = body?.transaction?.id
    if (!Number.isSafeInteger(txId) || txId < 1) { illegit.push({ kind: s.kind, status, body, why: 'transaction id' }); continue }
    if (ackedTx.has(txId)) illegit.push({ kind: s.kind, why: `transaction id ${String(txId)} answered twice` })
    ackedTx.set(txId, s)
    for (const v of body.versions as any[]) {
      if (v.transactionId !== txId || v.endTransactionId !== null) illegit.push({ kind: s.kind, why: 'version of another transaction', v })
      acked.set(`${String(v.id)}@${String(v.transactionId)}`, { version: v, sent: s })
    }
    if (s.kind === 'deleteInsert' && (body.versions.length !== 1 || body.versions[0].operation !== 'update')) {
      illegit.push({ kind: s.kind, why: 'delete then insert must be one update', body })
    }
    if (s.kind === 'double' && body.versions.length !== 1) illegit.push({ kind: s.kind, why: 'two updates must be one version', body })
  }
  t.strictSame(illegit.slice(0, 5), [], `every answer is a success or a legitimate conflict (${illegit.length} are not)`)

  // ---- idempotent retries answered the first answer again ----
  const replayProblems: unknown[] = []
  let checkedReplays = 0
  for (const replay of sent) {
    const s = replay.retryOf
    if (replay.kind !== 'replay' || s === undefined) continue
    checkedReplays++
    if (replay.answer.status !== s.answer.status || canonicalJson(replay.answer.body) !== canonicalJson(s.answer.body) ||
      replay.answer.headers['idempotent-replayed'] !== 'true' || s.answer.headers['idempotent-replayed'] !== undefined) {
      replayProblems.push({ first: [s.answer.status, s.answer.body], replay: [replay.answer.status, replay.answer.body, replay.answer.headers['idempotent-replayed']] })
    }
  }
  t.strictSame(replayProblems.slice(0, 3), [], `idempotent retries replay the first answer with Idempotent-Replayed: true (${checkedReplays} replays)`)

  // ---- every entity's chain, replayed ----
  const chainProblems: unknown[] = []
  let storedVersions = 0
  const storedByRef = new Map<string, any>()
  for (let id = 1; id <= ENTITIES; id++) {
    const versions: any[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: HttpAnswer = await httpRequest(baseUrl, 'GET',
        `/entities/item/${id}/versions?limit=37${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, undefined, { agent, headers: { authorization: `Bearer ${h.adminKey}` } })
      if (page.status !== 200) { chainProblems.push({ id, page: page.status, body: page.body }); break }
      versions.push(...page.body.items)
      cursor = page.body.nextCursor
      if (++pages > 1000) throw new Error('pagination does not end')
    } while (cursor !== null)
    storedVersions += versions.length
    const problem = (why: string, extra: Record<string, unknown> = {}): void => { chainProblems.push({ entity: id, why, ...extra }) }
    let state: Obj | null = null
    let latestCount = 0
    versions.forEach((v, i) => {
      storedByRef.set(`${String(id)}@${String(v.transactionId)}`, v)
      const next = versions[i + 1]
      if (v.index !== i) problem('index is not its position', { index: v.index, position: i })
      if (next !== undefined && !(next.transactionId > v.transactionId)) problem('transaction ids do not increase', { at: i })
      if (v.endTransactionId !== (next === undefined ? null : next.transactionId)) {
        problem('endTransactionId is not the next version\'s transactionId', { at: i, end: v.endTransactionId, next: next?.transactionId })
      }
      if (v.endTransactionId === null) latestCount++
      const changeset = v.changeset as Record<string, [Json, Json]>
      if (v.operation === 'insert') {
        if (state !== null) problem('insert of a live entity', { at: i })
        const fresh: Obj = {}
        for (const [field, [old, now]] of Object.entries(changeset)) {
          if (old !== null) problem('insert changeset old value is not null', { at: i, field })
          fresh[field] = now
        }
        state = fresh
      } else if (v.operation === 'update') {
        if (state === null) { problem('update of a deleted entity', { at: i }); state = {} }
        const current: Obj = state
        if (Object.keys(changeset).length === 0) problem('update version without a change', { at: i })
        for (const [field, [old, now]] of Object.entries(changeset)) {
          if (!jsonEq(old, current[field] ?? null)) problem('update changeset old value is not the previous value (lost update)', { at: i, field, old, previous: current[field] ?? null })
          current[field] = now
        }
      } else if (v.operation === 'delete') {
        if (state === null) { problem('delete of a deleted entity', { at: i }); state = {} }
        const current: Obj = state
        for (const [field, value] of Object.entries(current)) {
          if (value !== null && !jsonEq(changeset[field], [value, null])) problem('delete changeset misses a field', { at: i, field })
        }
      } else problem('unknown operation', { at: i, op: v.operation })
      if (state !== null && normalized(state) !== normalized(v.data as Obj)) {
        problem('replayed changesets differ from the version data', { at: i, replayed: state, data: v.data })
      }
      if (v.operation === 'delete') state = null
    })
    if (latestCount !== 1) problem('not exactly one latest version', { latestCount })
    const now = await httpRequest(baseUrl, 'GET', `/entities/item/${id}`, undefined, { agent, headers: { authorization: `Bearer ${h.adminKey}` } })
    const last = versions[versions.length - 1]
    if (state === null) {
      if (now.status !== 404) problem('deleted entity is not 404', { status: now.status })
    } else if (now.status !== 200 || normalized(now.body.data as Obj) !== normalized(state) || now.body.transactionId !== last?.transactionId) {
      problem('current state is not the replay of its changesets (lost update)', { status: now.status, current: now.body, replayed: state })
    }
  }
  t.strictSame(chainProblems.slice(0, 5), [], `version chains of ${ENTITIES} entities intact and replayable (${chainProblems.length} problems)`)

  // ---- acknowledged == stored ----
  const missing: unknown[] = []
  for (const [ref, { version, sent: s }] of acked) {
    const stored = storedByRef.get(ref)
    if (stored === undefined) { missing.push({ ref, why: 'acknowledged version not stored', kind: s.kind }); continue }
    if (stored.operation !== version.operation || stored.index !== version.index ||
      canonicalJson(stored.changeset) !== canonicalJson(version.changeset) || normalized(stored.data) !== normalized(version.data)) {
      missing.push({ ref, why: 'stored version differs from the answer', stored, answered: version })
    }
    if (s.kind === 'optimistic' && s.expected !== undefined) {
      const chain = [...storedByRef.entries()].filter(([k]) => k.startsWith(`${String(version.id)}@`)).map(([, v]) => v)
      const previous = chain.find((v) => v.endTransactionId === version.transactionId)
      if (previous?.transactionId !== s.expected) missing.push({ ref, why: 'expectedTransactionId was not the latest version', expected: s.expected, previous: previous?.transactionId })
    }
  }
  t.strictSame(missing.slice(0, 5), [], `every acknowledged version is stored as answered (${acked.size} versions)`)
  t.equal(storedVersions, acked.size, 'no version is stored that was not acknowledged')
  t.equal(await h.count('transactions'), ackedTx.size, 'no transaction is stored that was not acknowledged')
  t.equal(await h.count('versions'), acked.size, 'versions table holds exactly the acknowledged versions')

  // ---- transaction ids follow real time: a write answered before another was sent has the smaller id ----
  const orderProblems: unknown[] = []
  const perEntity = new Map<string, Array<{ tx: number, sentAt: number, doneAt: number }>>()
  for (const [txId, s] of ackedTx) {
    for (const key of s.entities) {
      const list = perEntity.get(key) ?? []
      list.push({ tx: txId, sentAt: s.sentAt, doneAt: s.doneAt })
      perEntity.set(key, list)
    }
  }
  for (const [key, list] of perEntity) {
    for (const a of list) {
      for (const b of list) {
        if (a.doneAt < b.sentAt && !(a.tx < b.tx)) orderProblems.push({ key, earlier: a.tx, later: b.tx })
      }
    }
  }
  t.strictSame(orderProblems.slice(0, 5), [], 'per entity, transaction ids increase in commit (real-time) order')

  // ---- every multi-entity transaction lists all of its versions ----
  const txProblems: unknown[] = []
  for (const [txId, s] of ackedTx) {
    if (s.kind !== 'multi') continue
    const detail = await httpRequest(baseUrl, 'GET', `/transactions/${txId}`, undefined, { agent, headers: { authorization: `Bearer ${h.adminKey}` } })
    const ids = (detail.body?.versions as any[] | undefined)?.map((v) => String(v.id)).sort()
    const answered = (s.answer.body.versions as any[]).map((v) => String(v.id)).sort()
    if (detail.status !== 200 || JSON.stringify(ids) !== JSON.stringify(answered)) txProblems.push({ txId, status: detail.status, ids, answered })
  }
  t.strictSame(txProblems.slice(0, 5), [], 'GET /transactions/{id} lists every version of each multi-entity transaction')

  // ---- a recorded revert leaves the entity as it was at its target ----
  const auth = { authorization: `Bearer ${h.adminKey}` }
  const stateAt = async (key: string, at: number): Promise<string> => {
    const a = await httpRequest(baseUrl, 'GET', `/entities/item/${key}?at=${at}`, undefined, { agent, headers: auth })
    return a.status === 404 ? 'absent' : a.status === 200 ? normalized(a.body.data as Obj) : `status ${a.status}`
  }
  /** The state just before transaction `id`: from the entity's versions (ids have gaps, so `?at=id - 1` may name no transaction: 404). */
  const stateBefore = async (key: string, id: number): Promise<string> => {
    const a = await httpRequest(baseUrl, 'GET', `/entities/item/${key}/versions?order=desc&limit=1000`, undefined, { agent, headers: auth })
    if (a.status !== 200) return `status ${a.status}`
    const previous = (a.body.items as Array<{ transactionId: number, operation: string, data: Obj }>).find((v) => v.transactionId < id)
    return previous === undefined || previous.operation === 'delete' ? 'absent' : normalized(previous.data)
  }
  const revertProblems: unknown[] = []
  let checkedReverts = 0
  for (const [revTx, s] of ackedTx) {
    if (s.kind === 'revert') {
      const key = s.entities[0]!
      const to = (s.body as { to: number }).to
      const [then, after] = [await stateAt(key, to), await stateAt(key, revTx)]
      checkedReverts++
      if (then !== after) revertProblems.push({ kind: s.kind, key, to, revTx, then, after })
    } else if (s.kind === 'txrevert' || s.kind === 'txrevertForce') {
      const reverted = s.expected!
      for (const key of s.entities) {
        const [before, after] = [await stateBefore(key, reverted), await stateAt(key, revTx)]
        checkedReverts++
        if (before !== after) revertProblems.push({ kind: s.kind, key, reverted, revTx, before, after })
      }
    }
  }
  t.strictSame(revertProblems.slice(0, 5), [], `every recorded revert brought its entities back to their target state (${checkedReverts} checked)`)

  const kinds = new Map<string, string>()
  for (const s of sent) {
    const k = `${s.kind}:${s.answer.status}`
    kinds.set(k, String(Number(kinds.get(k) ?? 0) + 1))
  }
  t.comment(`requests ${sent.length} (load ${Math.round(loadMs)} ms, ${Math.round(sent.length / (loadMs / 1000))} req/s), ` +
    `statuses ${JSON.stringify(Object.fromEntries(byStatus))}, transactions ${ackedTx.size}, versions ${acked.size}, replays ${replays}`)
  t.comment(`by kind:status ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`)
  t.comment(`concurrency test took ${Math.round(performance.now() - started)} ms`)
})

t.test('one Idempotency-Key sent by 8 clients at once records one transaction', async (t) => {
  if (openHarness === undefined) {
    t.plan(0, 'PostgreSQL is not reachable')
    return
  }
  const h = await openHarness(t, 'postgres')
  t.equal((await h.put('/entity-types/item', {})).status, 201)
  t.equal((await h.post('/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: 1, n: 0 } }] })).status, 201)
  const problems: unknown[] = []
  for (let round = 1; round <= 10; round++) {
    const body = { changes: [{ type: 'item', op: 'update', id: '1', data: { n: round } }] }
    const headers = { 'idempotency-key': `same-${round}` }
    const answers = await Promise.all(Array.from({ length: 8 }, async () => await h.post('/transactions', body, headers)))
    const firsts = answers.filter((a) => a.status === 201 && a.headers['idempotent-replayed'] === undefined)
    const replays = answers.filter((a) => a.status === 201 && a.headers['idempotent-replayed'] === 'true')
    const busy = answers.filter((a) => a.status === 409 && /still being processed/.test(String(a.body?.detail)))
    if (firsts.length !== 1 || firsts.length + replays.length + busy.length !== 8) {
      problems.push({ round, statuses: answers.map((a) => [a.status, a.headers['idempotent-replayed'], a.body?.detail]) })
    }
    for (const r of replays) if (canonicalJson(r.body) !== canonicalJson(firsts[0]?.body)) problems.push({ round, why: 'replay differs' })
  }
  t.strictSame(problems, [], 'per key: exactly one first answer, the others replay it or are told to retry (409), never 5xx')
  t.equal(await h.count('transactions'), 11, 'one transaction per key (plus the insert)')
  const versions = await h.get('/entities/item/1/versions?limit=100')
  t.equal(versions.body.items.length, 11, 'one version per key')
})

t.test('an entity revert with relations, racing writers of the related entity', async (t) => {
  if (openHarness === undefined) {
    t.plan(0, 'PostgreSQL is not reachable')
    return
  }
  const h = await openHarness(t, 'postgres')
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  t.equal((await h.put('/entity-types/article', { relations: { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } } })).status, 201)
  const ROUNDS = Number(process.env.SLOW_REVERT_ROUNDS ?? 200)
  const RACERS = 6
  const mismatches: unknown[] = []
  const failures: unknown[] = []
  let checked = 0
  const started = Date.now()
  for (let round = 1; round <= ROUNDS; round++) {
    const created = await h.post('/transactions', { changes: [
      { type: 'user', op: 'insert', data: { id: round, name: 'then', x: 0 } },
      { type: 'article', op: 'insert', data: { id: round, author_id: round } }
    ] })
    const to = created.body.transaction.id as number
    await h.post('/transactions', { changes: [{ type: 'user', op: 'update', id: String(round), data: { name: 'later' } }] })
    // Writers change another field of the author while the article is reverted with its author.
    const [revert, ...writes] = await Promise.all([
      h.post(`/entities/article/${round}/revert`, { to, relations: ['author'] }),
      ...Array.from({ length: RACERS }, async (_, i) => await h.post('/transactions', { changes: [{ type: 'user', op: 'update', id: String(round), data: { x: i + 1 } }] }))
    ])
    for (const a of [revert!, ...writes]) if (a.status !== 201) failures.push({ round, status: a.status, body: a.body })
    if (revert?.status !== 201) continue
    const revTx = revert.body.transaction.id as number
    const then = await h.get(`/entities/user/${round}?at=${to}`)
    const after = await h.get(`/entities/user/${round}?at=${revTx}`)
    checked++
    const canonical = (d: Record<string, unknown>): string => JSON.stringify(Object.keys(d).sort().map((k) => [k, d[k]]))
    if (canonical(then.body.data) !== canonical(after.body.data)) {
      mismatches.push({ round, to, revTx, then: then.body.data, afterRevert: after.body.data, revertChanges: revert.body.changes })
    }
  }
  t.strictSame(failures.slice(0, 3), [], 'the revert and the racing writes all succeed')
  t.strictSame(mismatches.slice(0, 3), [],
    `after the revert, the related author is as it was at "to" (${mismatches.length} of ${checked} reverts left it otherwise)`)
  t.comment(`${ROUNDS} rounds in ${Date.now() - started} ms`)
})
