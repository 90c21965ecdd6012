import { createHash } from 'node:crypto'
import type { Test } from 'tap'
import { buildApp } from '../src/http/app.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, registerArticle, tx, upd } from './helpers/changes.js'
import { as, isForbidden, isUnauthorized, problemIs, type RawReply } from './helpers/access.js'
import { isTimestamp } from './helpers/entity-types.js'

// API.md, "Access: keys, tenants, scopes (v2)": creating, listing and revoking API keys;
// recordedBy; Idempotency-Key scoped to the API key that sent it.

const KEY_FIELDS = ['createdAt', 'id', 'key', 'name', 'scopes', 'tenant']
const LISTED_FIELDS = ['createdAt', 'id', 'name', 'revokedAt', 'scopes', 'tenant']

async function okJson (t: Test, res: RawReply, status: number, what: string): Promise<any> {
  t.equal(res.status, status, `${what}: ${res.status === status ? '' : res.text.slice(0, 300)}`)
  return res.body
}

async function createKey (t: Test, h: Harness, name: string, scopes: string[], by = h.adminKey): Promise<{ id: string, key: string, body: any, text: string }> {
  const res = await as(h.app, by, 'POST', '/api-keys', { name, scopes })
  const body = await okJson(t, res, 201, `POST /api-keys ${name} ${scopes.join('+')}`)
  return { id: body?.id, key: body?.key, body, text: res.text }
}

