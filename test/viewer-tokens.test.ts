import type { Test } from 'tap'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { link, registerBlog } from './helpers/blog.js'
import { ins, tx, upd } from './helpers/changes.js'
import { as, isForbidden, isUnauthorized, problemIs, type RawReply } from './helpers/access.js'

// API.md, "Access": POST /viewer-tokens {"type"?, "id"?, "ttlSeconds"} (admin; at most
// 86,400 s) answers 201 {"token", "expiresAt"}: a read-only token, limited to one type or
// one entity when named, usable as a Bearer key. Outside its limit everything answers as
// missing (404, or left out of lists and relations).
//
// "As missing" is checked literally, as for tenants: a token limited to article 1 asks about
// everything else BEFORE it exists, the history of everything else grows, and the very same
// requests answer the very same bytes.

async function token (t: Test, h: Harness, body: Record<string, unknown>): Promise<string> {
  const res = await h.post('/viewer-tokens', body)
  t.equal(res.status, 201, `viewer token ${JSON.stringify(body)} created`)
  return res.body.token
}

const ask = async (h: Harness, key: string, url: string): Promise<RawReply> => await as(h.app, key, 'GET', url)

/** What a token limited to article 1 asks about everything else (transaction ids 1..8). */
const OUTSIDE = [
  '/entities/article/2', '/entities/article/2/versions', '/entities/article/2/versions/2', '/entities/article/2/changeset?from=1&to=2',
  '/entities/user/1', '/entities/user/1/versions', '/entities/comment/2/versions', '/entities/article_tag/2,1/versions',
  '/entity-types/user', '/entity-types/user/revisions', '/entity-types/comment',
  '/entities/user', '/entities/comment?limit=5',
  '/entities/article/1?relations=author,comments,tags', '/entities/article/1/versions/1?relations=author,comments,tags',
  '/entities/article/1/versions/1/relations/comments', '/entities/article/1/versions/1/relations/tags',
  '/entity-types', '/entities/article', '/transactions', '/transactions?type=user', '/transactions?type=article', '/transactions?actor=bob',
  ...[1, 2, 3, 4, 5, 6, 7, 8].flatMap((id) => [`/transactions/${id}`, `/transactions/${id}/versions`])
]

