import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { as, isForbidden, isUnauthorized, problemIs, type RawReply } from './helpers/access.js'
import type { AccessScope } from '../src/access/index.js'

// API.md, "Access: keys, tenants, scopes (v2)": every operation of openapi/openapi.json asked
// without a key, with an invalid one, and with a key of each scope. The scope each operation
// needs is derived here from the contract's rules (method and path), not from the routes'
// own `access`, so that a route declaring the wrong scope fails this test.

const document = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']

interface Operation { method: string, path: string }

/** Every (method, path) of an OpenAPI document. */
const operationsOf = (doc: any): Operation[] => Object.entries<any>(doc.paths).flatMap(([path, item]) =>
  Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => ({ method: m.toUpperCase(), path })))

const OPERATIONS = operationsOf(document)

/** Open without a key: the probes and the documentation (and, later, the integrity public key). */
const isPublic = (path: string): boolean =>
  path === '/health' || path === '/ready' || path === '/docs' || path.startsWith('/docs/') || path === '/integrity/public-key' || path === '/ui'

const SCOPES: AccessScope[] = ['read', 'write', 'revert', 'types', 'admin', 'metrics']

/**
 * The scope the contract names for an operation. Scopes: read (every GET of history), write
 * (POST /transactions), revert (both reverts), types (PUT /entity-types/*, schema migrations),
 * admin (keys, integrity, redaction, retention, capture, webhooks, metrics, viewer tokens),
 * metrics (GET /metrics). An operation the rules do not classify throws: classify it here.
 */
function requiredScope ({ method, path }: Operation): AccessScope {
  const p = path.replace(/\{[^}]*\}/g, '{}')
  if (p === '/api-keys' || p.startsWith('/api-keys/')) return 'admin'
  if (p === '/viewer-tokens' || p.startsWith('/viewer-tokens/')) return 'admin'
  if (p.startsWith('/webhooks') || p.startsWith('/capture/') || p.startsWith('/legal-holds') || p.startsWith('/retention/')) return 'admin'
  if (method === 'POST' && (p.startsWith('/integrity/') || p.endsWith('/redact'))) return 'admin'
  if (method === 'GET' && p === '/metrics') return 'metrics'
  // Silent in the contract; readers keep checkpoints (that is how a rollback is caught) and see what was erased.
  if (method === 'GET' && (p === '/integrity/checkpoints' || p === '/redactions')) return 'read'
  if (method === 'POST' && p === '/transactions') return 'write'
  if (method === 'POST' && (p === '/transactions/{}/revert' || p === '/entities/{}/{}/revert')) return 'revert'
  if (method === 'PUT' && p.startsWith('/entity-types/')) return 'types'
  if (method === 'POST' && p === '/entity-types/{}/migrations') return 'types'
  if (method === 'GET' && (p.startsWith('/entities/') || p === '/transactions' || p.startsWith('/transactions/') ||
    p === '/entity-types' || p.startsWith('/entity-types/') || p === '/stream' || p === '/export')) return 'read'
  throw new Error(`no contract rule classifies ${method} ${path}: add one to requiredScope`)
}

/** True when a key holding exactly `held` may perform what needs `needed` (admin holds everything). */
const allowed = (held: AccessScope, needed: AccessScope): boolean => held === needed || held === 'admin'

