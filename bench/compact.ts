import type pg from 'pg'

/** What compacting the closed partitions of a seeded history took (rewind_compact_partition, migration 0013). */
export interface Compaction { partitions: number, versions: number, seconds: number }

/**
 * Compacts, oldest first, each attached partition whose ids have all been drawn and that is
 * not compacted yet, as `rewind partitions compact --closed` does: undefined when they hold no
 * version (a history within the first partition's ids). Times the whole of it.
 */
export async function compactClosedPartitions (pool: pg.Pool): Promise<Compaction | undefined> {
  const { rows } = await pool.query<{ name: string }>(`
    select name from version_partitions
    where state = 'attached' and compacted_at is null
      and to_id <= (select case when is_called then last_value + 1 else last_value end from transactions_id_seq)
    order by from_id`)
  if (rows.length === 0) return undefined
  const t0 = Date.now()
  let versions = 0
  for (const { name } of rows) {
    const { rows: done } = await pool.query<{ n: string }>('select rewind_compact_partition($1) as n', [name])
    versions += Number(done[0]!.n)
    await pool.query(`vacuum (freeze) "${name}"`) // as src/store/partitions.ts does after the function
  }
  await pool.query('checkpoint').catch(() => {})
  if (versions === 0) return undefined // the migration's empty first partition alone: nothing was rewritten
  return { partitions: rows.length, versions, seconds: (Date.now() - t0) / 1000 }
}
