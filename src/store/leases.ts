import { sql } from 'kysely'
import type { Db } from './database.js'

/**
 * Takes the lease of a job for `ms` when no other holder has it (or its lease ran out):
 * true when `holder` has it now. One statement, so two instances cannot both win.
 */
export async function takeLease (db: Db, job: string, holder: string, ms: number): Promise<boolean> {
  const { rows } = await sql<{ holder: string }>`
    insert into job_leases (job, holder, expires_at) values (${job}, ${holder}, now() + ${ms} * interval '1 millisecond')
    on conflict (job) do update set holder = excluded.holder, expires_at = excluded.expires_at
      where job_leases.holder = excluded.holder or job_leases.expires_at <= now()
    returning holder`.execute(db)
  return rows[0]?.holder === holder
}

/** Ends a lease early (the job is done): free from this instant on (PGlite's clock counts milliseconds, so a take in the same one must see it run out). */
export async function releaseLease (db: Db, job: string, holder: string): Promise<void> {
  await sql`update job_leases set expires_at = now() where job = ${job} and holder = ${holder}`.execute(db)
}