eachDatabase('a token limited to one entity sees that entity and nothing else, byte for byte as if nothing else existed', async (t, h) => {
  await registerBlog(h)
  const t1 = await tx(h, ins('user', { id: 1, name: 'Ann' }), ins('article', { id: 1, title: 'First', author_id: 1 }), ins('tag', { id: 1, name: 'news' }),
    link(1, 1), ins('comment', { id: 1, article_id: 1, body: 'Nice' }))
  const viewer = await token(t, h, { type: 'article', id: '1', ttlSeconds: 600 })

  const before = await Promise.all(OUTSIDE.map(async (url) => await ask(h, viewer, url)))
  // Everything else grows: another article, the author, a new comment on article 1, a tag on article 2.
  await tx(h, ins('article', { id: 2, title: 'Second', author_id: 1 }))
  await h.post('/transactions', { actor: 'bob', changes: [upd('user', '1', { name: 'Ann B.' })] })
  await tx(h, ins('comment', { id: 2, article_id: 1, body: 'Agreed' }))
  await tx(h, link(2, 1), upd('article', '2', { title: 'Second, edited' }))
  const after = await Promise.all(OUTSIDE.map(async (url) => await ask(h, viewer, url)))
  for (const [i, url] of OUTSIDE.entries()) {
    t.equal(after[i]!.status, before[i]!.status, `${url}: the same status as before anything else existed`)
    t.equal(after[i]!.text, before[i]!.text, `${url}: the same body as before anything else existed`)
  }

  // What is outside answers as missing.
  const other = after[OUTSIDE.indexOf('/entities/article/2/versions')]!
  problemIs(t, other, 404, 'another article')
  t.equal(other.body.detail, 'article "2" has no versions', 'another article: as one that never existed')
  const otherType = after[OUTSIDE.indexOf('/entities/user/1')]!
  problemIs(t, otherType, 404, 'another type')
  t.equal(otherType.body.detail, 'unknown entity type "user"', 'another type: as an unknown type')
  problemIs(t, after[OUTSIDE.indexOf('/transactions/2')]!, 404, 'a transaction that changed only other entities')

  // What is inside reads as for any reader, less what is outside.
  const versions = await ask(h, viewer, '/entities/article/1/versions')
  t.equal(versions.status, 200)
  t.strictSame(versions.body.items.map((v: any) => [v.transactionId, v.operation, v.data.title]), [[t1, 'insert', 'First']], 'article 1\'s history')
  const detail = await ask(h, viewer, `/transactions/${t1}`)
  t.equal(detail.status, 200)
  t.strictSame(detail.body.versions.map((v: any) => `${v.type}/${v.id}`), ['article/1'], 'its transaction shows only article 1\'s version')
  const page = await ask(h, viewer, `/transactions/${t1}/versions`)
  t.strictSame(page.body.items.map((v: any) => `${v.type}/${v.id}`), ['article/1'], 'and so does its page of versions')
  t.strictSame((await ask(h, viewer, '/entity-types')).body.items.map((e: any) => e.type), ['article'], 'the type list holds its type only')
  t.strictSame((await ask(h, viewer, '/entities/article')).body.items.map((e: any) => e.id), ['1'], 'the entity list holds its entity only')
  t.strictSame((await ask(h, viewer, '/transactions')).body.items.map((x: any) => x.id), [t1], 'the transaction list holds its entity\'s transactions only')
  const related = await ask(h, viewer, '/entities/article/1?relations=author,comments,tags')
  t.strictSame(related.body.relations, { author: null, comments: [], tags: [] }, 'related entities outside the limit are left out')
  t.equal((await ask(h, viewer, '/entity-types/article')).status, 200, 'its type\'s definition reads')

  // Read-only, and only the history of its entity: other routes are refused.
  for (const [method, url, body] of [
    ['POST', '/transactions', { changes: [upd('article', '1', { title: 'x' })] }],
    ['POST', '/entities/article/1/revert', { to: t1, dryRun: true }],
    ['POST', '/viewer-tokens', { ttlSeconds: 60 }],
    ['GET', '/stream', undefined], ['GET', '/export', undefined], ['GET', '/integrity/checkpoints', undefined], ['GET', '/redactions', undefined],
    ['GET', '/api-keys', undefined]
  ] as const) {
    isForbidden(t, await as(h.app, viewer, method, url, body), `${method} ${url} with a limited viewer token`)
  }
  t.equal(await h.count('transactions'), 5, 'nothing was recorded by the token')
})

eachDatabase('a token limited to a type sees its entities; an unlimited one reads everything and writes nothing', async (t, h) => {
  await registerBlog(h)
  await tx(h, ins('user', { id: 1, name: 'Ann' }), ins('article', { id: 1, title: 'First', author_id: 1 }))
  await tx(h, ins('article', { id: 2, title: 'Second', author_id: 1 }))
  const articles = await token(t, h, { type: 'article', ttlSeconds: 600 })
  t.strictSame((await ask(h, articles, '/entities/article')).body.items.map((e: any) => e.id), ['1', '2'], 'both articles listed')
  t.equal((await ask(h, articles, '/entities/article/2/versions')).status, 200, 'any article reads')
  const user = await ask(h, articles, '/entities/user/1')
  problemIs(t, user, 404, 'a user')
  t.equal(user.body.detail, 'unknown entity type "user"', 'another type is as unknown')
  t.strictSame((await ask(h, articles, '/entities/article/1?relations=author')).body.relations, { author: null }, 'the author (a user) is left out')

  const everything = await token(t, h, { ttlSeconds: 600 })
  t.strictSame((await ask(h, everything, '/entities/article/1?relations=author')).body.relations.author.data, { id: 1, name: 'Ann' }, 'an unlimited token reads relations')
  t.strictSame((await ask(h, everything, '/entity-types')).body.items.map((e: any) => e.type), ['article', 'article_tag', 'comment', 'tag', 'user'], 'and every type')
  isForbidden(t, await as(h.app, everything, 'POST', '/transactions', { changes: [ins('user', { id: 2 })] }), 'an unlimited token cannot write')
  isForbidden(t, await as(h.app, everything, 'POST', '/viewer-tokens', { ttlSeconds: 60 }), 'nor make tokens')
  isForbidden(t, await as(h.app, everything, 'POST', '/entities/article/1/revert', { to: 1, dryRun: true }), 'nor revert')
})

