import http from 'node:http'
import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { httpRequest, waitUntil } from './helpers/http.js'
import { ownDatabase, queryOnce } from './helpers/pg.js'
import { startService, type ServiceProcess } from './helpers/service-process.js'

/**
 * Webhooks survive a crash: the real service delivers to a slow receiver on 127.0.0.1
 * and is SIGKILLed in the middle of its deliveries; a new process on the same database
 * delivers the rest. Every transaction reaches the receiver at least once, each with a
 * valid signature (a message delivered twice carries the same webhook-id).
 */

const SHARED_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const TRANSACTIONS = 60

const reachable = await queryOnce(SHARED_URL, 'select 1').then(() => true, () => false)
const dbUrl = reachable ? await ownDatabase(t, SHARED_URL, 'webhooks') : ''

t.test('kill -9 in the middle of webhook deliveries loses nothing', async (t) => {
  if (!reachable) {
    if (process.env.REQUIRE_POSTGRES === '1') t.fail(`PostgreSQL at ${SHARED_URL} is required`)
    else t.plan(0, `PostgreSQL at ${SHARED_URL} is not reachable`)
    return
  }
  const received: Array<{ id: string, raw: string, timestamp: string, signature: string }> = []
  const receiver = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk: Buffer) => { raw += chunk.toString('utf8') })
    req.on('end', () => {
      received.push({ id: String(req.headers['webhook-id']), raw, timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']) })
      // Slowly: the kill lands while deliveries are in flight.
      setTimeout(() => { res.writeHead(200).end() }, 150)
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { receiver.closeAllConnections(); receiver.close() })
  const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`

  const env = { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' }
  let svc: ServiceProcess = await startService({ databaseUrl: dbUrl, env })
  t.teardown(async () => { await svc.dispose() })
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => await httpRequest(svc.baseUrl, method, path, body, { timeoutMs: 20_000 })

  t.equal((await call('PUT', '/entity-types/item', {})).status, 201)
  const hook = await call('POST', '/webhooks', { url })
  t.equal(hook.status, 201)
  const ids: number[] = []
  for (let i = 0; i < TRANSACTIONS; i++) {
    const r = await call('POST', '/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: i } }] })
    t.equal(r.status, 201)
    ids.push(r.body.transaction.id)
  }
  await waitUntil('some deliveries', 30_000, async () => received.length >= 5)
  svc.child.kill('SIGKILL')
  await svc.exited
  const before = new Set(received.map((r) => r.id)).size
  t.ok(before < TRANSACTIONS, `killed with ${before} of ${TRANSACTIONS} delivered`)

  svc = await startService({ databaseUrl: dbUrl, env })
  const transactionIds = (): Set<number> => new Set(received.map((r) => JSON.parse(r.raw).data.transaction.id as number))
  await waitUntil('every transaction delivered', 90_000, async () => transactionIds().size === TRANSACTIONS)
  t.strictSame([...transactionIds()].sort((a, b) => a - b), ids, 'every transaction reached the receiver')
  const verifier = new Webhook(hook.body.secret)
  const invalid = received.filter((r) => { try { verifier.verify(r.raw, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature }); return false } catch { return true } })
  t.equal(invalid.length, 0, 'every delivery carries a valid signature')
  const byId = new Map<string, number>()
  for (const r of received) byId.set(r.id, JSON.parse(r.raw).data.transaction.id)
  t.equal(byId.size, TRANSACTIONS, 'one message id per transaction, repeated deliveries included')
})
