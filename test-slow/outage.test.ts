import t, { type Test } from 'tap'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { createApiKey } from '../src/services/api-keys.js'
import { buildApp } from '../src/http/app.js'
import { openDatabase } from '../src/store/database.js'
import { migrateToLatest } from '../src/store/migrate.js'
import { httpRequest, waitUntil, within } from './helpers/http.js'
import { waitForLockWaiters } from './helpers/pg.js'
import { startService } from './helpers/service-process.js'
import { startThrowawayPostgres, type ThrowawayPostgres } from './helpers/throwaway-postgres.js'

/**
 * Database outage: the service runs in-process on a throwaway PostgreSQL that the test
 * stops and starts. While it is down, reads and writes answer 503 problem+json with
 * Retry-After, /ready is 503 and /health stays 200; once it is back, everything recovers
 * without restarting the service.
 */

interface Answer { status: number, headers: Record<string, unknown>, body: any, ms: number }

let adminKey = ''

async function call (app: FastifyInstance, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, extra: Record<string, string> = {}): Promise<Answer> {
  const started = Date.now()
  const headers = { authorization: `Bearer ${adminKey}`, ...extra }
  const res = await app.inject({
    method,
    url,
    ...(body === undefined ? { headers } : { headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) })
  })
  let parsed: unknown = res.body
  try { parsed = JSON.parse(res.body) } catch { /* not JSON */ }
  return { status: res.statusCode, headers: res.headers, body: parsed, ms: Date.now() - started }
}

function isUnavailableProblem (t: Test, answer: { status: number, headers: Record<string, unknown>, body: any, ms: number }, what: string): void {
  t.equal(answer.status, 503, `${what}: 503 (got ${answer.status} ${JSON.stringify(answer.body)})`)
  t.match(String(answer.headers['content-type']), /^application\/problem\+json/, `${what}: application/problem+json`)
  const retryAfter = answer.headers['retry-after']
  t.ok(retryAfter !== undefined && /^\d+$/.test(String(retryAfter)), `${what}: Retry-After header in seconds (got ${String(retryAfter)})`)
  t.equal(answer.body?.status, 503, `${what}: problem status 503`)
  for (const member of ['type', 'title', 'detail']) t.type(answer.body?.[member], 'string', `${what}: problem has ${member}`)
  t.ok(answer.ms < 15_000, `${what}: answered within 15 s (${answer.ms} ms)`)
}

