import type { Test } from 'tap'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ARTICLE, link, registerBlog } from './helpers/blog.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { as, problemIs, type RawReply } from './helpers/access.js'

// API.md, "Access: keys, tenants, scopes (v2)": a key's tenant is all it sees. Another
// tenant's type, entity, version or transaction answers exactly as one that does not exist
// (404, same body) and never appears in a list, a count, a cursor's continuation, a
// relation, a conflict or a replay.
//
// "Exactly as one that does not exist" is checked literally: tenant `acme` asks a set of
// requests (naming types, entity keys and transaction ids that tenant `default` is about to
// use) BEFORE `default` records anything, when none of it exists anywhere; `default` then
// records entities, relations, reverts and an idempotent write; `acme` asks the very same
// requests again and must get the very same status and the very same bytes.

/** acme's article: the blog's relations plus one of its own, so that its definition differs from default's. */
const ACME_ARTICLE = { relations: { ...ARTICLE.relations, editor: { kind: 'manyToOne', target: 'user', foreignKey: 'editor_id' } } }

const ACME_TYPES = ['article', 'article_tag', 'comment', 'tag', 'user']

/** Transaction ids probed: every id either tenant uses must be in 1..PROBED_IDS. */
const PROBED_IDS = 20

const RELATIONS = 'author,comments,tags,editor'

interface Probe { method: string, url: string, body?: unknown }

/** What acme asks, twice: reads of everything by name, key and id, dry runs, and reverts that cannot succeed. */
function probes (acmeIds: number[], a1: number): Probe[] {
  const list: Probe[] = []
  const get = (url: string): void => { list.push({ method: 'GET', url }) }
  for (const type of ['article', 'user', 'comment', 'tag', 'article_tag', 'category', 'ghost']) {
    get(`/entity-types/${type}`)
    get(`/entity-types/${type}/revisions`)
  }
  get('/entity-types')
  get('/entities/article/1?tenant=default')
  get('/transactions?tenant=default')
  get('/entity-types?limit=1')
  get('/api-keys')
  for (const query of ['', '?limit=1', '?type=article', '?type=comment', '?type=user', '?type=article_tag', '?type=category', '?actor=alice', '?actor=acme-actor',
    '?since=2000-01-01T00:00:00Z', '?until=2999-01-01T00:00:00Z', '?type=article&actor=alice']) get(`/transactions${query}`)
  const entities: Array<[string, string]> = [['article', '1'], ['article', '2'], ['article', '3'], ['article', '7'], ['user', '1'], ['comment', '1'],
    ['comment', '3'], ['tag', '1'], ['article_tag', '1,1'], ['article_tag', '2,1'], ['category', '1']]
  for (const [type, id] of entities) {
    get(`/entities/${type}/${id}`)
    get(`/entities/${type}/${id}/versions`)
    get(`/entities/${type}/${id}/versions?order=desc&limit=1`)
  }
  // Writes that name default's entities and types: refused as for missing ones (and so change nothing).
  for (const change of [upd('article', '1', { title: 'x' }), del('article', '1'), upd('user', '1', { name: 'x' }), del('comment', '1'),
    del('article_tag', '2,1'), ins('category', { id: 2 }), upd('category', '1', { name: 'x' })]) {
    list.push({ method: 'POST', url: '/transactions', body: { changes: [change] } })
  }
  get(`/entities/article/1?relations=${RELATIONS}`)
  get(`/entities/article/2?relations=${RELATIONS}`)
  for (let t = 1; t <= PROBED_IDS; t++) {
    get(`/transactions/${t}`)
    get(`/transactions/${t}/versions`)
    get(`/entities/article/1/versions/${t}`)
    get(`/entities/article/2/versions/${t}?relations=${RELATIONS}`)
    get(`/entities/article/2/versions/${t}/relations/comments`)
    get(`/entities/article/2/versions/${t}/relations/tags`)
    get(`/entities/article/2?at=${t}&relations=${RELATIONS}`)
    get(`/entities/article/1?at=${t}`)
    get(`/entities/user/1?at=${t}`)
    get(`/entities/category/1?at=${t}`)
    get(`/entities/category/1/versions/${t}`)
    get(`/entities/article/2/changeset?from=${a1}&to=${t}`)
    get(`/entities/article/1/changeset?from=${t}&to=${t}`)
    list.push({ method: 'POST', url: `/transactions/${t}/revert`, body: { dryRun: true } })
    list.push({ method: 'POST', url: `/transactions/${t}/revert`, body: { dryRun: true, force: true } })
    list.push({ method: 'POST', url: '/entities/article/2/revert', body: { to: t, dryRun: true, relations: ['author', 'comments', 'tags', 'editor'] } })
    list.push({ method: 'POST', url: '/entities/article/1/revert', body: { to: t, dryRun: true } })
    list.push({ method: 'POST', url: '/entities/user/1/revert', body: { to: t, dryRun: true } })
    // For real: acme has no article 1 and no user 1, and (but for its own) no transaction t.
    list.push({ method: 'POST', url: '/entities/article/1/revert', body: { to: t } })
    list.push({ method: 'POST', url: '/entities/user/1/revert', body: { to: t, relations: ['articles'] } })
    if (!acmeIds.includes(t)) {
      list.push({ method: 'POST', url: `/transactions/${t}/revert`, body: { force: true } })
      list.push({ method: 'POST', url: '/transactions', body: { changes: [{ ...upd('article', '2', { title: 'x' }), expectedTransactionId: t }] } })
    }
  }
  return list
}

