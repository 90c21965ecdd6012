import { sql, type RawBuilder } from 'kysely'
import type { Db } from './database.js'

/*
 * Scans that page through a whole history (verification, checkpoint roots) walk a unique
 * index in order and look related rows up by key: whatever the planner's statistics say,
 * that is the plan. (A table filled since it was last analyzed looks small; a sort of
 * everything after the cursor then looks cheap, which makes a scan of the whole history
 * quadratic.) The settings hold for one database transaction: the query's own, or the
 * caller's when it runs inside one.
 */
const SETTINGS = ['enable_sort', 'enable_bitmapscan', 'enable_hashjoin', 'enable_mergejoin', 'enable_material'] as const

// JIT off too: the disabled plan types weigh in the plan's cost, which would otherwise cross jit_above_cost.
const OFF: RawBuilder<unknown> = sql`select ${sql.join([...SETTINGS, 'jit'].map((s) => sql`set_config(${s}, 'off', true)`))}`

/** Runs a paging query with the planner held to index order (see above). */
export async function inIndexOrder<R> (db: Db, query: RawBuilder<R>): Promise<R[]> {
  if (!db.isTransaction) {
    return await db.transaction().execute(async (trx) => {
      await OFF.execute(trx)
      return (await query.execute(trx)).rows
    })
  }
  // Inside the caller's transaction, they hold until it ends (its other statements are
  // lookups by key, which these settings do not change).
  await OFF.execute(db)
  return (await query.execute(db)).rows
}