/** The fixture's article: a to-many relation to page through. */
const ARTICLE = { relations: { comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' } } }

interface Fixture { t1: number, t2: number, nextId: number }

/** A request that reaches the route and what it answers there (`ok` undefined: anything but 401/403). */
interface Call { url: string, body?: unknown, ok?: number }

/** The request exercising an operation on the fixture: path parameters filled with values that exist. */
async function callFor (h: Harness, fx: Fixture, { method, path }: Operation): Promise<Call> {
  let url = path
  if (path.startsWith('/entities/')) {
    url = url.replace('{type}', 'article').replace('{id}', '1').replace('{transactionId}', String(fx.t1)).replace('{name}', 'comments')
  }
  else if (path.startsWith('/transactions/')) url = url.replace('{id}', String(fx.t2))
  else if (path.startsWith('/entity-types/')) url = url.replace('{type}', 'article')
  else if (path.startsWith('/api-keys/')) url = url.replace('{id}', (await h.newKey(['read'], 'default', 'victim')).id)
  else if (path.startsWith('/legal-holds/')) url = url.replace('{id}', (await as(h.app, h.adminKey, 'POST', '/legal-holds', { type: 'article' })).body.id)
  else if (path.startsWith('/capture/sources/')) url = url.replace('{name}', 'nosuch')
  else if (path.startsWith('/webhooks/')) url = url.replace('{id}', 'wh_nosuch')
  if (/\{[^}]*\}/.test(url)) throw new Error(`no value for the parameters of ${method} ${path}`)
  const key = `${method} ${path}`
  switch (key) {
    case 'GET /entities/{type}/{id}/changeset': return { url: `${url}?from=${fx.t1}&to=${fx.t2}`, ok: 200 }
    case 'PUT /entity-types/{type}': return { url, body: ARTICLE, ok: 200 }
    case 'POST /transactions': return { url, body: { changes: [ins('article', { id: fx.nextId++ })] }, ok: 201 }
    case 'POST /transactions/{id}/revert': return { url, body: { dryRun: true }, ok: 200 }
    case 'POST /entities/{type}/{id}/revert': return { url, body: { to: fx.t1, dryRun: true }, ok: 200 }
    case 'POST /api-keys': return { url, body: { name: 'made by the matrix', scopes: ['read'] }, ok: 201 }
    case 'DELETE /api-keys/{id}': return { url, ok: 200 }
    case 'DELETE /legal-holds/{id}': return { url, ok: 204 }
    // A source that does not exist: past the key check, and nothing to connect to.
    case 'GET /capture/sources/{name}': return { url, ok: 404 }
    case 'GET /webhooks/{id}': return { url, ok: 404 }
    case 'GET /webhooks/{id}/deliveries': return { url, ok: 404 }
    case 'DELETE /webhooks/{id}': return { url, ok: 404 }
    case 'DELETE /capture/sources/{name}': return { url, ok: 404 }
    // The stream never ends: a cursor it refuses answers at once, once the key was checked.
    case 'GET /stream': return { url: `${url}?after=not-a-cursor`, ok: 400 }
  }
  if (method === 'GET') return { url, ok: 200 }
  return { url, body: {} }
}

/** What a rejected request must leave as it was (five reads, side by side: nothing else runs meanwhile). */
async function snapshot (h: Harness): Promise<string> {
  const [keys, type, transactions, versions, types] = await Promise.all([
    as(h.app, h.adminKey, 'GET', '/api-keys?limit=1000'),
    as(h.app, h.adminKey, 'GET', '/entity-types/article'),
    h.count('transactions'),
    h.count('versions'),
    h.count('entity_types')
  ])
  return JSON.stringify({
    transactions,
    versions,
    types,
    keys: keys.body?.items?.map((k: any) => [k.id, k.revokedAt]),
    article: [type.body?.revision, type.body?.definition]
  })
}

async function fixture (t: Test, h: Harness): Promise<{ fx: Fixture, keys: Record<AccessScope, string> }> {
  t.equal((await h.put('/entity-types/article', ARTICLE)).status, 201, 'article registered')
  t.equal((await h.put('/entity-types/comment', {})).status, 201, 'comment registered')
  const t1 = await tx(h, ins('article', { id: 1, name: 'a' }), ins('comment', { id: 1, article_id: 1 }))
  const t2 = await tx(h, upd('article', '1', { name: 'b' }))
  const keys = {} as Record<AccessScope, string>
  for (const scope of SCOPES) keys[scope] = (await h.newKey([scope], 'default', `only ${scope}`)).key
  return { fx: { t1, t2, nextId: 100 }, keys }
}

eachDatabase('the document lists the operations this test covers, and the running service serves the same ones', async (t, h) => {
  const live = await as(h.app, null, 'GET', '/docs/json')
  t.equal(live.status, 200, '/docs/json answers without a key')
  const names = (ops: Operation[]): string[] => ops.map((o) => `${o.method} ${o.path}`).sort()
  t.strictSame(names(operationsOf(live.body)), names(OPERATIONS), 'the served document has the operations of openapi/openapi.json')
  for (const op of operationsOf(live.body)) {
    const described = live.body.paths[op.path][op.method.toLowerCase()]
    if (isPublic(op.path)) {
      t.strictSame(described.security, [], `${op.method} ${op.path}: documented as needing no key`)
    } else {
      t.not(JSON.stringify(described.security), '[]', `${op.method} ${op.path}: not documented as public`)
      t.strictSame(['401', '403'].filter((s) => described.responses?.[s] === undefined), [], `${op.method} ${op.path}: documents 401 and 403`)
    }
  }
  for (const op of (await allOperations(h)).filter((o) => !isPublic(o.path))) {
    let scope: string
    try { scope = requiredScope(op) } catch (error) { scope = String(error) }
    t.equal(SCOPES.includes(scope as AccessScope), true, `${op.method} ${op.path}: the contract names its scope (${scope})`)
  }
})

eachDatabase('public routes answer without a key', async (t, h) => {
  for (const op of OPERATIONS.filter((o) => isPublic(o.path))) {
    t.equal(op.method, 'GET', `${op.path} is a GET`)
    const res = await as(h.app, null, op.method, op.path)
    t.equal(res.status, 200, `${op.method} ${op.path} without a key`)
  }
  for (const url of ['/health', '/ready', '/docs', '/docs/json']) {
    t.equal((await as(h.app, null, 'GET', url)).status, 200, `GET ${url} without a key`)
  }
})

/** The operations of openapi/openapi.json and those of the running service's document (should the file lag behind). */
async function allOperations (h: Harness): Promise<Operation[]> {
  const served = operationsOf((await as(h.app, null, 'GET', '/docs/json')).body)
  const known = new Set(OPERATIONS.map((o) => `${o.method} ${o.path}`))
  return [...OPERATIONS, ...served.filter((o) => !known.has(`${o.method} ${o.path}`))]
}

eachDatabase('every protected operation: 401 without a valid key, 403 without its scope, served with it', async (t, h) => {
  const { fx, keys } = await fixture(t, h)
  const operations = (await allOperations(h)).filter((o) => !isPublic(o.path))
  t.equal(operations.length >= 17, true, `the document lists the protected operations (${operations.length})`)

  for (const op of operations) {
    const needed = requiredScope(op)
    await t.test(`${op.method} ${op.path} (needs ${needed})`, async (t) => {
      const unauth: Array<[string, Record<string, string>]> = [
        ['no Authorization header', {}],
        ['an invalid key', { authorization: 'Bearer rwd_nopeNopeNopeNopeNopeNopeNopeNopeNopeNope' }],
        ['an empty Bearer', { authorization: 'Bearer ' }],
        ['another scheme (Basic)', { authorization: `Basic ${Buffer.from(`x:${h.adminKey}`).toString('base64')}` }]
      ]
      for (const [what, headers] of unauth) {
        const call = await callFor(h, fx, op)
        const before = await snapshot(h)
        const res = await as(h.app, null, op.method, call.url, call.body, headers)
        isUnauthorized(t, res, `${what}`)
        t.equal(await snapshot(h), before, `${what}: nothing changed`)
      }

      // Authentication comes first: no key is 401 whatever else is wrong with the request.
      const call = await callFor(h, fx, op)
      if (op.method === 'GET') {
        const sep = call.url.includes('?') ? '&' : '?'
        isUnauthorized(t, await as(h.app, null, 'GET', `${call.url}${sep}unknownParameter=1`), 'no key and an unknown query parameter')
        const head = await as(h.app, null, 'HEAD', call.url)
        t.equal(head.status, 401, 'HEAD without a key: 401')
        t.equal(/^Bearer(\s|$)/.test(String(head.headers['www-authenticate'] ?? '')), true, 'HEAD without a key: WWW-Authenticate: Bearer')
      } else {
        const before = await snapshot(h)
        isUnauthorized(t, await as(h.app, null, op.method, call.url, '{"not json', { 'content-type': 'application/json' }), 'no key and a malformed body')
        isUnauthorized(t, await as(h.app, null, op.method, call.url, 'plain text', { 'content-type': 'text/plain' }), 'no key and a body that is not JSON')
        t.equal(await snapshot(h), before, 'no key and a bad body: nothing changed')
      }

      for (const scope of SCOPES) {
        const call = await callFor(h, fx, op)
        const before = await snapshot(h)
        const res: RawReply = await as(h.app, keys[scope], op.method, call.url, call.body)
        if (allowed(scope, needed)) {
          t.not(res.status, 401, `a ${scope} key is authenticated`)
          t.not(res.status, 403, `a ${scope} key is allowed`)
          if (call.ok !== undefined) t.equal(res.status, call.ok, `a ${scope} key is served: ${res.status === call.ok ? '' : res.text.slice(0, 300)}`)
        } else {
          isForbidden(t, res, `a ${scope} key`)
          t.equal(await snapshot(h), before, `a ${scope} key: nothing changed`)
        }
      }
    })
  }
})

eachDatabase('a real revert needs the revert scope; a revoked admin key is 401 everywhere', async (t, h) => {
  const { fx } = await fixture(t, h)
  // A revert for real (not a dry run): revert scope yes, write scope no.
  const writer = await h.newKey(['write', 'read'])
  const reverter = await h.newKey(['revert'])
  const before = await h.count('transactions')
  isForbidden(t, await as(h.app, writer.key, 'POST', '/entities/article/1/revert', { to: fx.t1 }), 'write+read key reverting an entity')
  isForbidden(t, await as(h.app, writer.key, 'POST', `/transactions/${fx.t2}/revert`, {}), 'write+read key reverting a transaction')
  t.equal(await h.count('transactions'), before, 'the refused reverts recorded nothing')
  const reverted = await as(h.app, reverter.key, 'POST', '/entities/article/1/revert', { to: fx.t1 })
  t.equal(reverted.status, 201, 'a revert key reverts')
  // The revert key reads nothing and writes nothing.
  isForbidden(t, await as(h.app, reverter.key, 'GET', '/entities/article/1'), 'revert key reading')
  isForbidden(t, await as(h.app, reverter.key, 'POST', '/transactions', { changes: [ins('article', { id: 9 })] }), 'revert key writing')

  // A revoked admin key: 401, not 403 and not served.
  const admin2 = await h.newKey(['admin'], 'default', 'second admin')
  t.equal((await as(h.app, admin2.key, 'GET', '/entity-types')).status, 200, 'the second admin key works')
  t.equal((await as(h.app, h.adminKey, 'DELETE', `/api-keys/${admin2.id}`)).status, 200, 'revoked')
  for (const [method, url, body] of [['GET', '/entity-types'], ['POST', '/transactions', { changes: [ins('article', { id: 10 })] }], ['GET', '/api-keys']] as const) {
    isUnauthorized(t, await as(h.app, admin2.key, method, url, body), `revoked admin key: ${method} ${url}`)
  }
  t.equal((await as(h.app, h.adminKey, 'GET', '/entities/article/10')).status, 404, 'the revoked key recorded nothing')
})

eachDatabase('setting `exclude` on a type stops recording fields: it needs admin, not types', async (t, h) => {
  const types = await h.newKey(['types'])
  const put = async (key: string, type: string, body: object): Promise<RawReply> => await as(h.app, key, 'PUT', `/entity-types/${type}`, body)

  t.equal((await put(types.key, 'article', {})).status, 201, 'a types key registers a type')
  t.equal((await put(types.key, 'article', { relations: { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } } })).status, 200,
    'a types key changes its relations')
  const before = await as(h.app, h.adminKey, 'GET', '/entity-types/article')

  const changed = await put(types.key, 'article', { exclude: ['email'], relations: { author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } } })
  t.equal(changed.status, 403, `a types key setting exclude on an existing type: 403 (${changed.status} ${changed.text.slice(0, 200)})`)
  if (changed.status === 403) isForbidden(t, changed, 'a types key setting exclude on an existing type')
  t.equal((await as(h.app, h.adminKey, 'GET', '/entity-types/article')).text, before.text, 'the type did not change')

  const created = await put(types.key, 'person', { exclude: ['password'] })
  t.equal(created.status, 403, `a types key registering a type with exclude: 403 (${created.status} ${created.text.slice(0, 200)})`)
  if (created.status === 403) isForbidden(t, created, 'a types key registering a type with exclude')
  t.equal((await as(h.app, h.adminKey, 'GET', '/entity-types/person')).status, 404, 'the type was not registered')

  t.equal((await put(h.adminKey, 'member', { exclude: ['password'] })).status, 201, 'an admin key registers a type with exclude')
  t.equal((await put(h.adminKey, 'member', { exclude: ['password', 'email'] })).status, 200, 'an admin key changes exclude of an existing type')
})
