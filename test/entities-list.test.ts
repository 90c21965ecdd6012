import { eachDatabase } from './helpers/harness.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { as, problemIs } from './helpers/access.js'
import { allPages } from './helpers/assertions.js'

// GET /entities/{type} (silent in the contract; what the viewer browses): the entities of a
// type that have history, deleted ones included, by key, each with its latest version's
// operation, transaction and time; paginated like every list; a tenant's own only.

eachDatabase('the entities of a type: one item per entity with its latest version, deleted ones too, paged by key', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.put('/entity-types/tag', {})).status, 201)
  await tx(h, ins('article', { id: 'a' }), ins('article', { id: 'b' }), ins('tag', { id: 'x' }))
  const t2 = await tx(h, upd('article', 'a', { title: 'A' }), ins('article', { id: 'c' }))
  const t3 = await tx(h, del('article', 'b'))
  const res = await h.get('/entities/article')
  t.equal(res.status, 200)
  const issued = async (id: number): Promise<string> => (await h.get(`/transactions/${id}`)).body.issuedAt
  t.strictSame(res.body, {
    items: [
      { type: 'article', id: 'a', transactionId: t2, operation: 'update', issuedAt: await issued(t2) },
      { type: 'article', id: 'b', transactionId: t3, operation: 'delete', issuedAt: await issued(t3) },
      { type: 'article', id: 'c', transactionId: t2, operation: 'insert', issuedAt: await issued(t2) }
    ],
    nextCursor: null
  }, 'each entity once, with its latest operation; the deleted one as a delete')

  const first = await h.get('/entities/article?limit=2')
  t.strictSame(first.body.items.map((e: any) => e.id), ['a', 'b'], 'a page of two')
  t.equal(typeof first.body.nextCursor, 'string', 'and a cursor to the rest')
  t.strictSame((await allPages(t, h, '/entities/article?limit=1')).flatMap((p: any) => p.items.map((e: any) => e.id)), ['a', 'b', 'c'], 'paging one at a time lists each once')

  t.strictSame((await h.get('/entities/tag')).body.items.map((e: any) => e.id), ['x'], 'another type lists its own')
  const unknown = await h.get('/entities/ghost')
  problemIs(t, unknown, 404, 'an unknown type')
  t.equal(unknown.body.detail, 'unknown entity type "ghost"')
  problemIs(t, await h.get('/entities/article?cursor=nonsense'), 400, 'a cursor that is not one')

  const acme = await h.newKey(['admin'], 'acme')
  t.equal((await as(h.app, acme.key, 'PUT', '/entity-types/article', {})).status, 201)
  const theirs = await as(h.app, acme.key, 'GET', '/entities/article')
  t.strictSame(theirs.body, { items: [], nextCursor: null }, 'another tenant lists none of these')
})