eachDatabase('a token is made by an admin, shown once, and stops at its expiry or with the key that made it', async (t, h) => {
  await registerBlog(h)
  const issuer = await h.newKey(['admin'], 'default', 'portal')
  const made = await as(h.app, issuer.key, 'POST', '/viewer-tokens', { type: 'article', id: '1', ttlSeconds: 3600 })
  t.equal(made.status, 201)
  t.strictSame(Object.keys(made.body).sort(), ['expiresAt', 'token'], 'the answer is {token, expiresAt}')
  t.match(made.body.token, /^rwv_[A-Za-z0-9_-]{43}$/, 'the token is rwv_ and 32 random bytes')
  const lifetime = Date.parse(made.body.expiresAt) - Date.now()
  t.equal(lifetime > 3590_000 && lifetime <= 3600_000, true, `expiresAt is ttlSeconds from now (${lifetime} ms)`)
  t.equal((await as(h.app, made.body.token, 'GET', '/entity-types')).status, 200, 'usable as a Bearer key')
  const listed = await h.get('/api-keys')
  t.equal(JSON.stringify(listed.body).includes(made.body.token.slice(4, 20)), false, 'never listed with the keys')

  const short = await token(t, h, { ttlSeconds: 1 })
  t.equal((await ask(h, short, '/entity-types')).status, 200, 'works before its expiry')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  isUnauthorized(t, await ask(h, short, '/entity-types'), 'an expired token')

  t.equal((await h.request('DELETE', `/api-keys/${issuer.id}`)).status, 200, 'the issuing key is revoked')
  isUnauthorized(t, await ask(h, made.body.token, '/entity-types'), 'a token of a revoked key')

  const reader = await h.newKey(['read', 'write', 'revert', 'types'])
  isForbidden(t, await as(h.app, reader.key, 'POST', '/viewer-tokens', { ttlSeconds: 60 }), 'only admin makes viewer tokens')
})

eachDatabase('a bad viewer-token request is a 400 or 404 naming what is wrong', async (t, h) => {
  await registerBlog(h)
  for (const [body, status, words] of [
    [{}, 400, 'ttlSeconds'],
    [{ ttlSeconds: 0 }, 400, 'ttlSeconds'],
    [{ ttlSeconds: 86_401 }, 400, 'ttlSeconds'],
    [{ ttlSeconds: 1.5 }, 400, 'ttlSeconds'],
    [{ ttlSeconds: 60, id: '1' }, 400, 'type'],
    [{ ttlSeconds: 60, type: 'Bad Type' }, 400, 'type'],
    [{ ttlSeconds: 60, extra: true }, 400, 'extra'],
    [{ ttlSeconds: 60, type: 'ghost' }, 404, 'ghost']
  ] as const) {
    const res = await h.post('/viewer-tokens', body)
    problemIs(t, res, status, JSON.stringify(body))
    t.equal(String(res.body.detail).includes(words), true, `${JSON.stringify(body)}: the detail names ${words} ("${res.body.detail}")`)
  }
  t.equal((await h.post('/viewer-tokens', { ttlSeconds: 86_400 })).status, 201, 'a day is the longest')
})
