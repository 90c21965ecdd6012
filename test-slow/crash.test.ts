import http from 'node:http'
import t, { type Test } from 'tap'
import pg from 'pg'
import { httpRequest, seededRandom, seedFromEnv, waitUntil, within, type HttpAnswer } from './helpers/http.js'
import { queryOnce, waitForLockWaiters } from './helpers/pg.js'
import { startService, type ServiceProcess } from './helpers/service-process.js'

/**
 * The real service as a child process on PostgreSQL (a database of its own on the shared
 * instance). Concurrent clients record transactions (each inserts 1–3 unique items and
 * updates its client's counter); the process is SIGKILLed mid-load and restarted. Every
 * acknowledged transaction must be there in full and no transaction may be half-written.
 * Then SIGTERM with requests in flight: they must complete with 2xx before the process exits.
 */

const SHARED_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const CLIENTS = Number(process.env.SLOW_CRASH_CLIENTS ?? 6)
const SEED = seedFromEnv('SLOW_SEED')

const adminQuery = queryOnce

interface Request {
  client: number
  n: number
  items: string[]
  /** Versions the transaction must have: one per inserted item plus the counter update. */
  expectedVersions: number
  outcome: 'pending' | 'acknowledged' | 'rejected' | 'lost'
  answer?: HttpAnswer
  error?: string
}

