import { pingDatabase, type Db } from '../store/database.js'
import { firstMissingTransaction } from '../store/transactions.js'
import { readsServed } from '../metrics/index.js'

export type ReadSource = 'replica' | 'primary'

export interface ReadReplicaOptions {
  /** How often the replica is pinged; a replica that does not answer is left alone until it does (ms). */
  checkEveryMs?: number | undefined
  log?: { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void }
}

/**
 * A read replica (a PostgreSQL hot standby of the primary, DATABASE_READ_URL) that history
 * reads are answered from. A replica replays the primary's commits in their order, so once it
 * shows a transaction it shows everything committed before it: a reader that passes the id of
 * the transaction it wrote (the minimum-transaction hint) gets its own writes, from the
 * replica when it has replayed that transaction, else from the primary. A replica that stops
 * answering its ping is not read from until it answers again.
 */
export class ReadReplica {
  private reachable = true
  private readonly timer: NodeJS.Timeout
  private checking: Promise<void> | undefined

  constructor (readonly replica: Db, private readonly options: ReadReplicaOptions = {}) {
    this.timer = setInterval(() => { this.checking ??= this.check().finally(() => { this.checking = undefined }) }, options.checkEveryMs ?? 1000)
    this.timer.unref()
    for (const source of ['replica', 'primary'] as const) readsServed.inc({ source }, 0)
  }

  private async check (): Promise<void> {
    const was = this.reachable
    try {
      await pingDatabase(this.replica)
      this.reachable = true
    } catch (err) {
      this.reachable = false
      if (was) this.options.log?.warn({ err }, 'the read replica does not answer: reads go to the primary until it does')
      return
    }
    if (!was) this.options.log?.info({}, 'the read replica answers again: reads go to it')
  }

  /**
   * Where a tenant's read is answered from: the replica, unless it is unreachable or has not
   * yet replayed `minTransaction` (the caller's own write; a transaction of another tenant, or
   * none at all, is never found there, and the primary answers).
   */
  async sourceFor (tenant: string, minTransaction?: number): Promise<ReadSource> {
    let source: ReadSource = 'primary'
    if (this.reachable) {
      try {
        source = minTransaction === undefined || await firstMissingTransaction(this.replica, tenant, [minTransaction]) === undefined ? 'replica' : 'primary'
      } catch {
        this.reachable = false
      }
    }
    readsServed.inc({ source })
    return source
  }

  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.checking
    await this.replica.destroy()
  }
}
