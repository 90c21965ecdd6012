import type { Profile } from './config.js'
import { HOT_KEY, HOT_TYPE, hotTransactionId, type SeedLayout } from './seed.js'
import type { HttpClient } from './service.js'
import { percentile, xorshift } from './stats.js'

export interface QueryFigures {
  name: string
  requests: number
  p50Ms: number
  p99Ms: number
  meanMs: number
  /** Answers other than 200 (all passes): must be 0. */
  errors: number
  /** p99 of each pass (the figures above are those of the pass with the lowest). */
  passesP99Ms?: number[]
}

export const READ_QUERIES = [
  'versions: first page',
  'versions: deep cursor page',
  'version detail + relations',
  'state ?at=t',
  'changeset 100 versions apart'
] as const

const entity = `/entities/${HOT_TYPE}/${HOT_KEY}`

interface Page { items: unknown[], nextCursor: string | null }

/**
 * Cursors deep into the hot entity's history, got the way a client gets them: by walking
 * its versions page after page (bounded: at most 200 pages) and keeping the nextCursors
 * of the pages that end between 80 % of the history and 50 versions before its end.
 */
async function deepCursors (client: HttpClient, hotVersions: number): Promise<string[]> {
  const limit = Math.min(1000, Math.max(10, Math.floor(hotVersions / 50)))
  const found: Array<{ consumed: number, cursor: string }> = []
  let cursor: string | null = null
  let consumed = 0
  for (let pages = 0; pages < 200; pages++) {
    const reply = await client.request('GET', `${entity}/versions?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    if (reply.status !== 200) throw new Error(`walking the versions: ${reply.status}`)
    const page = reply.body as Page
    consumed += page.items.length
    cursor = page.nextCursor
    if (cursor === null) break
    found.push({ consumed, cursor })
  }
  const deep = found.filter((c) => c.consumed >= 0.8 * hotVersions && c.consumed <= hotVersions - 50)
  const chosen = deep.length > 0 ? deep : found.slice(-1)
  if (chosen.length === 0) throw new Error('no cursor: the hot entity has a single page of versions')
  return chosen.map((c) => c.cursor)
}

/** Checks once that the answers are what the layout says (so that the timings time real work). */
async function check (client: HttpClient, layout: SeedLayout): Promise<void> {
  const t = hotTransactionId(layout, layout.hotVersions - 1)
  const detail = await client.request('GET', `${entity}/versions/${t}?relations=comments,tags`)
  const relations = (detail.body as { relations?: { comments?: unknown[], tags?: unknown[] }, index?: number }).relations
  if (detail.status !== 200 || relations?.comments?.length !== 5 || relations.tags?.length !== 3 ||
    (detail.body as { index?: number }).index !== layout.hotVersions - 1) {
    throw new Error(`unexpected version detail: ${detail.status} ${JSON.stringify(detail.body).slice(0, 500)}`)
  }
  const first = await client.request('GET', `${entity}/versions`)
  if (first.status !== 200 || (first.body as Page).items.length !== 50) throw new Error(`unexpected first page: ${first.status}`)
  const changeset = await client.request('GET', `${entity}/changeset?from=${hotTransactionId(layout, 0)}&to=${hotTransactionId(layout, 100)}`)
  if (changeset.status !== 200 || Object.keys(changeset.body as object).length === 0) throw new Error(`unexpected changeset: ${changeset.status}`)
}

/** Times `count` sequential GETs (after `warmup` untimed ones) of the paths `next()` gives. */
async function time (client: HttpClient, name: string, profile: Profile, next: () => string): Promise<QueryFigures> {
  for (let i = 0; i < profile.readWarmup; i++) await client.timeGet(next())
  const samples: number[] = []
  let errors = 0
  for (let i = 0; i < profile.readRequests; i++) {
    const { ms, status } = await client.timeGet(next())
    if (status !== 200) errors++
    samples.push(ms)
  }
  // A read that fails is not a figure: stop rather than time error answers.
  if (errors > 0) throw new Error(`${name}: ${errors} of ${profile.readRequests} requests did not answer 200`)
  samples.sort((a, b) => a - b)
  return {
    name,
    requests: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
    errors
  }
}

/** The read queries on the hot entity of a seeded size, timed by `timePasses`. */
export async function measureReads (client: HttpClient, layout: SeedLayout, profile: Profile): Promise<QueryFigures[]> {
  await check(client, layout)
  const random = xorshift(layout.requested)
  const pick = (n: number): number => Math.floor(random() * n)
  const H = layout.hotVersions
  const cursors = await deepCursors(client, H)
  let c = 0
  const [firstPage, deepPage, detail, state, changeset] = READ_QUERIES
  const queries: Query[] = [
    [firstPage, () => `${entity}/versions?limit=50`],
    [deepPage, () => `${entity}/versions?limit=50&cursor=${encodeURIComponent(cursors[c++ % cursors.length]!)}`],
    [detail, () => `${entity}/versions/${hotTransactionId(layout, pick(H))}?relations=comments,tags`],
    [state, () => `${entity}?at=${hotTransactionId(layout, pick(H)) + pick(layout.hotEvery)}`],
    [changeset, () => {
      const from = pick(H - 100)
      return `${entity}/changeset?from=${hotTransactionId(layout, from)}&to=${hotTransactionId(layout, from + 100)}`
    }]
  ]
  return await timePasses(client, queries, profile)
}

/** A query to time: its name, and the path of its next request. */
export type Query = readonly [name: string, next: () => string]

/**
 * Times `queries` sequentially on one keep-alive connection, in `profile.readPasses` passes
 * over all of them; each query keeps its pass with the lowest p99 (the others are kept in
 * `passesP99Ms`), so that a burst of other work on the machine during one pass does not
 * stand for the query's tail. Throws if any request does not answer 200.
 */
export async function timePasses (client: HttpClient, queries: readonly Query[], profile: Profile): Promise<QueryFigures[]> {
  const passes: QueryFigures[][] = []
  for (let pass = 0; pass < profile.readPasses; pass++) {
    const figures: QueryFigures[] = []
    for (const [name, next] of queries) figures.push(await time(client, name, profile, next))
    passes.push(figures)
  }
  return queries.map(([name], i) => {
    const all = passes.map((p) => p[i]!)
    const best = all.reduce((a, b) => (b.p99Ms < a.p99Ms ? b : a))
    return { ...best, name, errors: all.reduce((n, f) => n + f.errors, 0), passesP99Ms: all.map((f) => f.p99Ms) }
  })
}
