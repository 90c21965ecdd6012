import autocannon from 'autocannon'
import type pg from 'pg'
import { AUTHORIZATION, CONNECTIONS, POOL_SIZE } from './config.js'
import { countRows } from './db.js'
import type { HttpClient } from './service.js'
import { percentile } from './stats.js'
import { INGEST_TYPE, newArticle, type Workload } from './workload.js'

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

/**
 * POSTs /transactions for `seconds` on CONNECTIONS connections, each body a fresh
 * transaction of `changesPerTransaction` changes from the workload.
 */
export async function ingestThroughService (
  url: string, pool: pg.Pool, workload: Workload, changesPerTransaction: number, seconds: number, label: string
): Promise<LoadFigures> {
  const before = await countRows(pool, 'versions')
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({
      url,
      connections: CONNECTIONS,
      duration: seconds,
      maxOverallRequests: seconds * 20_000, // a bound besides the clock, far above what the service can answer
      timeout: 30,
      requests: [{
        method: 'POST',
        path: '/transactions',
        headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ actor: 'bench', meta: { via: 'autocannon' }, changes: workload.transaction(changesPerTransaction) })
        })
      }]
    }, (error, res) => { error === null ? resolve(res) : reject(error) })
  })
  const created = result.statusCodeStats['201']?.count ?? 0
  const stored = await countRows(pool, 'versions') - before
  const versions = Number(created) * changesPerTransaction
  if (stored < versions) throw new Error(`${label}: ${versions} versions answered but only ${stored} stored`)
  return {
    label,
    changesPerTransaction,
    seconds: result.duration,
    transactions: Number(created),
    versions,
    transactionsPerSecond: Number(created) / result.duration,
    versionsPerSecond: versions / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    // Every answer must be 201 Created: a 200 (nothing recorded) would be a workload bug.
    non2xx: result.non2xx + (result['2xx'] - Number(created)),
    errors: result.errors + result.timeouts
  }
}
