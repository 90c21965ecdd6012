import { sql } from 'kysely'
import { toJsonText } from '../versioning/json.js'
import type { SealedVersion } from '../integrity/seal.js'
import type { PlannedVersion } from '../versioning/unit-of-work.js'
import type { Db } from './database.js'
import { entityLocksQuery } from './locks.js'
import type { Reference } from './references.js'
import { toTransaction, type Transaction, type TransactionRow } from './rows.js'
import type { NewTransaction } from './transactions.js'

/** An entity's latest version as the write was planned on it: its transaction id, or null for none. */
export interface PlannedHead { type: string, key: string, after: number | null }

/**
 * What an append planned without holding the locks takes: the locks of `refs` (see
 * entityLocksQuery), then the check that `heads` are still each entity's latest version.
 */
export interface Locking { refs: readonly string[], heads: readonly PlannedHead[] }

/**
 * Appends a transaction, its versions and their foreign-key references in one
 * statement (one round trip, whatever the number of versions; the rows travel as one
 * JSON document each, which costs less to encode than arrays of JSON texts).
 *
 * The locks `locking` names are taken by the statement itself before it writes anything;
 * they are held until its transaction ends. A caller that already holds them (and read the
 * latest versions under them) passes none. The transaction id is drawn from the sequence
 * after the locks. Throws ConcurrentAppend (see driver-errors.ts) when an entity has a
 * version newer than the one the write was planned on (rewind_check_heads, with a fresh
 * snapshot once the locks are held: versions are partitioned by transaction id, so no one
 * index can keep an entity's version numbers unique). Each entity's head (`entity_heads`,
 * migration 0011) becomes the new transaction. Each version's hash is the SHA-256 of its sealed template around the
 * transaction id the statement draws (see src/integrity/version-hash.ts); the statement
 * answers them in the versions' order. Each version is recorded under its type's revision
 * in `revisions`, checked to be the type's revision still once the locks are held.
 */
export async function appendTransaction (
  db: Db, tenant: string, tx: NewTransaction & { issuedAt: string, recordedAt: string },
  versions: readonly PlannedVersion[], sealed: readonly SealedVersion[], refs: readonly Reference[],
  revisions: ReadonlyMap<string, number>, locking?: Locking
): Promise<{ transaction: Transaction, hashes: string[] }> {
  const locks = locking === undefined ? sql`select '0' as n` : entityLocksQuery(tenant, locking.refs)
  // After the locks, with a fresh snapshot: the types' revisions are still those the write was
  // planned on (else StaleDefinition), and each entity's latest version is the one it was planned on.
  const checks = []
  if (revisions.size > 0) checks.push(sql`rewind_check_revisions(${tenant}, ${[...revisions.keys()]}::text[], ${[...revisions.values()]}::int[])`)
  if (locking !== undefined && locking.heads.length > 0) {
    const { heads } = locking
    checks.push(sql`rewind_check_heads(${tenant}, ${heads.map((h) => h.type)}::text[], ${heads.map((h) => h.key)}::text[], ${heads.map((h) => h.after)}::bigint[])`)
  }
  const checked = checks.length === 0 ? sql`select n from locked` : sql`select ${sql.join(checks, sql` + `)} as n from locked`
  // Every write below reads `tx`, whose row waits for the count of taken locks: the
  // locks come first (in the given order), then the sequence, then the rows.
  const { rows } = await sql<TransactionRow & { hashes: string[] }>`
    with locked as (${locks}), checked as (${checked}),
    -- Split once: the statement is planned for any values (src/store/database.ts), so an expression of
    -- them inside the row source would be evaluated again for every version.
    templates as materialized (select string_to_array(${templatesText(sealed)}::text, chr(1)) as parts), tx as (
      insert into transactions (tenant, issued_at, recorded_at, actor, meta, recorded_by, revert_of)
      select ${tenant}, ${tx.issuedAt}::timestamptz, ${tx.recordedAt}::timestamptz, ${tx.actor ?? null},
        ${toJsonText(tx.meta ?? {})}::jsonb, ${tx.recordedBy === undefined ? null : JSON.stringify(tx.recordedBy)}::jsonb,
        ${tx.revertOf === undefined ? null : toJsonText(tx.revertOf)}::jsonb
      from checked
      returning id, issued_at, recorded_at, actor, meta, recorded_by, revert_of
    ), v as (
      insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, erased, hash, revision)
      select ${tenant}, u.type, u.key, tx.id, u.seq, u.position, u.operation, u.data, u.changeset, u.salts, u.erased,
        encode(sha256(convert_to(t.parts[2 * u.position + 1] || tx.id::text || t.parts[2 * u.position + 2], 'UTF8')), 'hex'),
        u.revision
      from tx, templates t,
        jsonb_to_recordset(${toJsonText(versions.map((v, position) => {
        const s = sealed[position]!
        return { type: v.type, key: v.key, seq: v.index, position, operation: v.operation, data: s.data, changeset: s.changeset, salts: s.salts, erased: s.erased, revision: revisions.get(v.type) ?? null }
      }))}::jsonb) as u(type text, key text, seq int, position int, operation text, data jsonb, changeset jsonb, salts jsonb, erased jsonb, revision int)
      returning type, entity_key, position, hash
    ), h as (
      insert into entity_heads (tenant, type, entity_key, first_transaction_id, last_transaction_id)
      select ${tenant}, v.type, v.entity_key, tx.id, tx.id from v, tx
      on conflict (tenant, type, entity_key) do update set last_transaction_id = excluded.last_transaction_id
    ), r as (
      insert into version_refs (tenant, target_type, target_key, source_type, source_field, source_key, transaction_id)
      select ${tenant}, u.tt, u.tk, u.st, u.sf, u.sk, tx.id
      from tx, jsonb_to_recordset(${JSON.stringify(refs.map((r) => ({
        tt: r.targetType, tk: r.targetKey, st: r.sourceType, sf: r.sourceField, sk: r.sourceKey
      })))}::jsonb) as u(tt text, tk text, st text, sf text, sk text)
      on conflict do nothing
    )
    select tx.*, (select array_agg(hash order by position) from v) as hashes from tx`.execute(db)
  return { transaction: toTransaction(rows[0]!), hashes: rows[0]!.hashes }
}

/**
 * The versions' hash templates as one text: before and after of each in turn, separated by
 * U+0001, which canonical JSON never holds unescaped. Sent that way, the ~1 KB of quoted
 * JSON per version is neither escaped here nor parsed by PostgreSQL as JSON.
 */
const templatesText = (sealed: readonly SealedVersion[]): string =>
  sealed.map((s) => `${s.template.before}\u0001${s.template.after}`).join('\u0001')