t.test('database outage: 503 + Retry-After while down, recovery without restart', async (t) => {
  const started = Date.now()
  let server: ThrowawayPostgres
  try {
    server = await startThrowawayPostgres()
  } catch (error) {
    t.fail(`could not start a throwaway PostgreSQL: ${String(error)}`)
    return
  }
  t.teardown(async () => { await server.destroy() })

  // An error no request handler caught: in src/server.ts close-with-grace treats it as fatal
  // and shuts the whole service down, so there must be none.
  const uncaught: Error[] = []
  const onUncaught = (error: Error): void => { uncaught.push(error) }
  process.on('uncaughtException', onUncaught)
  t.teardown(() => { process.removeListener('uncaughtException', onUncaught) })

  const db = await openDatabase({ databaseUrl: server.url, poolSize: 5 })
  await migrateToLatest(db)
  adminKey = (await createApiKey(db, { tenant: 'default', name: 'outage admin', scopes: ['admin'] })).key
  const app = await buildApp({ db })
  t.teardown(async () => { await app.close() })

  // Normal operation first.
  t.equal((await call(app, 'PUT', '/entity-types/item', {})).status, 201, 'type registered')
  const first = await call(app, 'POST', '/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: 1, v: 1 } }] })
  t.equal(first.status, 201, 'insert before the outage')
  const firstTx: number = first.body.transaction.id
  t.equal((await call(app, 'GET', '/ready')).status, 200, '/ready while up')

  await t.test('database stopped (fast shutdown)', async (t) => {
    await server.stop('fast')
    const write = await within(20_000, 'write', call(app, 'POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v: 2 } }] }))
    isUnavailableProblem(t, write, 'POST /transactions')
    const read = await within(20_000, 'read', call(app, 'GET', '/entities/item/1'))
    isUnavailableProblem(t, read, 'GET /entities/item/1')
    isUnavailableProblem(t, await within(20_000, 'versions', call(app, 'GET', '/entities/item/1/versions')), 'GET /entities/item/1/versions')
    isUnavailableProblem(t, await within(20_000, 'list', call(app, 'GET', '/transactions')), 'GET /transactions')
    isUnavailableProblem(t, await within(20_000, 'tx', call(app, 'GET', `/transactions/${firstTx}`)), 'GET /transactions/{id}')
    isUnavailableProblem(t, await within(20_000, 'put type', call(app, 'PUT', '/entity-types/other', {})), 'PUT /entity-types/other')
    isUnavailableProblem(t, await within(20_000, 'revert', call(app, 'POST', '/entities/item/1/revert', { to: firstTx, dryRun: true })),
      'POST /entities/item/1/revert')
    isUnavailableProblem(t, await within(20_000, 'tx revert', call(app, 'POST', `/transactions/${firstTx}/revert`, { dryRun: true })),
      'POST /transactions/{id}/revert')
    const ready = await within(20_000, 'ready', call(app, 'GET', '/ready'))
    isUnavailableProblem(t, ready, 'GET /ready')
    const health = await within(5_000, 'health', call(app, 'GET', '/health'))
    t.equal(health.status, 200, '/health stays 200 while the database is down')
    // Validation still happens without a database: a malformed request is a 400, not a 503,
    // even once the key's cached lookup is older than its 500 ms freshness.
    await new Promise((resolve) => setTimeout(resolve, 700))
    const bad = await call(app, 'POST', '/transactions', { changes: 'nope' })
    t.equal(bad.status, 400, 'a malformed request is still 400 while the database is down')

    await server.start()
    const waited = await waitUntil('/ready recovers', 30_000, async () => (await call(app, 'GET', '/ready')).status === 200)
    t.equal((await call(app, 'GET', '/ready')).status, 200, `/ready answered 200 again ${waited} ms after PostgreSQL was back`)
    const update = await call(app, 'POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v: 2 } }] })
    t.equal(update.status, 201, `write after recovery (got ${update.status} ${JSON.stringify(update.body)})`)
    const now = await call(app, 'GET', '/entities/item/1')
    t.equal(now.status, 200, 'read after recovery')
    t.strictSame(now.body?.data, { id: 1, v: 2 }, 'the state holds the write from before and the one after the outage, not the rejected one')
    const versions = await call(app, 'GET', '/entities/item/1/versions')
    t.strictSame(versions.body?.items?.map((v: any) => v.operation), ['insert', 'update'], 'two versions: nothing recorded during the outage')
  })

  await t.test('database killed (immediate shutdown) and back', async (t) => {
    await server.stop('immediate')
    isUnavailableProblem(t, await within(20_000, 'write', call(app, 'POST', '/transactions', {
      changes: [{ type: 'item', op: 'update', id: '1', data: { v: 3 } }]
    })), 'POST /transactions after immediate shutdown')
    isUnavailableProblem(t, await within(20_000, 'read', call(app, 'GET', '/entities/item/1')), 'GET /entities/item/1 after immediate shutdown')
    isUnavailableProblem(t, await within(20_000, 'ready', call(app, 'GET', '/ready')), 'GET /ready after immediate shutdown')
    t.equal((await call(app, 'GET', '/health')).status, 200, '/health 200')
    await server.start() // crash recovery of the cluster
    await waitUntil('/ready recovers', 30_000, async () => (await call(app, 'GET', '/ready')).status === 200)
    const update = await call(app, 'POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v: 3 } }] })
    t.equal(update.status, 201, `write after recovery (got ${update.status} ${JSON.stringify(update.body)})`)
    t.strictSame((await call(app, 'GET', '/entities/item/1')).body?.data, { id: 1, v: 3 }, 'state after recovery')
  })

  // With an Idempotency-Key the write runs in a database transaction (its answer is stored
  // with it): shut down under it, it never commits. Without one, the write is one statement
  // that commits by itself: shut down as the blocker's session ends, it may complete first.
  // Either way the answer must tell what is stored.
  for (const [name, headers] of [['with an Idempotency-Key', { 'idempotency-key': 'outage-1' }], ['without an Idempotency-Key', {}]] as const) {
    await t.test(`a write blocked on a lock when PostgreSQL goes away, ${name}`, async (t) => {
      // Another session holds the transactions table, so the write waits on it.
      const blocker = new pg.Client({ connectionString: server.url })
      blocker.on('error', () => {}) // terminated by the shutdown below
      await blocker.connect()
      await blocker.query('begin; lock table transactions in exclusive mode')
      const before = await call(app, 'GET', '/entities/item/1')
      const v = Number(before.body?.data?.v) + 1
      const pending = call(app, 'POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v } }] }, headers)
      await waitForLockWaiters(server.url, 1)
      await server.stop('fast')
      const answer = await within(20_000, 'in-flight write', pending)
      const committed = answer.status === 201
      if (!committed || 'idempotency-key' in headers) isUnavailableProblem(t, answer, `POST /transactions in flight when the database shut down, ${name}`)
      else {
        t.strictSame(answer.body?.versions?.map((version: any) => version.data), [{ id: 1, v }],
          'the write\'s one statement completed as the blocker\'s session ended: 201 with its version')
      }
      await blocker.end().catch(() => {})
      await server.start()
      await waitUntil('/ready recovers', 30_000, async () => (await call(app, 'GET', '/ready')).status === 200)
      const after = await call(app, 'GET', '/entities/item/1')
      t.equal(after.status, 200)
      if (committed) {
        t.strictSame(after.body?.data, { id: 1, v }, 'the write answered 201 is stored')
        t.equal(after.body?.transactionId, answer.body?.transaction?.id, 'as the transaction it was answered with')
      } else {
        t.strictSame(after.body?.data, before.body?.data, 'the interrupted write left nothing behind')
        t.equal(after.body?.transactionId, before.body?.transactionId, 'no version from the interrupted write')
        const retry = await call(app, 'POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v } }] }, headers)
        t.equal(retry.status, 201, 'the client retries after Retry-After and succeeds')
      }
    })
  }

  t.strictSame(uncaught.map((e) => e.message), [],
    'no uncaught exception in the service while PostgreSQL went away (with close-with-grace it would stop the service)')

  await t.test('the real service process survives PostgreSQL going away under a request', async (t) => {
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    await admin.query('create database svc')
    await admin.end()
    const svcUrl = server.url.replace(/\/postgres$/, '/svc')
    const svc = await startService({ databaseUrl: svcUrl })
    t.teardown(async () => { await svc.dispose() })
    const req = async (method: string, path: string, body?: unknown): Promise<Awaited<ReturnType<typeof httpRequest>>> =>
      await httpRequest(svc.baseUrl, method, path, body, { timeoutMs: 20_000 })
    t.equal((await req('PUT', '/entity-types/item', {})).status, 201)
    t.equal((await req('POST', '/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: 1, v: 1 } }] })).status, 201)

    const blocker = new pg.Client({ connectionString: svcUrl })
    blocker.on('error', () => {})
    await blocker.connect()
    await blocker.query('begin; lock table transactions in exclusive mode')
    const pending = req('POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v: 2 } }] })
    pending.catch(() => {})
    await waitForLockWaiters(svcUrl, 1)
    await server.stop('fast')
    await blocker.end().catch(() => {})
    let inFlight: string
    try {
      const answer = await pending
      // One statement that commits by itself may complete as the blocker's session ends (see above).
      if (answer.status !== 201) isUnavailableProblem(t, answer, 'in-flight POST /transactions (real process)')
      inFlight = String(answer.status)
    } catch (error) {
      inFlight = String(error)
      t.fail(`the in-flight write got no answer: ${inFlight}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    t.ok(svc.isRunning(), `the service process is still running after PostgreSQL went away (in-flight write: ${inFlight})`, {
      exit: svc.isRunning() ? undefined : await svc.exited, output: svc.output().slice(-3000)
    })
    if (!svc.isRunning()) {
      await server.start()
      return
    }
    t.equal((await req('GET', '/health')).status, 200, '/health 200 while the database is down')
    isUnavailableProblem(t, await req('GET', '/ready'), 'GET /ready (real process)')
    await server.start()
    await waitUntil('/ready recovers', 30_000, async () => (await req('GET', '/ready')).status === 200)
    const after = await req('POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { v: 20 } }] })
    t.equal(after.status, 201, 'a write succeeds after PostgreSQL is back, same process')
  })

  t.comment(`outage test took ${Date.now() - started} ms`)
})
