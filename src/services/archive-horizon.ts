import type { Db } from '../store/database.js'
import { archivedBefore } from '../store/partitions.js'
import { gone } from '../versioning/errors.js'

/** How long this process trusts what it read of the archived partitions. */
const TRUSTED_MS = 1000

const known = new WeakMap<Db, { before: number, at: number, reading?: Promise<number> }>()

/**
 * The first transaction id after the archived partitions of versions (0: none archived),
 * as this process last read it (at most a second ago). Archived history is always the
 * oldest (rewind_detach_partition): every version from this id on is in the database.
 */
export async function archiveHorizon (db: Db): Promise<number> {
  const entry = known.get(db)
  if (entry !== undefined && Date.now() - entry.at < TRUSTED_MS) return entry.before
  if (entry?.reading !== undefined) return await entry.reading
  const reading = archivedBefore(db)
  known.set(db, { before: entry?.before ?? 0, at: entry?.at ?? 0, reading })
  try {
    const before = await reading
    known.set(db, { before, at: Date.now() })
    return before
  } catch (error) {
    known.delete(db)
    throw error
  }
}

/**
 * What a read that found nothing means when history is archived: 410 when the version or
 * state it asks for may be in an archived partition (`state`: any state lookup that found
 * nothing at or before `t`), else undefined.
 */
export async function archivedGone (db: Db, what: string, t: number | undefined, state: boolean): Promise<Error | undefined> {
  const before = await archiveHorizon(db)
  if (before === 0 || (!state && t !== undefined && t >= before)) return undefined
  return gone(`${what}: history before transaction ${before} is archived (an operator restores it with rewind partitions restore)`)
}