const reachable = await adminQuery(SHARED_URL, 'select 1').then(() => true, () => false)
const dbName = `crash_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
const dbUrl = (() => { const u = new URL(SHARED_URL); u.pathname = `/${dbName}`; return u.toString() })()
if (reachable) {
  await adminQuery(SHARED_URL, `create database "${dbName}"`)
  t.teardown(async () => { await adminQuery(SHARED_URL, `drop database if exists "${dbName}" with (force)`) })
}

t.test('SIGKILL under load, restart: acknowledged transactions complete, none half-written', async (t) => {
  if (!reachable) {
    if (process.env.REQUIRE_POSTGRES === '1') t.fail(`PostgreSQL at ${SHARED_URL} is required`)
    else t.plan(0, `PostgreSQL at ${SHARED_URL} is not reachable`)
    return
  }
  const started = Date.now()
  let svc: ServiceProcess = await startService({ databaseUrl: dbUrl })
  t.teardown(async () => { await svc.dispose() })
  t.comment(`service started in ${Date.now() - started} ms (seed ${SEED})`)
  const call = async (s: ServiceProcess, method: string, path: string, body?: unknown, agent?: http.Agent): Promise<HttpAnswer> =>
    await httpRequest(s.baseUrl, method, path, body, { timeoutMs: 20_000, ...(agent === undefined ? {} : { agent }) })

  t.equal((await call(svc, 'PUT', '/entity-types/item', {})).status, 201)
  t.equal((await call(svc, 'PUT', '/entity-types/counter', {})).status, 201)
  for (let c = 0; c < CLIENTS; c++) {
    const r = await call(svc, 'POST', '/transactions', { meta: { setup: c }, changes: [{ type: 'counter', op: 'insert', data: { id: c, n: 0 } }] })
    t.equal(r.status, 201, `counter ${c} created`)
  }

  const requests: Request[] = []
  const stopAt = Date.now() + 60_000 // a bound in case the kill does not happen
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS })
  t.teardown(() => { agent.destroy() })
  const runClient = async (client: number): Promise<void> => {
    const rnd = seededRandom(SEED + client)
    for (let n = 1; Date.now() < stopAt; n++) {
      const count = 1 + Math.floor(rnd() * 3)
      const items = Array.from({ length: count }, (_, j) => `${client}-${n}-${j}`)
      const req: Request = { client, n, items, expectedVersions: count + 1, outcome: 'pending' }
      requests.push(req)
      const body = {
        actor: `client-${client}`,
        meta: { client, n },
        changes: [
          ...items.map((id) => ({ type: 'item', op: 'insert', data: { id, client, n, payload: 'x'.repeat(Math.floor(rnd() * 2000)) } })),
          { type: 'counter', op: 'update', id: String(client), data: { n } }
        ]
      }
      try {
        req.answer = await call(svc, 'POST', '/transactions', body, agent)
        req.outcome = req.answer.status >= 200 && req.answer.status < 300 ? 'acknowledged' : 'rejected'
      } catch (error) {
        req.outcome = 'lost'
        req.error = String(error)
        return // the service is gone; this client stops
      }
    }
  }

  const loadStarted = Date.now()
  const clients = Array.from({ length: CLIENTS }, async (_, c) => { await runClient(c) })
  const rnd = seededRandom(SEED)
  const killAfter = 1500 + Math.floor(rnd() * 1500)
  await new Promise((resolve) => setTimeout(resolve, killAfter))
  // The clients keep sending until their request fails: whatever was in flight when the
  // process died (in the service, in the database, or in a socket) ends as "lost".
  const inFlightAtKill = requests.filter((r) => r.outcome === 'pending').length
  svc.child.kill('SIGKILL')
  const exit = await within(10_000, 'SIGKILL', svc.exited)
  t.equal(exit.signal, 'SIGKILL', 'the service was killed')
  await within(30_000, 'clients stop', Promise.all(clients))
  agent.destroy()

  const sent = requests.length
  const acknowledged = requests.filter((r) => r.outcome === 'acknowledged')
  const rejected = requests.filter((r) => r.outcome === 'rejected')
  const lost = requests.filter((r) => r.outcome === 'lost')
  t.strictSame(rejected.map((r) => [r.answer?.status, r.answer?.body]).slice(0, 3), [], 'no request was rejected before the kill')
  t.ok(acknowledged.length > 0, 'some transactions were acknowledged before the kill')
  t.equal(lost.length, CLIENTS, `each client's last request failed with the process (${inFlightAtKill} were pending at the kill)`)

  // Restart on the same database.
  await svc.dispose()
  svc = await startService({ databaseUrl: dbUrl })
  const restartMs = Date.now() - exit.at
  t.equal((await call(svc, 'GET', '/ready')).status, 200, 'the restarted service is ready')

  // 1. Every acknowledged transaction is there, with every version its request made.
  const ackProblems: unknown[] = []
  let cursor = 0
  const checkOne = async (): Promise<void> => {
    while (cursor < acknowledged.length) {
      const req = acknowledged[cursor++]!
      const txId = req.answer?.body?.transaction?.id as number
      const detail = await call(svc, 'GET', `/transactions/${txId}`)
      const got = ((detail.body?.versions ?? []) as any[]).map((v) => `${String(v.type)}:${String(v.id)}`).sort()
      const want = [...req.items.map((i) => `item:${i}`), `counter:${req.client}`].sort()
      if (detail.status !== 200 || JSON.stringify(got) !== JSON.stringify(want) ||
        detail.body?.meta?.client !== req.client || detail.body?.meta?.n !== req.n) {
        ackProblems.push({ txId, status: detail.status, got, want, meta: detail.body?.meta })
      }
      const item = await call(svc, 'GET', `/entities/item/${encodeURIComponent(req.items[0]!)}`)
      if (item.status !== 200 || item.body?.transactionId !== txId) ackProblems.push({ txId, item: req.items[0], status: item.status })
    }
  }
  await Promise.all(Array.from({ length: 6 }, checkOne))
  t.strictSame(ackProblems.slice(0, 5), [], `all ${acknowledged.length} acknowledged transactions are complete after the restart`)

  // 2. No transaction is half-written: each stored transaction has its request's number of versions.
  const { rows } = await adminQuery(dbUrl, `
    select t.id::text as id, t.meta, (select count(*)::int from versions v where v.transaction_id = t.id) as versions
    from transactions t order by t.id`)
  const byRequest = new Map(requests.map((r) => [`${r.client}/${r.n}`, r]))
  const halfWritten: unknown[] = []
  const unknown: unknown[] = []
  let foundAfterRestart = 0
  let committedUnacknowledged = 0
  for (const row of rows as Array<{ id: string, meta: any, versions: number }>) {
    if (row.meta?.setup !== undefined) {
      if (row.versions !== 1) halfWritten.push(row)
      continue
    }
    const req = byRequest.get(`${String(row.meta?.client)}/${String(row.meta?.n)}`)
    if (req === undefined) { unknown.push(row); continue }
    foundAfterRestart++
    if (req.outcome !== 'acknowledged') committedUnacknowledged++
    if (row.versions !== req.expectedVersions) halfWritten.push({ ...row, expected: req.expectedVersions })
  }
  t.strictSame(halfWritten.slice(0, 5), [], `no half-written transaction among ${rows.length}`)
  t.strictSame(unknown.slice(0, 5), [], 'every stored transaction comes from a request that was sent')
  const orphans = await adminQuery(dbUrl, 'select count(*)::int as n from versions v where not exists (select 1 from transactions t where t.id = v.transaction_id)')
  t.equal((orphans.rows[0] as { n: number }).n, 0, 'no version without its transaction')
  t.ok(foundAfterRestart >= acknowledged.length, 'found at least every acknowledged transaction')
  t.ok(committedUnacknowledged <= lost.length, 'only in-flight requests may be committed without an answer')

  // 3. Each client's counter went 0, 1, 2, … with nothing skipped and nothing after its last request.
  const counterProblems: unknown[] = []
  for (let c = 0; c < CLIENTS; c++) {
    const page = await call(svc, 'GET', `/entities/counter/${c}/versions?limit=1000`)
    const ns = ((page.body?.items ?? []) as any[]).map((v) => v.data?.n as number)
    const lastAcked = Math.max(0, ...acknowledged.filter((r) => r.client === c).map((r) => r.n))
    const lastSent = Math.max(0, ...requests.filter((r) => r.client === c).map((r) => r.n))
    const consecutive = ns.every((n, i) => n === i)
    const last = ns[ns.length - 1] ?? -1
    if (!consecutive || last < lastAcked || last > lastSent) counterProblems.push({ client: c, ns: ns.slice(-5), length: ns.length, lastAcked, lastSent })
  }
  t.strictSame(counterProblems, [], 'every counter holds exactly its committed updates, in order')

  // 4. The restarted service takes writes again.
  const afterRestart: Array<number | string> = []
  for (let c = 0; c < CLIENTS; c++) {
    const r = await call(svc, 'POST', '/transactions', { changes: [{ type: 'counter', op: 'update', id: String(c), data: { n: -1 } }] })
    afterRestart.push(r.status === 201 ? 201 : `${r.status} ${JSON.stringify(r.body)}`)
  }
  t.strictSame(afterRestart, Array.from({ length: CLIENTS }, () => 201), 'writes after the restart succeed')

  t.comment(`crash figures: sent ${sent}, acknowledged ${acknowledged.length}, lost in flight ${lost.length}, ` +
    `pending at the kill ${inFlightAtKill}, found after restart ${foundAfterRestart} (of which committed but unacknowledged ${committedUnacknowledged}), ` +
    `killed after ${killAfter} ms of load (${Date.now() - loadStarted} ms incl. checks), restart took ${restartMs} ms`)
  await svc.dispose()
  t.comment(`crash test took ${Date.now() - started} ms`)
})

