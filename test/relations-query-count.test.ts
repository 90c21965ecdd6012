import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { registerBlog } from './helpers/blog.js'
import { tx } from './helpers/changes.js'

// The number of SQL statements a relation read or a relation revert costs must not grow
// with the number of related entities (no N+1).

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)
/** Ids of the children of one article do not collide with another's. */
const childId = (article: number, i: number): number => article * 10000 + i

/** An article with an author, n comments and n tags, in one transaction; returns its id. */
async function seed (h: Harness, article: number, n: number): Promise<number> {
  return await tx(h, ...[
    { type: 'user', op: 'insert', data: { id: article, name: `author ${article}` } },
    { type: 'article', op: 'insert', data: { id: article, title: `article ${article}`, author_id: article } },
    ...range(n).flatMap((i) => [
      { type: 'comment', op: 'insert', data: { id: childId(article, i), article_id: article, text: `c${i}` } },
      { type: 'tag', op: 'insert', data: { id: childId(article, i), name: `t${i}` } },
      { type: 'article_tag', op: 'insert', data: { article_id: article, tag_id: childId(article, i) } }
    ])
  ])
}

/**
 * The statements one request executes, leaving out reloads of the entity-type
 * definitions: they are cached for a short time, so a reload falls into a run by chance
 * (one statement, whatever the number of children).
 */
async function measure (h: Harness, request: () => Promise<Reply>): Promise<{ reply: Reply, statements: number }> {
  h.resetQueries()
  const reply = await request()
  return { reply, statements: h.queries.filter((q) => !/from "?entity_types"?/.test(q)).length }
}

eachDatabase('a version with author, comments and tags costs as many statements with 300 children as with 2', async (t, h) => {
  await registerBlog(h)
  const small = await seed(h, 1, 2)
  const large = await seed(h, 2, 300)
  // Later history the as-of reads must look past.
  await tx(h, ...[1, 2].flatMap((a) => [
    { type: 'user', op: 'update', id: String(a), data: { name: 'renamed' } },
    { type: 'comment', op: 'update', id: String(childId(a, 1)), data: { text: 'edited' } },
    { type: 'article_tag', op: 'delete', id: `${a},${childId(a, 2)}` }
  ]))

  const url = (a: number, t: number): string => `/entities/article/${a}/versions/${t}?relations=author,comments,tags`
  const two = await measure(h, async () => await h.get(url(1, small)))
  const many = await measure(h, async () => await h.get(url(2, large)))
  for (const [m, n, a] of [[two, 2, 1], [many, 300, 2]] as const) {
    t.equal(m.reply.status, 200)
    t.equal(m.reply.body.relations.author.data.name, `author ${a}`, 'the author as it was then')
    t.equal(m.reply.body.relations.comments.length, n)
    t.equal(m.reply.body.relations.tags.length, n)
    t.equal(m.reply.body.relations.comments[0].data.text, 'c1', 'the comment as it was then')
  }
  t.ok(two.statements > 0, `the log saw the statements (${two.statements})`)
  t.equal(many.statements, two.statements, `the same number of statements: ${two.statements} with 2 children, ${many.statements} with 300`)

  const stateTwo = await measure(h, async () => await h.get(`/entities/article/1?at=${small}&relations=author,comments,tags`))
  const stateMany = await measure(h, async () => await h.get(`/entities/article/2?at=${large}&relations=author,comments,tags`))
  t.equal(stateMany.reply.body.relations.tags.length, 300)
  t.equal(stateMany.statements, stateTwo.statements, `GET /entities/{type}/{id}?at=&relations= too: ${stateTwo.statements} and ${stateMany.statements}`)
})

eachDatabase('a relation revert costs as many statements with 60 changed children as with 3', async (t, h) => {
  await registerBlog(h)
  const sizes = [[1, 3], [2, 60]] as const
  const before = new Map<number, number>()
  for (const [a, n] of sizes) before.set(a, await seed(h, a, n))
  // Every child changes: comments edited, associations removed, new comments joined.
  for (const [a, n] of sizes) {
    await tx(h, ...range(n).flatMap((i) => [
      { type: 'comment', op: 'update', id: String(childId(a, i)), data: { text: 'edited' } },
      { type: 'article_tag', op: 'delete', id: `${a},${childId(a, i)}` },
      { type: 'comment', op: 'insert', data: { id: childId(a, 5000 + i), article_id: a, text: 'late' } }
    ]))
  }

  const counts: number[] = []
  for (const [a, n] of sizes) {
    const body = { to: before.get(a), relations: ['author', 'comments', 'tags'] }
    const m = await measure(h, async () => await h.post(`/entities/article/${a}/revert`, body))
    t.equal(m.reply.status, 201)
    const ops = m.reply.body.changes.map((c: any) => `${c.type as string}:${c.op as string}`)
    t.equal(ops.filter((o: string) => o === 'comment:update').length, n)
    t.equal(ops.filter((o: string) => o === 'comment:delete').length, n)
    t.equal(ops.filter((o: string) => o === 'article_tag:insert').length, n)
    t.equal(ops.length, 3 * n)
    counts.push(m.statements)
  }
  t.equal(counts[1], counts[0], `the same number of statements: ${counts[0]} for 3 children, ${counts[1]} for 60`)

  const dry = await measure(h, async () => await h.post('/entities/article/1/revert', { to: before.get(1), relations: ['comments', 'tags'], dryRun: true }))
  t.equal(dry.reply.body.changes.length, 0, 'after the revert, nothing is left to change')
})
