import { eachDatabase, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { allRevisions, ARTICLE_DEFINITION, isTimestamp } from './helpers/entity-types.js'

// API.md, "Entity types": GET /entity-types, GET /entity-types/{type} and
// GET /entity-types/{type}/revisions.

eachDatabase('GET /entity-types lists every type, paginated with nextCursor', async (t, h) => {
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
  for (const name of names) t.equal((await h.put(`/entity-types/${name}`, { exclude: [`${name}_cache`] })).status, 201)

  const all = await h.get('/entity-types')
  t.equal(all.status, 200)
  t.equal(all.body.nextCursor, null, 'everything fits the default page')
  t.strictSame(all.body.items.map((i: any) => i.type).sort(), names)
  for (const item of all.body.items) {
    t.strictSame(item.definition.exclude, [`${item.type as string}_cache`], `${item.type as string}: its own definition`)
    t.equal(item.revision, 1)
    t.ok(isTimestamp(item.createdAt) && isTimestamp(item.updatedAt), `${item.type as string}: timestamps`)
  }

  const seen: string[] = []
  let url = '/entity-types?limit=2'
  const sizes: number[] = []
  for (let i = 0; i < 10; i++) {
    const res = await h.get(url)
    t.equal(res.status, 200)
    t.ok(res.body.items.length <= 2, 'a page holds at most limit items')
    sizes.push(res.body.items.length)
    seen.push(...res.body.items.map((x: any) => x.type))
    if (res.body.nextCursor === null) break
    t.type(res.body.nextCursor, 'string')
    url = `/entity-types?limit=2&cursor=${encodeURIComponent(res.body.nextCursor)}`
  }
  t.strictSame(sizes, [2, 2, 1], 'three pages')
  t.strictSame([...seen].sort(), names, 'each type exactly once across the pages')

  assertProblem(t, await h.get('/entity-types?limit=1001'), 400, 'limit above 1000')
  assertProblem(t, await h.get('/entity-types?limit=0'), 400, 'limit 0')
  assertProblem(t, await h.get('/entity-types?cursor=not-a-cursor'), 400, 'a cursor that was never issued')
})

eachDatabase('GET /entity-types/{type} reads one type; an unknown type is 404', async (t, h) => {
  t.equal((await h.put('/entity-types/article', ARTICLE_DEFINITION)).status, 201)
  const changed = await h.put('/entity-types/article', { ...ARTICLE_DEFINITION, exclude: [] })
  const read = await h.get('/entity-types/article')
  t.equal(read.status, 200)
  t.strictSame(read.body, changed.body, 'the latest revision')

  assertProblem(t, await h.get('/entity-types/nothing_here'), 404, 'unknown type')
  assertProblem(t, await h.get('/entity-types/nothing_here/revisions'), 404, 'revisions of an unknown type')
})

eachDatabase('GET /entity-types/{type}/revisions keeps every revision of the definition', async (t, h) => {
  const definitions = [
    { idFields: ['id'], exclude: [], relations: {} },
    { idFields: ['id'], exclude: ['a'], relations: {} },
    { idFields: ['id'], exclude: ['a', 'b'], relations: { owner: { kind: 'manyToOne', target: 'user', foreignKey: 'owner_id' } } },
    { idFields: ['id'], exclude: [], relations: {} } // back to the first: still a change, a new revision
  ]
  const answers: Reply[] = []
  for (const definition of definitions) {
    answers.push(await h.put('/entity-types/doc', definition))
    t.equal((await h.put('/entity-types/doc', definition)).status, 200, 'a repeated PUT is unchanged')
  }
  t.strictSame(answers.map((a) => a.status), [201, 200, 200, 200])
  t.strictSame(answers.map((a) => a.body.revision), [1, 2, 3, 4])

  const revisions = await allRevisions(h, 'doc')
  t.equal(revisions.length, 4, 'every revision kept, unchanged PUTs add none')
  const byRevision = [...revisions].sort((a, b) => a.revision - b.revision)
  t.strictSame(byRevision.map((r) => r.revision), [1, 2, 3, 4])
  t.strictSame(byRevision.map((r) => r.definition), definitions, 'each revision holds its definition')
  for (const r of byRevision) t.ok(isTimestamp(r.createdAt), `revision ${r.revision as number} has createdAt`)

  const paged = await allRevisions(h, 'doc', 1)
  t.strictSame(paged.map((r) => r.revision).sort(), [1, 2, 3, 4], 'pagination by one yields each revision once')
  const first = await h.get('/entity-types/doc/revisions?limit=3')
  t.equal(first.body.items.length, 3)
  t.type(first.body.nextCursor, 'string', 'a further page is announced')

  const current = await h.get('/entity-types/doc')
  t.equal(current.body.revision, 4)
  t.strictSame(current.body.definition, definitions[3])
})
