import type { Db } from '../store/database.js'
import { releaseLease, takeLease } from '../store/leases.js'

/** Takes or renews a background job's lease (one instance runs it at a time). */
export const takeJobLease = async (db: Db, job: string, holder: string, ms: number): Promise<boolean> => await takeLease(db, job, holder, ms)
export const releaseJobLease = async (db: Db, job: string, holder: string): Promise<void> => { await releaseLease(db, job, holder) }
