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
  /** Answers other than 200 (all rounds): must be 0 (a read that fails stops the bench). */
  errors: number
  /** p99 of each round (the figures above are over all rounds' requests). */
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

/** Times `profile.readRequests` sequential GETs (after `profile.readWarmup` untimed ones) of the paths `next()` gives; throws unless all answer 200. */
async function timeBlock (client: HttpClient, name: string, profile: Profile, next: () => string): Promise<number[]> {
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
  return samples
}

const p99Of = (samples: readonly number[]): number => percentile([...samples].sort((a, b) => a - b), 99)

/** One query's figures over all its rounds' requests (`rounds`: each round's samples). */
function pooled (name: string, rounds: readonly number[][]): QueryFigures {
  const samples = rounds.flat().sort((a, b) => a - b)
  return {
    name,
    requests: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
    errors: 0,
    passesP99Ms: rounds.map(p99Of)
  }
}

/** The read queries on the hot entity of a seeded size (checked once first, so that the timings time real work). */
export async function readQueries (client: HttpClient, layout: SeedLayout): Promise<Query[]> {
  await check(client, layout)
  const random = xorshift(layout.requested)
  const pick = (n: number): number => Math.floor(random() * n)
  const H = layout.hotVersions
  const cursors = await deepCursors(client, H)
  let c = 0
  const [firstPage, deepPage, detail, state, changeset] = READ_QUERIES
  return [
    [firstPage, () => `${entity}/versions?limit=50`],
    [deepPage, () => `${entity}/versions?limit=50&cursor=${encodeURIComponent(cursors[c++ % cursors.length]!)}`],
    [detail, () => `${entity}/versions/${hotTransactionId(layout, pick(H))}?relations=comments,tags`],
    [state, () => `${entity}?at=${hotTransactionId(layout, pick(H)) + pick(layout.hotEvery)}`],
    [changeset, () => {
      const from = pick(H - 100)
      return `${entity}/changeset?from=${hotTransactionId(layout, from)}&to=${hotTransactionId(layout, from + 100)}`
    }]
  ]
}

/** A query to time: its name, and the path of its next request. */
export type Query = readonly [name: string, next: () => string]

/** What one service answers: the same queries, by name and in the same order, for every target of a run. */
export interface ReadTarget { client: HttpClient, queries: readonly Query[] }

/**
 * Times the same queries on several targets (histories of several sizes, each behind its own
 * service) in `profile.readPasses` interleaved rounds. In each round every query is timed on
 * every target back to back, a block of `profile.readRequests` sequential requests each, the
 * targets taking turns at going first; so a burst of other work on the machine lands on the
 * targets alike, rather than on whichever was timed at that moment. Each query's p50 and p99
 * are over all its rounds' requests (`passesP99Ms`: each round's p99). Answers a figure per
 * query per target, in the targets' order; throws if any request does not answer 200.
 */
export async function timeInterleaved (targets: readonly ReadTarget[], profile: Profile): Promise<QueryFigures[][]> {
  const names = targets[0]?.queries.map(([name]) => name) ?? []
  for (const t of targets) {
    if (t.queries.map(([name]) => name).join() !== names.join()) throw new Error('every target must answer the same queries')
  }
  const samples = targets.map(() => names.map((): number[][] => []))
  for (let round = 0; round < profile.readPasses; round++) {
    for (const [q, name] of names.entries()) {
      for (let turn = 0; turn < targets.length; turn++) {
        const i = (turn + round) % targets.length
        const target = targets[i]!
        samples[i]![q]!.push(await timeBlock(target.client, name, profile, target.queries[q]![1]))
      }
    }
  }
  return samples.map((perQuery) => perQuery.map((rounds, q) => pooled(names[q]!, rounds)))
}

/** `timeInterleaved` with one target: `queries` on one service, in `profile.readPasses` rounds. */
export async function timePasses (client: HttpClient, queries: readonly Query[], profile: Profile): Promise<QueryFigures[]> {
  return (await timeInterleaved([{ client, queries }], profile))[0]!
}
