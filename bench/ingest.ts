import autocannon from 'autocannon'
import type pg from 'pg'
import { AUTHORIZATION, CONNECTIONS, POOL_SIZE } from './config.js'
import { countRows } from './db.js'
import type { HttpClient } from './service.js'
import { percentile } from './stats.js'
import { INGEST_TYPE, newArticle, type Workload } from './workload.js'
import { postWithWrk, wrkAvailable } from './wrk.js'

/** Throughput and latency of one load run (service or ceiling). */
export interface LoadFigures {
  label: string
  changesPerTransaction: number
  seconds: number
  transactions: number
  versions: number
  transactionsPerSecond: number
  versionsPerSecond: number
  latencyP50Ms: number
  latencyP99Ms: number
  /** Answers other than 201 (the service) or transactions rolled back (the ceiling): must be 0. */
  non2xx: number
  errors: number
}

/** The figures of a run of closed-loop clients, from its counts and per-transaction latencies (ms). */
export function loadFigures (
  label: string, changesPerTransaction: number, startedAt: number,
  counts: { transactions: number, versions: number, non2xx: number, errors: number }, latencies: number[]
): LoadFigures {
  const elapsed = (performance.now() - startedAt) / 1000
  latencies.sort((a, b) => a - b)
  return {
    label,
    changesPerTransaction,
    seconds: elapsed,
    transactions: counts.transactions,
    versions: counts.versions,
    transactionsPerSecond: counts.transactions / elapsed,
    versionsPerSecond: counts.versions / elapsed,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    non2xx: counts.non2xx,
    errors: counts.errors
  }
}

/** Registers the benchmark's types: article (comments oneToMany, tags manyToMany), comment, tag. */
export async function registerTypes (client: HttpClient): Promise<void> {
  const types: Array<[string, unknown]> = [
    ['comment', {}],
    ['tag', {}],
    [INGEST_TYPE, {
      relations: {
        comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' },
        tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
      }
    }]
  ]
  for (const [type, body] of types) {
    const reply = await client.request('PUT', `/entity-types/${type}`, body)
    if (reply.status !== 201 && reply.status !== 200) throw new Error(`PUT /entity-types/${type}: ${reply.status} ${JSON.stringify(reply.body)}`)
  }
}

/** Creates the articles poolFirst..poolFirst + size - 1 (POOL_SIZE unless given) that a workload's updates pick from (through the service). */
export async function createPool (client: HttpClient, poolFirst: number, size = POOL_SIZE): Promise<void> {
  const batch = 1000
  const end = poolFirst + size
  for (let first = poolFirst; first < end; first += batch) {
    const changes = []
    for (let id = first; id < first + batch && id < end; id++) changes.push({ type: INGEST_TYPE, op: 'insert', data: newArticle(id) })
    const reply = await client.request('POST', '/transactions', { actor: 'bench-pool', changes })
    if (reply.status !== 201) throw new Error(`creating the entity pool: ${reply.status} ${JSON.stringify(reply.body)}`)
  }
}

/** What drives the service in the benches: wrk (a C client, like pgbench) when installed, else autocannon (in this process). */
export type LoadGenerator = 'wrk' | 'autocannon'

export const defaultLoadGenerator = (): LoadGenerator => wrkAvailable() ? 'wrk' : 'autocannon'

interface PostedRun { seconds: number, created: number, non2xx: number, errors: number, latencyP50Ms: number, latencyP99Ms: number }

async function postWithAutocannon (url: string, seconds: number, connections: number, nextBody: () => string): Promise<PostedRun> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({
      url,
      connections,
      duration: seconds,
      maxOverallRequests: seconds * 20_000, // a bound besides the clock, far above what the service can answer
      timeout: 30,
      requests: [{
        method: 'POST',
        path: '/transactions',
        headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
        setupRequest: (request) => ({ ...request, body: nextBody() })
      }]
    }, (error, res) => { error === null ? resolve(res) : reject(error) })
  })
  const created = Number(result.statusCodeStats['201']?.count ?? 0)
  return {
    seconds: result.duration,
    created,
    // Every answer must be 201 Created: a 200 (nothing recorded) would be a workload bug.
    non2xx: result.non2xx + (result['2xx'] - created),
    errors: result.errors + result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99
  }
}

async function postWith (
  generator: LoadGenerator, url: string, seconds: number, changesPerTransaction: number, connections: number, nextBody: () => string
): Promise<PostedRun> {
  if (generator === 'autocannon') return await postWithAutocannon(url, seconds, connections, nextBody)
  // Bodies for 30,000 versions/s, above the pgbench ceiling on this machine.
  const r = await postWithWrk(url, '/transactions', AUTHORIZATION, seconds, Math.ceil(30_000 / changesPerTransaction), nextBody, connections)
  return { seconds: r.seconds, created: r.created, non2xx: r.other, errors: r.errors + r.timeouts, latencyP50Ms: r.latencyP50Ms, latencyP99Ms: r.latencyP99Ms }
}

/**
 * POSTs /transactions for `seconds` on `connections` keep-alive connections, each body a fresh
 * transaction of `changesPerTransaction` changes from the workload, driven by `generator`.
 */
export async function ingestThroughService (
  url: string, pool: pg.Pool, workload: Workload, changesPerTransaction: number, seconds: number, label: string,
  generator: LoadGenerator = defaultLoadGenerator(), connections = CONNECTIONS
): Promise<LoadFigures> {
  const before = await countRows(pool, 'versions')
  const run = await postWith(generator, url, seconds, changesPerTransaction, connections,
    () => JSON.stringify({ actor: 'bench', meta: { via: generator }, changes: workload.transaction(changesPerTransaction) }))
  const stored = await countRows(pool, 'versions') - before
  const versions = run.created * changesPerTransaction
  if (stored < versions) throw new Error(`${label}: ${versions} versions answered but only ${stored} stored`)
  return {
    label,
    changesPerTransaction,
    seconds: run.seconds,
    transactions: run.created,
    versions,
    transactionsPerSecond: run.created / run.seconds,
    versionsPerSecond: versions / run.seconds,
    latencyP50Ms: run.latencyP50Ms,
    latencyP99Ms: run.latencyP99Ms,
    non2xx: run.non2xx,
    errors: run.errors
  }
}