/** Polls `probe` until it answers `status` or `ms` pass; answers the milliseconds it took (or undefined). */
async function within (ms: number, probe: () => Promise<number>, status: number): Promise<number | undefined> {
  const start = Date.now()
  for (;;) {
    if (await probe() === status) return Date.now() - start
    if (Date.now() - start > ms) return undefined
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

eachDatabase('POST /api-keys answers the secret once; GET /api-keys never shows it', async (t, h) => {
  const created = await createKey(t, h, 'billing backend', ['read', 'write'])
  t.strictSame(Object.keys(created.body).sort(), KEY_FIELDS, 'the answer has exactly id, name, scopes, tenant, createdAt, key')
  t.equal(created.body.name, 'billing backend')
  t.strictSame([...created.body.scopes].sort(), ['read', 'write'])
  t.equal(created.body.tenant, 'default', 'the caller\'s tenant')
  t.equal(isTimestamp(created.body.createdAt), true, 'createdAt is a timestamp')
  t.equal(typeof created.key, 'string')
  t.equal(created.key.startsWith('rwd_'), true, `the secret starts with rwd_ (${String(created.key).slice(0, 4)})`)
  t.equal(created.key.length >= 36, true, `the secret is at least 36 characters (${String(created.key).length})`)
  t.equal(typeof created.id, 'string')
  t.equal(created.id.length > 0, true, 'the key has an id')
  t.equal(created.key.includes(created.id) || created.id.includes(created.key.slice(4)), false, 'the id does not reveal the secret')

  const second = await createKey(t, h, 'billing backend', ['read', 'write'])
  t.not(second.key, created.key, 'each key has its own secret')
  t.not(second.id, created.id, 'and its own id')

  const listed = await as(h.app, h.adminKey, 'GET', '/api-keys?limit=1000')
  const page = await okJson(t, listed, 200, 'GET /api-keys')
  const mine = page.items.filter((k: any) => k.id === created.id)
  t.equal(mine.length, 1, 'the new key is listed')
  t.strictSame(Object.keys(mine[0] ?? {}).sort(), LISTED_FIELDS, 'listed with id, name, scopes, tenant, createdAt, revokedAt: no secret')
  t.strictSame(mine[0], { ...Object.fromEntries(Object.entries(created.body).filter(([k]) => k !== 'key')), revokedAt: null }, 'listed as created, not revoked')
  const sha = createHash('sha256').update(created.key).digest('hex')
  for (const secret of [created.key, second.key, h.adminKey, sha, created.key.slice(4)]) {
    t.equal(listed.text.includes(secret), false, 'the list holds no secret (nor its hash)')
  }
  t.strictSame(page.items.filter((k: any) => 'key' in k || 'secretHash' in k || 'secret' in k), [], 'no item has a secret member')
  t.equal(page.nextCursor, null)

  // Paged by ?limit=, without a secret on any page.
  const first = await okJson(t, await as(h.app, h.adminKey, 'GET', '/api-keys?limit=1'), 200, 'first page of one key')
  t.equal(first.items.length, 1)
  t.equal(typeof first.nextCursor, 'string', 'a next page')
  const rest = await as(h.app, h.adminKey, 'GET', `/api-keys?limit=1000&cursor=${encodeURIComponent(first.nextCursor)}`)
  t.strictSame([first.items[0].id, ...(await okJson(t, rest, 200, 'the rest')).items.map((k: any) => k.id)], page.items.map((k: any) => k.id),
    'the pages list every key once')

  // Invalid requests.
  for (const [what, body] of [['no scopes', { name: 'x', scopes: [] }], ['an unknown scope', { name: 'x', scopes: ['superuser'] }],
    ['no name', { scopes: ['read'] }], ['an empty name', { name: '', scopes: ['read'] }], ['an unknown member', { name: 'x', scopes: ['read'], tenant: 'acme' }],
    ['a secret of the caller\'s choosing', { name: 'x', scopes: ['read'], key: 'rwd_' + 'a'.repeat(40) }]] as const) {
    problemIs(t, await as(h.app, h.adminKey, 'POST', '/api-keys', body), 400, `POST /api-keys with ${what}`)
  }
  t.equal((await okJson(t, await as(h.app, h.adminKey, 'GET', '/api-keys?limit=1000'), 200, 'list')).items.length, page.items.length,
    'the refused requests created no key')
})

eachDatabase('a created key works at once with its scopes only; only admin creates keys; admin can grant any scope', async (t, h) => {
  await registerArticle(t, h)
  const t1 = await tx(h, ins('article', { id: 1, name: 'a' }))
  const rw = await createKey(t, h, 'read-write', ['read', 'write'])

  t.equal((await as(h.app, rw.key, 'GET', '/entities/article/1')).status, 200, 'reads at once')
  t.equal((await as(h.app, rw.key, 'POST', '/transactions', { changes: [ins('article', { id: 2 })] })).status, 201, 'writes at once')
  isForbidden(t, await as(h.app, rw.key, 'POST', '/entities/article/1/revert', { to: t1, dryRun: true }), 'read+write key: revert')
  isForbidden(t, await as(h.app, rw.key, 'PUT', '/entity-types/article', { exclude: ['updated_at'] }), 'read+write key: types')
  isForbidden(t, await as(h.app, rw.key, 'GET', '/api-keys'), 'read+write key: list keys')

  const reader = await createKey(t, h, 'reader', ['read'])
  const before = (await as(h.app, h.adminKey, 'GET', '/api-keys?limit=1000')).text
  for (const scopes of [['read'], ['admin'], ['write']]) {
    isForbidden(t, await as(h.app, reader.key, 'POST', '/api-keys', { name: 'escalation', scopes }), `a read key creating a ${scopes.join('+')} key`)
  }
  isForbidden(t, await as(h.app, rw.key, 'POST', '/api-keys', { name: 'escalation', scopes: ['read'] }), 'a read+write key creating a read key')
  isForbidden(t, await as(h.app, reader.key, 'DELETE', `/api-keys/${rw.id}`), 'a read key revoking a key')
  t.equal((await as(h.app, h.adminKey, 'GET', '/api-keys?limit=1000')).text, before, 'the refused requests changed no key')
  t.equal((await as(h.app, rw.key, 'GET', '/entity-types')).status, 200, 'the key the read key tried to revoke still works')

  // admin holds every scope, metrics included: it can grant each.
  for (const scope of ['metrics', 'admin', 'read', 'write', 'revert', 'types']) {
    const made = await createKey(t, h, `granted ${scope}`, [scope])
    t.strictSame(made.body?.scopes, [scope], `admin grants ${scope}`)
  }
  const metrics = await createKey(t, h, 'scraper', ['metrics'])
  isForbidden(t, await as(h.app, metrics.key, 'GET', '/entity-types'), 'a metrics key reads no history')
  const admin2 = await createKey(t, h, 'second admin', ['admin'])
  const grandchild = await createKey(t, h, 'made by the second admin', ['read', 'revert'], admin2.key)
  t.equal(grandchild.body?.tenant, 'default', 'a created admin key creates keys of its tenant')
  t.equal((await as(h.app, grandchild.key, 'POST', '/entities/article/1/revert', { to: t1, dryRun: true })).status, 200, 'that key reverts')
})

eachDatabase('revocation: 401 at once on the same instance, within 1 s on another instance sharing the database', async (t, h) => {
  await registerArticle(t, h)
  const second = await buildApp({ db: h.db, closeDatabase: false })
  t.teardown(async () => { await second.close() })

  const victim = await createKey(t, h, 'victim', ['read', 'write'])
  const fresh = await createKey(t, h, 'fresh', ['read'])
  t.equal((await as(second, fresh.key, 'GET', '/entity-types')).status, 200, 'a key created on one instance works at once on the other')
  t.equal((await as(h.app, victim.key, 'GET', '/entity-types')).status, 200, 'works on the first instance')
  t.equal((await as(second, victim.key, 'GET', '/entity-types')).status, 200, 'works on the second instance (and is known to it now)')

  const revoked = await as(h.app, h.adminKey, 'DELETE', `/api-keys/${victim.id}`)
  const body = await okJson(t, revoked, 200, 'DELETE /api-keys/{id}')
  t.strictSame(Object.keys(body ?? {}).sort(), LISTED_FIELDS, 'the revoked key, without its secret')
  t.equal(body?.id, victim.id)
  t.equal(isTimestamp(body?.revokedAt), true, 'revokedAt is set')
  t.equal(revoked.text.includes(victim.key), false, 'no secret in the answer')

  isUnauthorized(t, await as(h.app, victim.key, 'GET', '/entity-types'), 'the revoked key on the same instance, at once')
  isUnauthorized(t, await as(h.app, victim.key, 'POST', '/transactions', { changes: [ins('article', { id: 5 })] }), 'the revoked key writing')
  const took = await within(1000, async () => (await as(second, victim.key, 'GET', '/entity-types')).status, 401)
  t.not(took, undefined, `the second instance refuses the revoked key within 1,000 ms (${String(took)} ms)`)
  isUnauthorized(t, await as(second, victim.key, 'GET', '/entities/article/5'), 'the revoked key on the second instance')
  t.equal((await as(h.app, h.adminKey, 'GET', '/entities/article/5')).status, 404, 'the revoked key wrote nothing')
  const listed = await okJson(t, await as(h.app, h.adminKey, 'GET', '/api-keys?limit=1000'), 200, 'list')
  t.strictSame(listed.items.filter((k: any) => k.id === victim.id).map((k: any) => k.revokedAt), [body?.revokedAt], 'listed as revoked')

  // The other way round, with a key that the first instance is using right up to the revocation.
  const other = await createKey(t, h, 'other victim', ['read'])
  t.equal((await as(h.app, other.key, 'GET', '/entity-types')).status, 200)
  t.equal((await as(second, other.key, 'GET', '/entity-types')).status, 200)
  t.equal((await as(second, h.adminKey, 'DELETE', `/api-keys/${other.id}`)).status, 200, 'revoked through the second instance')
  isUnauthorized(t, await as(second, other.key, 'GET', '/entity-types'), 'refused at once by the instance that revoked it')
  const took2 = await within(1000, async () => (await as(h.app, other.key, 'GET', '/entity-types')).status, 401)
  t.not(took2, undefined, `the first instance refuses it within 1,000 ms (${String(took2)} ms)`)

  // Unknown ids.
  problemIs(t, await as(h.app, h.adminKey, 'DELETE', '/api-keys/key_doesNotExist'), 404, 'revoking an unknown key')
  t.equal((await as(h.app, h.adminKey, 'GET', '/entity-types')).status, 200, 'the admin key still works')
})

eachDatabase('recordedBy is the key that wrote: transactions and both reverts; no body sets it; meta.source is reserved', async (t, h) => {
  await registerArticle(t, h)
  const writer = await createKey(t, h, 'writer app', ['write', 'read'])
  const reverter = await createKey(t, h, 'undo button', ['revert'])

  const recorded = await okJson(t, await as(h.app, writer.key, 'POST', '/transactions', { actor: 'user-42', changes: [ins('article', { id: 1, name: 'a' })] }), 201, 'writer records')
  t.strictSame(recorded.transaction.recordedBy, { keyId: writer.id, keyName: 'writer app' }, 'POST /transactions: recordedBy is the writer key')
  t.equal(recorded.transaction.actor, 'user-42', 'actor stays what the caller claims')
  const t1 = recorded.transaction.id
  const t2 = (await okJson(t, await as(h.app, writer.key, 'POST', '/transactions', { changes: [upd('article', '1', { name: 'b' })] }), 201, 'update')).transaction.id

  const entityRevert = await okJson(t, await as(h.app, reverter.key, 'POST', '/entities/article/1/revert', { to: t1, actor: 'user-42' }), 201, 'entity revert')
  t.strictSame(entityRevert.transaction.recordedBy, { keyId: reverter.id, keyName: 'undo button' }, 'entity revert: recordedBy is the key that asked for it')
  const txRevert = await okJson(t, await as(h.app, reverter.key, 'POST', `/transactions/${entityRevert.transaction.id as number}/revert`, {}), 201, 'transaction revert')
  t.strictSame(txRevert.transaction.recordedBy, { keyId: reverter.id, keyName: 'undo button' }, 'transaction revert: recordedBy is the key that asked for it')

  // As read back.
  for (const [id, key, name] of [[t1, writer.id, 'writer app'], [t2, writer.id, 'writer app'], [entityRevert.transaction.id, reverter.id, 'undo button'], [txRevert.transaction.id, reverter.id, 'undo button']]) {
    const read = await okJson(t, await as(h.app, writer.key, 'GET', `/transactions/${id as number}`), 200, `GET /transactions/${id as number}`)
    t.strictSame(read.recordedBy, { keyId: key, keyName: name }, `transaction ${id as number} read back`)
  }
  const listed = await okJson(t, await as(h.app, writer.key, 'GET', '/transactions'), 200, 'GET /transactions')
  t.strictSame(listed.items.map((x: any) => x.recordedBy?.keyId), [reverter.id, reverter.id, writer.id, writer.id], 'listed with recordedBy')

  // No body sets recordedBy, and meta.source is capture's.
  const before = await h.count('transactions')
  const forged = { keyId: 'key_forged', keyName: 'someone else' }
  problemIs(t, await as(h.app, writer.key, 'POST', '/transactions', { recordedBy: forged, changes: [ins('article', { id: 2 })] }), 400, 'POST /transactions with recordedBy')
  problemIs(t, await as(h.app, writer.key, 'POST', '/transactions', { meta: { source: { name: 'pg', xid: 1, lsn: '0/1' } }, changes: [ins('article', { id: 2 })] }), 400,
    'POST /transactions with meta.source')
  problemIs(t, await as(h.app, writer.key, 'POST', '/transactions', { meta: { source: 'web' }, changes: [ins('article', { id: 2 })] }), 400,
    'POST /transactions with meta.source as a string')
  problemIs(t, await as(h.app, writer.key, 'POST', '/transactions', { changes: [{ ...ins('article', { id: 2 }), recordedBy: forged }] }), 400, 'a change with recordedBy')
  problemIs(t, await as(h.app, reverter.key, 'POST', '/entities/article/1/revert', { to: t1, recordedBy: forged }), 400, 'entity revert with recordedBy')
  problemIs(t, await as(h.app, reverter.key, 'POST', '/entities/article/1/revert', { to: t2, meta: { source: 'x' } }), 400, 'entity revert with meta.source')
  problemIs(t, await as(h.app, reverter.key, 'POST', `/transactions/${t2}/revert`, { force: true, recordedBy: forged }), 400, 'transaction revert with recordedBy')
  problemIs(t, await as(h.app, reverter.key, 'POST', `/transactions/${t2}/revert`, { force: true, meta: { source: 'x' } }), 400, 'transaction revert with meta.source')
  t.equal(await h.count('transactions'), before, 'the refused requests recorded nothing')

  // recordedBy inside meta is only meta.
  const inMeta = await okJson(t, await as(h.app, writer.key, 'POST', '/transactions', { meta: { recordedBy: forged }, changes: [ins('article', { id: 3 })] }), 201, 'recordedBy inside meta')
  t.strictSame(inMeta.transaction.recordedBy, { keyId: writer.id, keyName: 'writer app' }, 'recordedBy is still the key')
  t.strictSame(inMeta.transaction.meta, { recordedBy: forged }, 'meta is the caller\'s')
})

eachDatabase('Idempotency-Key is scoped to the API key: two keys of one tenant get two transactions; each key replays its own', async (t, h) => {
  await registerArticle(t, h)
  const a = await createKey(t, h, 'service a', ['write'])
  const b = await createKey(t, h, 'service b', ['write'])
  const c = await createKey(t, h, 'service c', ['write'])
  const body = { actor: 'x', changes: [ins('article', { id: 20, name: 'n' })] }
  const idem = { 'idempotency-key': 'order-1234' }

  const first = await as(h.app, a.key, 'POST', '/transactions', body, idem)
  const firstBody = await okJson(t, first, 201, 'key a records')
  t.equal(first.headers['idempotent-replayed'], undefined, 'not a replay')
  t.strictSame(firstBody.transaction.recordedBy, { keyId: a.id, keyName: 'service a' })

  // The entity is deleted meanwhile, so that the same body can be recorded again.
  const deleted = await tx(h, { type: 'article', op: 'delete', id: '20' })

  const other = await as(h.app, b.key, 'POST', '/transactions', body, idem)
  const otherBody = await okJson(t, other, 201, 'key b, same Idempotency-Key and body, records a transaction of its own')
  t.equal(other.headers['idempotent-replayed'], undefined, 'key b\'s request is not a replay of key a\'s')
  t.equal(otherBody.transaction.id > deleted, true, 'a new transaction')
  t.strictSame(otherBody.transaction.recordedBy, { keyId: b.id, keyName: 'service b' }, 'recorded by key b')
  t.strictSame(otherBody.versions.map((v: any) => [v.operation, v.index]), [['insert', 2]], 'the entity is brought back (its third version)')

  const third = await as(h.app, c.key, 'POST', '/transactions', { changes: [ins('article', { id: 21 })] }, idem)
  t.equal(third.status, 201, 'key c, same Idempotency-Key with another body: recorded, not 422')

  const count = await h.count('transactions')
  const replayA = await as(h.app, a.key, 'POST', '/transactions', body, idem)
  t.equal(replayA.status, 201)
  t.equal(replayA.headers['idempotent-replayed'], 'true', 'key a\'s retry replays')
  t.equal(replayA.text, first.text, 'key a\'s first answer')
  const replayB = await as(h.app, b.key, 'POST', '/transactions', body, idem)
  t.equal(replayB.headers['idempotent-replayed'], 'true', 'key b\'s retry replays')
  t.equal(replayB.text, other.text, 'key b\'s own first answer')
  problemIs(t, await as(h.app, a.key, 'POST', '/transactions', { changes: [ins('article', { id: 22 })] }, idem), 422, 'key a, same Idempotency-Key, another body')
  t.equal(await h.count('transactions'), count, 'the replays and the 422 recorded nothing')
  const versions = await okJson(t, await as(h.app, h.adminKey, 'GET', '/entities/article/20/versions'), 200, 'article 20')
  t.strictSame(versions.items.map((v: any) => v.transactionId), [firstBody.transaction.id, deleted, otherBody.transaction.id], 'three versions, none from a replay')

  // Key c used the Idempotency-Key with another body: key a's answer is not handed to it.
  const cWithA = await as(h.app, c.key, 'POST', '/transactions', body, idem)
  problemIs(t, cWithA, 422, 'key c, its Idempotency-Key with key a\'s body')
  t.equal(cWithA.headers['idempotent-replayed'], undefined, 'not a replay of key a\'s answer')
})
