import http from 'node:http'
import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { httpRequest, seededRandom, seedFromEnv, waitUntil, type HttpAnswer } from './helpers/http.js'
import { ownDatabase, queryOnce } from './helpers/pg.js'
import { startService, type ServiceProcess } from './helpers/service-process.js'

/**
 * Several stateless instances on one database are a deployment: three real service
 * processes share a PostgreSQL database; 16 concurrent writers send to them round-robin.
 * Every version chain stays intact (verify), a type change and a key revocation made on one
 * instance reach the others within 1 s, and the background jobs run on one instance at a
 * time: each transaction is delivered to a webhook once, and no two checkpoints cover the
 * same history.
 */

const SHARED_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const INSTANCES = 3
const WRITERS = 16
const WRITES_PER_WRITER = 15
const ENTITIES = 20
const SEED = seedFromEnv('SLOW_SEED')

const reachable = await queryOnce(SHARED_URL, 'select 1').then(() => true, () => false)
const dbUrl = reachable ? await ownDatabase(t, SHARED_URL, 'instances') : ''

t.test('three instances on one database, 16 writers round-robin', async (t) => {
  if (!reachable) {
    if (process.env.REQUIRE_POSTGRES === '1') t.fail(`PostgreSQL at ${SHARED_URL} is required`)
    else t.plan(0, `PostgreSQL at ${SHARED_URL} is not reachable`)
    return
  }
  const deliveries: string[] = []
  const receiver = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => { deliveries.push(String(req.headers['webhook-id'])); res.writeHead(204).end() })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { receiver.closeAllConnections(); receiver.close() })

  // One signing key for all (SIGNING_KEY): checkpoints made by any instance verify with it.
  const signingKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const env = { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', SIGNING_KEY: signingKey, CHECKPOINT_INTERVAL_MS: '200', RETENTION_INTERVAL_MS: '0' }
  // The first creates the schema and the first key; the others start on it.
  const first = await startService({ databaseUrl: dbUrl, env })
  const services: ServiceProcess[] = [first, ...await Promise.all(Array.from({ length: INSTANCES - 1 }, async () => await startService({ databaseUrl: dbUrl, env })))]
  t.teardown(async () => { await Promise.all(services.map(async (s) => { await s.dispose() })) })
  const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS + 4 })
  t.teardown(() => { agent.destroy() })
  const on = async (i: number, method: string, path: string, body?: unknown, key?: string): Promise<HttpAnswer> =>
    await httpRequest(services[i % INSTANCES]!.baseUrl, method, path, body, { agent, timeoutMs: 30_000, ...(key !== undefined ? { headers: { authorization: `Bearer ${key}` } } : {}) })

  t.equal((await on(0, 'PUT', '/entity-types/item', {})).status, 201, 'type registered on instance 0')
  const hook = await on(1, 'POST', '/webhooks', { url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook` })
  t.equal(hook.status, 201, 'webhook registered on instance 1')
  for (let id = 1; id <= ENTITIES; id++) {
    t.equal((await on(id, 'POST', '/transactions', { changes: [{ type: 'item', op: 'insert', data: { id, n: 0 } }] })).status, 201)
  }

  // 16 writers, each request to the next instance: updates of shared entities, some several at once.
  let turn = 0
  const statuses: number[] = []
  await Promise.all(Array.from({ length: WRITERS }, async (_, writer) => {
    const rnd = seededRandom(SEED + writer * 7919)
    for (let n = 1; n <= WRITES_PER_WRITER; n++) {
      const ids = [...new Set([1 + Math.floor(rnd() * ENTITIES), 1 + Math.floor(rnd() * ENTITIES)])].slice(0, rnd() < 0.3 ? 2 : 1)
      const res = await on(turn++, 'POST', '/transactions', {
        actor: `writer-${writer}`, changes: ids.map((id) => ({ type: 'item', op: 'update', id: String(id), data: { n, [`w${writer}`]: n } }))
      })
      statuses.push(res.status)
    }
  }))
  t.strictSame([...new Set(statuses)], [201], `all ${WRITERS * WRITES_PER_WRITER} concurrent writes recorded`)

  // Every chain: versions numbered 0..n-1 with transactions in increasing order, and each
  // writer's last value on the entity is in its latest state.
  let total = 0
  for (let id = 1; id <= ENTITIES; id++) {
    const versions = (await on(id, 'GET', `/entities/item/${id}/versions?limit=1000`)).body.items as Array<{ index: number, transactionId: number, endTransactionId: number | null }>
    total += versions.length
    t.strictSame(versions.map((v) => v.index), versions.map((_, i) => i), `item ${id}: indexes 0..${versions.length - 1}`)
    t.strictSame(versions.map((v) => v.endTransactionId), [...versions.slice(1).map((v) => v.transactionId), null], `item ${id}: each version ends where the next begins`)
  }
  const { rows } = await queryOnce(dbUrl, 'select count(*)::int as n from versions')
  t.equal(total, (rows[0] as { n: number }).n, 'every stored version is in a chain')
  const verified = await on(2, 'POST', '/integrity/verify', {})
  t.equal(verified.status, 200)
  t.equal(verified.body.ok, true, `verify: every hash chain is intact (${JSON.stringify(verified.body.problems ?? []).slice(0, 300)})`)

  // Background jobs: one instance at a time.
  const transactions = (await queryOnce(dbUrl, 'select count(*)::int as n from transactions')).rows[0] as { n: number }
  await waitUntil('every transaction delivered to the webhook', 30_000, async () => new Set(deliveries).size >= transactions.n)
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(deliveries.length, transactions.n, 'each transaction delivered once, though three instances run delivery')
  const checkpoints = (await on(0, 'GET', '/integrity/checkpoints?limit=1000')).body.items as Array<{ upToTransactionId: number }>
  const heads = checkpoints.map((c) => c.upToTransactionId)
  t.ok(heads.length >= 1, `checkpoints were made (${heads.length})`)
  t.equal(new Set(heads).size, heads.length, 'no two checkpoints cover the same history')

  // A type change made on one instance reaches the others within 1 s.
  const changed = await on(0, 'PUT', '/entity-types/item', { exclude: ['secret'] })
  t.equal(changed.status, 200, 'type changed on instance 0')
  for (const i of [1, 2]) {
    const took = await waitUntil(`instance ${i} sees the new revision`, 5000, async () =>
      (await on(i, 'GET', '/entity-types/item')).body.revision === changed.body.revision, 50)
    t.ok(took <= 1000, `instance ${i} serves revision ${changed.body.revision} after ${took} ms (≤ 1 s)`)
    const written = await on(i, 'POST', '/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { n: 100 + i, secret: 's' } }] })
    t.equal(written.status, 201)
    t.equal('secret' in written.body.versions[0].data, false, `instance ${i} records without the excluded field`)
  }

  // A key revoked on one instance stops working on the others within 1 s.
  const made = await on(0, 'POST', '/api-keys', { name: 'short-lived', scopes: ['read'] })
  for (const i of [1, 2]) t.equal((await on(i, 'GET', '/entity-types', undefined, made.body.key)).status, 200, `the new key works on instance ${i}`)
  t.equal((await on(0, 'DELETE', `/api-keys/${made.body.id}`)).status, 200, 'revoked on instance 0')
  for (const i of [1, 2]) {
    const took = await waitUntil(`instance ${i} refuses the revoked key`, 5000, async () =>
      (await on(i, 'GET', '/entity-types', undefined, made.body.key)).status === 401, 50)
    t.ok(took <= 1000, `instance ${i} refuses it after ${took} ms (≤ 1 s)`)
  }
})
