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
const BODY = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.'

/** The full state of a newly inserted article (about 300 bytes of JSON). */
export function newArticle (id: number): Record<string, string | number> {
  return { id, title: `Article ${id}`, status: 'draft', views: 0, author_id: id % 97, body: BODY }
}

const STATUSES = ['draft', 'review', 'published'] as const

/**
 * Builds transactions of `size` changes on distinct entities: half inserts of new
 * articles (ids from a counter, never used before), half updates of articles of the
 * pre-created pool (ids poolFirst..poolFirst + POOL_SIZE - 1), a share of them on a small hot set. Every update
 * changes its fields (a counter), so every change makes one version.
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
  constructor (firstInsertId: number, seed: number, private readonly inserts: 'article' | 'comment' = 'article', private readonly poolFirst = 1) {
    this.nextInsertId = firstInsertId
    this.counter = firstInsertId
    this.random = xorshift(seed)
  }

  transaction (size: number): Change[] {
    const changes: Change[] = []
    const touched = new Set<number>()
    for (let i = 0; i < size; i++) {
      if (this.random() < 0.5) {
        changes.push(this.insert())
        continue
      }
      let id = 0
      for (let attempt = 0; attempt < 50 && (id === 0 || touched.has(id)); attempt++) {
        id = this.poolFirst + Math.floor(this.random() * (this.random() < HOT_SHARE ? HOT_SET : POOL_SIZE))
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