/**
 * The answers to `list`, in its order. A run of GETs is asked a few at a time (reads change
 * nothing, and nothing else runs meanwhile); every other request is asked alone, after the
 * requests before it and before those after it.
 */
async function ask (h: Harness, key: string, list: Probe[]): Promise<RawReply[]> {
  const answers: RawReply[] = new Array(list.length)
  const askOne = async (i: number): Promise<void> => { const p = list[i]!; answers[i] = await as(h.app, key, p.method, p.url, p.body) }
  for (let i = 0; i < list.length;) {
    if (list[i]!.method !== 'GET') { await askOne(i++); continue }
    let end = i
    while (end < list.length && list[end]!.method === 'GET') end++
    let next = i
    await Promise.all(Array.from({ length: 4 }, async () => { while (next < end) await askOne(next++) }))
    i = end
  }
  return answers
}

/** What default sees of its own history (must not change by anything acme does). */
async function defaultView (h: Harness): Promise<string[]> {
  const urls = ['/transactions?limit=1000', '/entity-types', '/entities/article/1/versions', '/entities/article/2/versions', '/entities/user/1/versions',
    '/entities/comment/1/versions', '/entities/article/7/versions', `/entities/article/2?relations=${RELATIONS.replace(',editor', '')}`]
  const texts: string[] = []
  for (const url of urls) texts.push(`${url} ${(await as(h.app, h.adminKey, 'GET', url)).text}`)
  return texts
}

async function okJson (t: Test, res: RawReply, status: number, what: string): Promise<any> {
  t.equal(res.status, status, `${what}: ${res.status === status ? '' : res.text.slice(0, 300)}`)
  return res.body
}

