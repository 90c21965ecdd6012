import { sql } from 'kysely'
import { compactPartitions } from '../src/services/partitions.js'
import { openDatabase } from '../src/store/database.js'

/** What compacting the closed partitions of a seeded history took (rewind_compact_partition, migration 0013). */
export interface Compaction { partitions: number, versions: number, seconds: number }

/**
 * Compacts the closed partitions of the bench database as `rewind partitions compact --closed`
 * does (the same service call, as the database's owner) and times it: undefined when they hold
 * no version (a history within the first partition's ids).
 */
export async function compactClosedPartitions (databaseUrl: string): Promise<Compaction | undefined> {
  const owner = await openDatabase({ databaseUrl, poolSize: 1 })
  try {
    const t0 = Date.now()
    const done = await compactPartitions(owner)
    const versions = done.reduce((n, d) => n + d.versions, 0)
    const seconds = (Date.now() - t0) / 1000
    // Written out now, so that a checkpoint does not land in the read timings that follow (as after seeding).
    await sql`checkpoint`.execute(owner).catch(() => {})
    if (versions === 0) return undefined // none, or the migration's empty first partition alone: nothing was rewritten
    return { partitions: done.length, versions, seconds }
  } finally {
    await owner.destroy()
  }
}

/** The compaction of a history with no closed partition (timed beside the others all the same). */
export const NOTHING_COMPACTED: Compaction = { partitions: 0, versions: 0, seconds: 0 }
