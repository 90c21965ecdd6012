import { appendTransactions, type Append, type Appended } from '../store/append.js'
import type { Db } from '../store/database.js'
import { MAX_ENTITY_LOCKS } from '../store/locks.js'
import { appendBatches, appendsWaiting } from '../metrics/index.js'

/** How many group commits run at once, by default (each on a connection of its own). */
export const DEFAULT_GROUP_COMMITS = 2

interface Waiting {
  tenant: string
  append: Append
  /** The entities it locks. */
  entities: ReadonlySet<string>
  resolve: (appended: Appended) => void
  reject: (error: unknown) => void
}

/**
 * Group commit: appends that wait while `concurrency` appends are already under way are
 * written together, as soon as one of those ends, in one statement, one round trip and one
 * commit (appendTransactions), and each is answered only once that commit is done. A batch
 * holds appends of one tenant, in the order they came, each one's entities locked by the
 * statement (so every append takes `locking`), at most MAX_ENTITY_LOCKS entities in all (a
 * batch never takes its tenant's writer lock exclusively; a larger append goes alone), no
 * entity twice. An append that arrives while fewer are under way goes at once: nothing
 * waits for a batch to fill. Should a batch's statement fail, each of its appends
 * is tried again on its own, so an append that fails never fails its neighbours; each gets
 * its own answer or its own error.
 */
export class GroupCommit {
  private readonly waiting: Waiting[] = []
  private running = 0

  constructor (private readonly db: Db, private readonly concurrency = DEFAULT_GROUP_COMMITS) {}

  async append (tenant: string, append: Append): Promise<Appended> {
    const entities = new Set(append.locking?.refs)
    return await new Promise<Appended>((resolve, reject) => {
      this.waiting.push({ tenant, append, entities, resolve, reject })
      appendsWaiting.inc()
      this.start()
    })
  }

  private start (): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const batch = this.nextBatch()
      appendsWaiting.dec(batch.length)
      this.running++
      void this.write(batch).finally(() => {
        this.running--
        this.start()
      })
    }
  }

  /**
   * The oldest waiting append and those after it of its tenant that fit beside it and touch
   * none of its entities (two appends planned on one entity's same version must not both
   * pass the check of one statement; the later one waits for the next batch and is refused).
   */
  private nextBatch (): Waiting[] {
    const first = this.waiting.shift()!
    const batch = [first]
    const entities = new Set(first.entities)
    for (let i = 0; i < this.waiting.length && entities.size < MAX_ENTITY_LOCKS;) {
      const next = this.waiting[i]!
      if (next.tenant === first.tenant && entities.size + next.entities.size <= MAX_ENTITY_LOCKS && !overlaps(entities, next.entities)) {
        batch.push(next)
        for (const e of next.entities) entities.add(e)
        this.waiting.splice(i, 1)
      } else {
        i++
      }
    }
    return batch
  }

  /** Appends waiting for a batch (for tests). */
  get waitingCount (): number {
    return this.waiting.length
  }

  private async write (batch: Waiting[]): Promise<void> {
    appendBatches.observe(batch.length)
    try {
      const appended = await appendTransactions(this.db, batch[0]!.tenant, batch.map((w) => w.append))
      batch.forEach((w, i) => { w.resolve(appended[i]!) })
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error)
        return
      }
      await Promise.all(batch.map(async (w) => {
        try {
          w.resolve((await appendTransactions(this.db, w.tenant, [w.append]))[0]!)
        } catch (error) {
          w.reject(error)
        }
      }))
    }
  }
}

const overlaps = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => {
  for (const e of b) if (a.has(e)) return true
  return false
}