eachDatabase('another tenant\'s history answers exactly as missing data, and never appears in lists, pages, relations, conflicts or replays', async (t, h) => {
  const acme = await h.newKey(['admin'], 'acme', 'acme admin')
  const acmeKeyIds = [acme.id]
  const A = async (method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<RawReply> => await as(h.app, acme.key, method, url, body, headers)
  const D = async (method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<RawReply> => await as(h.app, h.adminKey, method, url, body, headers)

  // acme's own history: an article 2 pointing at a user 1 it does not have.
  for (const type of ['user', 'comment', 'tag']) await okJson(t, await A('PUT', `/entity-types/${type}`, {}), 201, `acme registers ${type}`)
  await okJson(t, await A('PUT', '/entity-types/article', ACME_ARTICLE), 201, 'acme registers article')
  const a1 = (await okJson(t, await A('POST', '/transactions', { actor: 'acme-actor', changes: [ins('article', { id: 2, title: 'acme', author_id: 1, editor_id: 1 })] }), 201, 'acme records article 2')).transaction.id
  const a2 = (await okJson(t, await A('POST', '/transactions', { actor: 'acme-actor', changes: [upd('article', '2', { title: 'acme 2' })] }), 201, 'acme updates article 2')).transaction.id
  const acmeIds = [a1, a2]

  // The reference: acme's answers while nothing of default exists.
  const list = probes(acmeIds, a1)
  const before = await ask(h, acme.key, list)

  // default records the blog with relations, reverts and an idempotent write.
  await registerBlog(h)
  await okJson(t, await D('PUT', '/entity-types/category', {}), 201, 'default registers a type acme never has')
  t.equal((await D('PUT', '/entity-types/article', { relations: ARTICLE.relations, idFields: ['id'], exclude: ['updated_at'] })).status, 200, 'default article revision 2')
  const d1 = await tx(h, ins('user', { id: 1, name: 'Ann' }), ins('article', { id: 1, title: 'default 1', author_id: 1 }),
    ins('article', { id: 2, title: 'default 2', author_id: 1 }), ins('tag', { id: 1, name: 'db' }),
    ins('comment', { id: 1, article_id: 2, text: 'on default 2' }), ins('comment', { id: 2, article_id: 1 }), link(2, 1), link(1, 1),
    ins('category', { id: 1, name: 'news' }))
  const d2 = (await okJson(t, await D('POST', '/transactions', { actor: 'alice', changes: [upd('article', '2', { title: 'default 2b' })] }), 201, 'default updates article 2')).transaction.id
  const d3 = await tx(h, upd('user', '1', { name: 'Bob' }), ins('comment', { id: 3, article_id: 2 }))
  const d4 = (await okJson(t, await D('POST', '/entities/article/2/revert', { to: d1, relations: ['author', 'comments', 'tags'] }), 201, 'default reverts article 2 with its relations')).transaction.id
  const d5 = await tx(h, upd('article', '1', { title: 'default 1b' }))
  const d6 = (await okJson(t, await D('POST', `/transactions/${d5}/revert`, {}), 201, 'default reverts a transaction')).transaction.id
  const idemBody = { actor: 'acme-actor', changes: [ins('article', { id: 7, title: 'idem' })] }
  const d7res = await D('POST', '/transactions', idemBody, { 'idempotency-key': 'same-key' })
  const d7 = (await okJson(t, d7res, 201, 'default records with an Idempotency-Key')).transaction.id
  const defaultIds = [d1, d2, d3, d4, d5, d6, d7]
  t.equal(Math.max(...defaultIds, ...acmeIds) <= PROBED_IDS, true, `every transaction id (${[...acmeIds, ...defaultIds].join(', ')}) was probed`)

  // default's cursors, to be handed to acme.
  await h.newKey(['read'], 'default', 'second default key')
  const cursors: Record<string, string | null> = {}
  for (const url of ['/transactions?limit=1', '/entities/article/2/versions?limit=1', '/entity-types?limit=1', '/entity-types/article/revisions?limit=1',
    '/api-keys?limit=1', `/transactions/${d1}/versions?limit=1`, '/transactions?limit=1&type=article']) {
    cursors[url] = (await D('GET', url)).body?.nextCursor ?? null
    t.equal(typeof cursors[url], 'string', `default has a next page of ${url}`)
  }
  const defaultBefore = await defaultView(h)

  await t.test('acme asks the same requests again: the same status and the same bytes', async (t) => {
    const after = await ask(h, acme.key, list)
    let notFound = 0
    for (const [i, p] of list.entries()) {
      const b = before[i]!
      const a = after[i]!
      if (b.status === 404) notFound++
      t.equal(a.status, b.status, `${p.method} ${p.url} ${p.body === undefined ? '' : JSON.stringify(p.body)}: same status`)
      t.equal(a.text, b.text, `${p.method} ${p.url} ${p.body === undefined ? '' : JSON.stringify(p.body)}: same body`)
    }
    t.equal(notFound > 100, true, `most of the probes name missing data (${notFound} were 404)`)
  })

  await t.test('what acme sees is its own (explicitly)', async (t) => {
    problemIs(t, await A('GET', '/entities/article/1'), 404, 'default\'s article 1')
    problemIs(t, await A('GET', '/entities/user/1'), 404, 'default\'s user 1')
    problemIs(t, await A('GET', `/transactions/${d1}`), 404, 'default\'s transaction')
    problemIs(t, await A('GET', '/entity-types/category'), 404, 'default\'s type category')
    problemIs(t, await A('GET', '/entities/category/1'), 404, 'default\'s category 1')
    const types = await okJson(t, await A('GET', '/entity-types'), 200, 'acme lists its types')
    t.strictSame(types.items.map((x: any) => x.type), ACME_TYPES, 'acme lists only its own types')
    t.strictSame(types.items[0].definition.relations, ACME_ARTICLE.relations, 'acme\'s article is its own definition')
    const listed = await okJson(t, await A('GET', '/transactions?limit=1000'), 200, 'acme lists transactions')
    t.strictSame(listed.items.map((x: any) => x.id), [a2, a1], 'acme lists only its own transactions')
    t.strictSame((await okJson(t, await A('GET', '/transactions?actor=alice'), 200, 'acme filters by default\'s actor')).items, [], 'no transaction of alice')
    t.strictSame((await okJson(t, await A('GET', '/transactions?type=article'), 200, 'acme filters by type')).items.map((x: any) => x.id), [a2, a1])
    const own = await okJson(t, await A('GET', '/entities/article/2/versions'), 200, 'acme\'s article 2')
    t.strictSame(own.items.map((v: any) => [v.transactionId, v.endTransactionId, v.index, v.data.title]), [[a1, a2, 0, 'acme'], [a2, null, 1, 'acme 2']],
      'acme\'s article 2: its two versions, untouched by default\'s article 2')
    const rel = await okJson(t, await A('GET', `/entities/article/2?relations=${RELATIONS}`), 200, 'acme\'s article 2 with relations')
    t.strictSame(rel.relations, { author: null, comments: [], tags: [], editor: null }, 'no relation reaches default\'s user, comments or tags')
    const relAt = await okJson(t, await A('GET', `/entities/article/2/versions/${a2}?relations=${RELATIONS}`), 200, 'acme\'s version with relations')
    t.strictSame(relAt.relations, { author: null, comments: [], tags: [], editor: null }, 'nor as of acme\'s transaction')
    const conflict = await A('POST', `/transactions/${a1}/revert`, { dryRun: true })
    problemIs(t, conflict, 409, 'reverting acme\'s first transaction conflicts with acme\'s second')
    t.strictSame(conflict.body.conflicts, [{ type: 'article', id: '2', transactionIds: [a2] }], 'the conflict names acme\'s transaction only')
    const dry = await okJson(t, await A('POST', '/entities/article/2/revert', { to: a1, dryRun: true, relations: ['author', 'comments', 'tags', 'editor'] }), 200, 'acme dry-runs a revert with relations')
    t.strictSame(dry.changes, [{ type: 'article', op: 'update', id: '2', data: { title: 'acme' } }], 'the revert touches none of default\'s related entities')
  })

  await t.test('acme\'s writes: counts and indexes are its own, a replay key of default is not a replay for acme', async (t) => {
    const next = await okJson(t, await A('POST', '/transactions', { changes: [upd('article', '2', { title: 'acme 3' })] }), 201, 'acme updates its article 2 again')
    t.equal(next.versions[0].index, 2, 'index counts acme\'s versions of article 2 only')
    const version = await okJson(t, await A('GET', `/entities/article/2/versions/${next.transaction.id as number}`), 200, 'acme reads the new version')
    t.equal(version.previous, a2, 'previous is acme\'s version')
    t.equal(version.next, null)

    const replay = await A('POST', '/transactions', idemBody, { 'idempotency-key': 'same-key' })
    const body = await okJson(t, replay, 201, 'the same Idempotency-Key and body in acme records')
    t.equal(replay.headers['idempotent-replayed'], undefined, 'not a replay')
    t.not(body.transaction.id, d7, 'a new transaction')
    t.strictSame(body.transaction.recordedBy, { keyId: acme.id, keyName: 'acme admin' }, 'recorded by acme\'s key')
    t.strictSame(body.versions.map((v: any) => [v.type, v.id, v.operation, v.index]), [['article', '7', 'insert', 0]], 'acme\'s first version of its article 7')
    const again = await A('POST', '/transactions', idemBody, { 'idempotency-key': 'same-key' })
    t.equal(again.headers['idempotent-replayed'], 'true', 'acme\'s own retry replays acme\'s answer')
    t.equal(again.text, replay.text, 'acme\'s replay is acme\'s first answer')
    // acme's own article 1 and category: the first of their kind in acme, whatever default has.
    const art1 = await okJson(t, await A('POST', '/transactions', { changes: [ins('article', { id: 1, title: 'acme 1' })] }), 201, 'acme inserts an article 1 of its own')
    t.strictSame(art1.versions.map((v: any) => [v.id, v.operation, v.index, v.changeset]), [['1', 'insert', 0, { id: [null, 1], title: [null, 'acme 1'] }]],
      'acme\'s article 1 starts its own history')
    const cat = await okJson(t, await A('PUT', '/entity-types/category', { idFields: ['code'] }), 201, 'acme registers a category type of its own')
    t.equal(cat.revision, 1, 'revision 1 in acme')
    t.strictSame(cat.definition.idFields, ['code'])
    const created = await okJson(t, await A('POST', '/api-keys', { name: 'made by acme', scopes: ['read'] }), 201, 'acme creates a key')
    t.equal(created.tenant, 'acme', 'in acme\'s tenant')
    acmeKeyIds.push(created.id)
    problemIs(t, await as(h.app, created.key, 'GET', '/entities/article/2/versions/' + String(d1)), 404, 'acme\'s new key does not see default\'s transaction')
    t.equal((await as(h.app, created.key, 'GET', '/entities/article/2')).body?.data?.title, 'acme 3', 'acme\'s new key sees acme\'s article 2')

    const defaultRetry = await D('POST', '/transactions', idemBody, { 'idempotency-key': 'same-key' })
    t.equal(defaultRetry.headers['idempotent-replayed'], 'true', 'default\'s retry still replays default\'s answer')
    t.equal(defaultRetry.text, d7res.text, 'default\'s replay is default\'s first answer')
  })

  await t.test('default\'s cursors do not continue into default\'s data for acme', async (t) => {
    const acmeTx = new Set((await A('GET', '/transactions?limit=1000')).body.items.map((x: any) => x.id))
    const leaked = (ids: unknown[]): unknown[] => ids.filter((id) => !acmeTx.has(id))
    const follow = async (url: string): Promise<RawReply> => {
      const cursor = cursors[url]!
      return await A('GET', `${url}&cursor=${encodeURIComponent(cursor)}`)
    }
    for (const url of ['/transactions?limit=1', '/transactions?limit=1&type=article']) {
      const res = await follow(url)
      t.equal(res.status === 200 || res.status === 400, true, `${url} with default's cursor: 200 or 400 (${res.status})`)
      if (res.status === 200) t.strictSame(leaked(res.body.items.map((x: any) => x.id)), [], `${url}: only acme's transactions`)
    }
    const versions = await follow('/entities/article/2/versions?limit=1')
    t.equal(versions.status === 200 || versions.status === 400, true, `acme's article 2 versions with default's cursor: 200 or 400 (${versions.status})`)
    if (versions.status === 200) {
      t.strictSame(leaked(versions.body.items.map((v: any) => v.transactionId)), [], 'only acme\'s versions')
      t.strictSame(versions.body.items.filter((v: any) => !String(v.data.title).startsWith('acme')), [], 'no state of default\'s article 2')
    }
    const types = await follow('/entity-types?limit=1')
    t.equal(types.status === 200 || types.status === 400, true, `entity types with default's cursor: 200 or 400 (${types.status})`)
    if (types.status === 200) t.strictSame(types.body.items.filter((x: any) => !ACME_TYPES.includes(x.type)), [], 'only acme\'s types')
    const revisions = await follow('/entity-types/article/revisions?limit=1')
    t.equal(revisions.status === 200 || revisions.status === 400, true, `article revisions with default's cursor: 200 or 400 (${revisions.status})`)
    if (revisions.status === 200) {
      t.strictSame(revisions.body.items.filter((r: any) => JSON.stringify(r.definition.relations) !== JSON.stringify(ACME_ARTICLE.relations)), [],
        'only revisions of acme\'s article')
    }
    const keys = await follow('/api-keys?limit=1')
    t.equal(keys.status === 200 || keys.status === 400, true, `API keys with default's cursor: 200 or 400 (${keys.status})`)
    if (keys.status === 200) t.strictSame(keys.body.items.filter((k: any) => k.tenant !== 'acme'), [], 'only acme\'s keys')
    const txVersions = await follow(`/transactions/${d1}/versions?limit=1`)
    problemIs(t, txVersions, 404, 'default\'s transaction\'s versions with default\'s cursor')
  })

  await t.test('API keys: acme lists and revokes its own only', async (t) => {
    const acme2 = await h.newKey(['read'], 'acme', 'acme reader')
    const victim = await h.newKey(['read'], 'default', 'default reader')
    const listed = await okJson(t, await A('GET', '/api-keys?limit=1000'), 200, 'acme lists its keys')
    acmeKeyIds.push(acme2.id)
    t.strictSame(listed.items.map((k: any) => k.id).sort(), [...acmeKeyIds].sort(), 'acme\'s keys, none of default\'s')
    t.strictSame([...new Set(listed.items.map((k: any) => k.tenant))], ['acme'])

    const fake = 'key_' + 'Z'.repeat(victim.id.length - 4)
    const missing = await A('DELETE', `/api-keys/${fake}`)
    problemIs(t, missing, 404, 'revoking a key that never existed')
    const other = await A('DELETE', `/api-keys/${victim.id}`)
    problemIs(t, other, 404, 'revoking default\'s key')
    t.equal(other.text, missing.text.split(fake).join(victim.id), 'the same body as for a key that never existed (but for the id)')
    t.equal((await as(h.app, victim.key, 'GET', '/entity-types')).status, 200, 'default\'s key still works')
    const defaults = await okJson(t, await D('GET', '/api-keys?limit=1000'), 200, 'default lists its keys')
    t.strictSame(defaults.items.filter((k: any) => k.id === victim.id).map((k: any) => k.revokedAt), [null], 'default\'s key is not revoked')
    t.strictSame(defaults.items.filter((k: any) => k.tenant !== 'default'), [], 'default lists none of acme\'s keys')
  })

  await t.test('nothing acme did changed what default sees', async (t) => {
    t.strictSame(await defaultView(h), defaultBefore)
  })
})
