import http from 'node:http'
import { Webhook } from 'standardwebhooks'
import { eachDatabase } from './helpers/harness.js'
import { as } from './helpers/access.js'

// API.md, "Streams and export (v2)": POST/GET/DELETE /webhooks, deliveries signed per Standard
// Webhooks, retried with backoff without holding back later messages, private targets refused.

interface Received { id: string, body: any, headers: http.IncomingHttpHeaders, raw: string }

/** A receiver on 127.0.0.1 that answers each message id with `answer(attempt of that id)`. */
async function receiver (answer: (attempt: number, id: string) => number | 'hang'): Promise<{ url: string, received: Received[], close: () => Promise<void> }> {
  const received: Received[] = []
  const attempts = new Map<string, number>()
  const server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk: Buffer) => { raw += chunk.toString('utf8') })
    req.on('end', () => {
      const id = String(req.headers['webhook-id'])
      const n = (attempts.get(id) ?? 0) + 1
      attempts.set(id, n)
      received.push({ id, body: JSON.parse(raw), headers: req.headers, raw })
      const status = answer(n, id)
      if (status === 'hang') return
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return { url: `http://127.0.0.1:${port}/hook`, received, close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => { resolve() })) } }
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const options = { webhooks: true, webhookAllowedHosts: '127.0.0.1', webhookOptions: { pollMs: 50, retryDelaysMs: [300, 300], timeoutMs: 1000 } }

eachDatabase('webhooks: each transaction delivered, signed, retried after failures and timeouts', async (t, h) => {
  // Every message's first attempt fails (500), transaction 2's second hangs past the timeout; then 200.
  let second: string | undefined
  const rx = await receiver((n, id) => n === 1 ? 500 : id === second && n === 2 ? 'hang' : 200)
  t.teardown(rx.close)
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const created = await as(h.app, h.adminKey, 'POST', '/webhooks', { url: rx.url, description: 'test receiver' })
  t.equal(created.status, 201)
  t.match(created.body.secret, /^whsec_[A-Za-z0-9+/=]{32}$/)
  t.strictSame(Object.keys(created.body).sort(), ['createdAt', 'description', 'disabled', 'id', 'secret', 'types', 'url'])
  const listed = await as(h.app, h.adminKey, 'GET', '/webhooks')
  t.strictSame(listed.body.items.map((w: any) => [w.id, w.secret]), [[created.body.id, undefined]], 'the secret is shown only once')

  const ids: number[] = []
  for (let i = 1; i <= 3; i++) ids.push((await h.post('/transactions', { actor: 'ada', changes: [{ type: 'article', op: 'insert', data: { id: i } }] })).body.transaction.id)
  second = `msg_${created.body.id.slice(3)}_${String(ids[1]).padStart(16, '0')}`

  const delivered = (): number[] => [...new Set(rx.received.filter((r, i, all) => all.findIndex((x) => x.id === r.id) === i).map((r) => r.body.data.transaction.id as number))]
  await until('three delivered', async () => {
    const page = await as(h.app, h.adminKey, 'GET', `/webhooks/${created.body.id as string}/deliveries`)
    return page.body.items.length === 3 && page.body.items.every((d: any) => d.status === 'delivered')
  })
  t.strictSame(delivered().sort((a, b) => a - b), ids, 'every transaction reached the receiver')
  const verifier = new Webhook(created.body.secret)
  for (const r of rx.received) {
    t.strictSame(verifier.verify(r.raw, { 'webhook-id': r.id, 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) }), r.body, `${r.id}: a valid signature`)
  }
  const first = rx.received.find((r) => r.body.data.transaction.id === ids[0])!
  t.equal(first.body.type, 'transaction.recorded')
  const { versions, ...transaction } = (await h.get(`/transactions/${ids[0]!}`)).body
  t.strictSame(first.body.data.transaction, transaction, 'the transaction as GET /transactions/{id} shows it')
  t.strictSame(first.body.data.versions, versions, 'with its versions')
  const page = await as(h.app, h.adminKey, 'GET', `/webhooks/${created.body.id as string}/deliveries`)
  t.strictSame(page.body.items.map((d: any) => [d.transactionId, d.attempts.map((a: any) => a.status)]), [[ids[0], [500, 200]], [ids[1], [500, null, 200]], [ids[2], [500, 200]]])
  t.match(page.body.items[1].attempts[1].error, /no answer within 1000 ms/)
}, { ...options, webhookOptions: { ...options.webhookOptions, retryDelaysMs: [300, 300, 300] } })

eachDatabase('webhooks: an endpoint failing every attempt is disabled, and says why', async (t, h) => {
  const rx = await receiver(() => 503)
  t.teardown(rx.close)
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const created = await as(h.app, h.adminKey, 'POST', '/webhooks', { url: rx.url, types: ['article'] })
  t.equal((await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 1 } }] })).status, 201)
  await until('disabled', async () => (await as(h.app, h.adminKey, 'GET', `/webhooks/${created.body.id as string}`)).body.disabled !== null)
  const shown = await as(h.app, h.adminKey, 'GET', `/webhooks/${created.body.id as string}`)
  t.match(shown.body.disabled.reason, /failed 3 times \(last: 503\)/)
  t.equal(rx.received.length, 3, 'three attempts: the first and two retries')
  t.equal((await as(h.app, h.adminKey, 'DELETE', `/webhooks/${created.body.id as string}`)).status, 204)
  t.equal((await as(h.app, h.adminKey, 'GET', `/webhooks/${created.body.id as string}`)).status, 404)
}, options)

eachDatabase('webhooks: private, loopback and link-local targets are refused unless their host is allowed', async (t, h) => {
  for (const url of ['http://169.254.169.254/', 'http://10.0.0.1/', 'http://localhost/', 'http://[::1]/', 'http://192.168.1.1/x', 'ftp://example.com/', 'not a url']) {
    const res = await as(h.app, h.adminKey, 'POST', '/webhooks', { url })
    t.equal(res.status, 400, `${url}: 400`)
    t.match(res.body.detail, /^url: /, `${url}: the problem names url`)
  }
  t.strictSame((await as(h.app, h.adminKey, 'GET', '/webhooks')).body.items, [], 'nothing was registered')
  t.equal((await as(h.app, h.adminKey, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/allowed' })).status, 201, 'a listed host is allowed')
}, options)