/**
 * Five writes are in flight when the service gets SIGTERM: another session holds the
 * transactions table, so the writes that reach PostgreSQL wait there for its lock, and with
 * fewer GROUP_COMMITS than writes the others wait inside the service for a group commit.
 * The process must answer all five (201, stored) before it exits cleanly.
 */
async function drainsInFlight (t: Test, groupCommits: number): Promise<void> {
  if (!reachable) {
    t.plan(0, 'PostgreSQL is not reachable')
    return
  }
  const started = Date.now()
  const IN_FLIGHT = 5
  const inPostgres = Math.min(groupCommits, IN_FLIGHT)
  const drain = `drain${groupCommits}`
  const svc = await startService({ databaseUrl: dbUrl, env: { GROUP_COMMITS: String(groupCommits) } })
  t.teardown(async () => { await svc.dispose() })
  await httpRequest(svc.baseUrl, 'PUT', `/entity-types/${drain}`, {})

  const blocker = new pg.Client({ connectionString: dbUrl })
  blocker.on('error', () => {})
  await blocker.connect()
  t.teardown(async () => { await blocker.end().catch(() => {}) })
  await blocker.query('begin; lock table transactions in exclusive mode')
  const writes = Array.from({ length: IN_FLIGHT }, async (_, i) => await httpRequest(svc.baseUrl, 'POST', '/transactions', {
    meta: { [drain]: i }, changes: [{ type: drain, op: 'insert', data: { id: i } }]
  }, { timeoutMs: 30_000 }).then((a) => a, (error: unknown) => ({ error: String(error), at: Date.now() })))
  await waitForLockWaiters(dbUrl, inPostgres)
  await waitUntil(`${IN_FLIGHT - inPostgres} appends waiting for a group commit`, 15_000, async () =>
    /^rewind_append_waiting (\d+)$/m.exec(String((await httpRequest(svc.baseUrl, 'GET', '/metrics')).body))?.[1] === String(IN_FLIGHT - inPostgres))

  const signalledAt = Date.now()
  svc.child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.ok(svc.isRunning(), 'after SIGTERM the process waits for the in-flight requests')
  const late = await httpRequest(svc.baseUrl, 'GET', '/health', undefined, { timeoutMs: 3000 }).then((a) => a.status, (error: unknown) => String(error))
  t.ok(late !== 200, `a new request after SIGTERM is not served (got ${String(late)})`)

  await blocker.query('commit')
  const answers = await within(20_000, 'in-flight writes', Promise.all(writes))
  const exit = await within(15_000, 'exit after SIGTERM', svc.exited)
  const statuses = answers.map((a) => ('status' in a ? a.status : a.error))
  t.strictSame(statuses, Array.from({ length: IN_FLIGHT }, () => 201), 'every in-flight request completed with 201')
  t.ok(answers.every((a) => a.at <= exit.at), 'every answer arrived before the process exited')
  t.equal(exit.code, 0, `the process exited cleanly (code ${String(exit.code)}, signal ${String(exit.signal)})`, { output: svc.output().slice(-3000) })
  // The writes that waited in the service were written together: one PostgreSQL transaction for all of them.
  const { rows } = await adminQuery(dbUrl, `select count(*)::int as n, count(distinct xmin::text)::int as commits from transactions where meta ? '${drain}'`)
  t.strictSame(rows[0], { n: IN_FLIGHT, commits: inPostgres + (IN_FLIGHT > inPostgres ? 1 : 0) }, 'the drained transactions are stored, those that waited in the service in one commit')
  t.comment(`SIGTERM to exit: ${exit.at - signalledAt} ms; drain test took ${Date.now() - started} ms`)
}

// Each write its own statement (GROUP_COMMITS of five): all five are seen waiting in PostgreSQL.
t.test('SIGTERM drains in-flight requests before the process exits', async (t) => { await drainsInFlight(t, 5) })

// One write in PostgreSQL, four waiting in the service for the group commit after it.
t.test('SIGTERM drains appends waiting in the service for a group commit', async (t) => { await drainsInFlight(t, 1) })
