import { HOT_SET, HOT_SHARE, POOL_SIZE } from './config.js'
import { xorshift } from './stats.js'

/** One change as POST /transactions takes it. */
export interface Change {
  type: string
  op: 'insert' | 'update'
  id?: string
  data: Record<string, string | number>
}

export const INGEST_TYPE = 'article'
export const BODY = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.'

/** The full state of a newly inserted article (about 300 bytes of JSON). */
export function newArticle (id: number): Record<string, string | number> {
  return { id, title: `Article ${id}`, status: 'draft', views: 0, author_id: id % 97, body: BODY }
}

export const STATUSES = ['draft', 'review', 'published'] as const

/** The mix of a workload: the share of inserts; updates pick from a pool of poolSize, a share hotShare of them from its first hotSet. */
export interface WorkloadShape { insertShare: number, poolSize: number, hotShare: number, hotSet: number }

/** The service bench's workload: half inserts, half updates of a pool of POOL_SIZE with a hot set. */
export const MIXED: WorkloadShape = { insertShare: 0.5, poolSize: POOL_SIZE, hotShare: HOT_SHARE, hotSet: HOT_SET }

/**
 * Builds transactions of `size` changes on distinct entities: half inserts of new
 * articles (ids from a counter, never used before), half updates of articles of the
 * pre-created pool (ids poolFirst..poolFirst + POOL_SIZE - 1), a share of them on a small hot set. Every update
 * changes its fields (a counter), so every change makes one version.
 * `Workload.updates` builds the other shape: updates only, of a pool drawn uniformly.
 */
export class Workload {
  private nextInsertId: number
  /** Update values; starts where the insert ids start, so two workloads never write the same value. */
  private counter: number
  private readonly random: () => number

  /**
   * `inserts`: 'article' inserts parents; 'comment' inserts children whose `article_id`
   * points at a pool article, so each insert also writes a foreign-key reference row.
   */
  constructor (
    firstInsertId: number, seed: number, private readonly inserts: 'article' | 'comment' = 'article', private readonly poolFirst = 1,
    private readonly shape: WorkloadShape = MIXED
  ) {
    this.nextInsertId = firstInsertId
    this.counter = firstInsertId
    this.random = xorshift(seed)
  }

  /**
   * Updates only: each transaction updates `size` distinct articles drawn uniformly from the
   * pool poolFirst..poolFirst + poolSize - 1 (no hot set); update values from `firstValue`.
   */
  static updates (firstValue: number, seed: number, poolFirst: number, poolSize: number): Workload {
    return new Workload(firstValue, seed, 'article', poolFirst, { insertShare: 0, poolSize, hotShare: 0, hotSet: HOT_SET })
  }

  transaction (size: number): Change[] {
    const changes: Change[] = []
    const touched = new Set<number>()
    for (let i = 0; i < size; i++) {
      if (this.random() < this.shape.insertShare) {
        changes.push(this.insert())
        continue
      }
      let id = 0
      for (let attempt = 0; attempt < 50 && (id === 0 || touched.has(id)); attempt++) {
        id = this.poolFirst + Math.floor(this.random() * (this.random() < this.shape.hotShare ? this.shape.hotSet : this.shape.poolSize))
      }
      if (touched.has(id)) { changes.push(this.insert()); continue } // (practically never)
      touched.add(id)
      const n = ++this.counter
      changes.push({ type: INGEST_TYPE, op: 'update', id: String(id), data: { title: `Article ${id} rev ${n}`, views: n, status: STATUSES[n % 3]! } })
    }
    return changes
  }

  private insert (): Change {
    const id = this.nextInsertId++
    if (this.inserts === 'comment') return { type: 'comment', op: 'insert', data: { id, article_id: this.poolFirst + (id % POOL_SIZE), body: BODY } }
    return { type: INGEST_TYPE, op: 'insert', data: newArticle(id) }
  }
}
