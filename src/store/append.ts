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

/** One transaction to append: its row, its sealed versions, their references and the types' revisions. */
export interface Append {
  tx: NewTransaction & { issuedAt: string, recordedAt: string }
  versions: readonly PlannedVersion[]
  sealed: readonly SealedVersion[]
  refs: readonly Reference[]
  revisions: ReadonlyMap<string, number>
  /** Absent: the caller holds the entities' locks and read their latest versions under them. */
  locking?: Locking
}

/** What the database gave an appended transaction: its row and its versions' hashes, in order. */
export interface Appended { transaction: Transaction, hashes: string[] }

/** Appends one transaction (see appendTransactions). */
export async function appendTransaction (
  db: Db, tenant: string, tx: Append['tx'], versions: readonly PlannedVersion[], sealed: readonly SealedVersion[],
  refs: readonly Reference[], revisions: ReadonlyMap<string, number>, locking?: Locking
): Promise<Appended> {
  return (await appendTransactions(db, tenant, [{ tx, versions, sealed, refs, revisions, ...(locking === undefined ? {} : { locking }) }]))[0]!
}

/**
 * Appends transactions of one tenant, their versions and their foreign-key references in
 * one statement (one round trip and one commit, whatever their number; the rows travel as
 * one JSON document each, which costs less to encode than arrays of JSON texts). Several
 * transactions in one statement is group commit (src/services/group-commit.ts): they must
 * touch distinct entities, and they are written or refused together.
 *
 * The locks the appends' `locking` names are taken by the statement itself, all at once in
 * one order, before it writes anything; they are held until its transaction ends. A caller
 * that already holds them (and read the latest versions under them) passes none. The
 * transaction ids are drawn from the sequence after the locks, in the appends' order.
 * Throws ConcurrentAppend (see driver-errors.ts) when an entity has a version newer than
 * the one the write was planned on (rewind_check_heads, with a fresh snapshot once the
 * locks are held: versions are partitioned by transaction id, so no one index can keep an
 * entity's version numbers unique). Each entity's head (`entity_heads`, migration 0011)
 * becomes its new transaction. Each version's hash is the SHA-256 of its sealed template
 * around the transaction id the statement draws (see src/integrity/version-hash.ts). Each
 * version is recorded under its type's revision, checked to be the type's revision still
 * once the locks are held. Answers the appends in their order.
 */
export async function appendTransactions (db: Db, tenant: string, appends: readonly Append[]): Promise<Appended[]> {
  const locking = appends.flatMap((a) => a.locking === undefined ? [] : [a.locking])
  const locks = locking.length === 0 ? sql`select '0' as n` : entityLocksQuery(tenant, locking.flatMap((l) => l.refs))
  // After the locks, with a fresh snapshot: the types' revisions are still those the writes were
  // planned on (else StaleDefinition), and each entity's latest version is the one it was planned on.
  const checks = []
  const revisions = appends.flatMap((a) => [...a.revisions])
  if (revisions.length > 0) checks.push(sql`rewind_check_revisions(${tenant}, ${revisions.map(([type]) => type)}::text[], ${revisions.map(([, r]) => r)}::int[])`)
  const heads = locking.flatMap((l) => l.heads)
  if (heads.length > 0) {
    checks.push(sql`rewind_check_heads(${tenant}, ${heads.map((h) => h.type)}::text[], ${heads.map((h) => h.key)}::text[], ${heads.map((h) => h.after)}::bigint[])`)
  }
  const checked = checks.length === 0 ? sql`select n from locked` : sql`select ${sql.join(checks, sql` + `)} as n from locked`
  // Every write below reads `ids`, whose rows wait for the count of taken locks: the locks
  // come first (in one order), then the sequence, then the rows.
  const { rows } = await sql<TransactionRow & { ord: number, hashes: string }>`
    with locked as (${locks}), checked as (${checked}),
    -- Split once, into one row per version: the statement is planned for any values (src/store/database.ts),
    -- so an expression of them inside the row source would be evaluated again for every version, and a
    -- join must never carry the whole array along with each version's row.
    templates as materialized (
      select p.g::int - 1 as g, p.before, p.after
      from unnest(string_to_array(${templatesText(appends, 'before')}::text, chr(1)), string_to_array(${templatesText(appends, 'after')}::text, chr(1)))
        with ordinality as p(before, after, g)
    ),
    ids as materialized (
      select o.ord, nextval('transactions_id_seq'::regclass) as id
      from checked, (select ord from generate_series(0, ${appends.length}::int - 1) as g(ord) order by ord) as o
    ), tx as (
      insert into transactions (id, tenant, issued_at, recorded_at, actor, meta, recorded_by, revert_of)
      select ids.id, ${tenant}, u.issued_at, u.recorded_at, u.actor, u.meta, u.recorded_by, u.revert_of
      from ids join jsonb_to_recordset(${toJsonText(appends.map(({ tx }, ord) => ({
        ord, issued_at: tx.issuedAt, recorded_at: tx.recordedAt, actor: tx.actor ?? null, meta: tx.meta ?? {},
        recorded_by: tx.recordedBy ?? null, revert_of: tx.revertOf ?? null
      })))}::jsonb) as u(ord int, issued_at timestamptz, recorded_at timestamptz, actor text, meta jsonb, recorded_by jsonb, revert_of jsonb)
        on u.ord = ids.ord
      returning id, issued_at, recorded_at, actor, meta, recorded_by, revert_of
    ), v as (
      insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, erased, hash, revision)
      select ${tenant}, u.type, u.key, ids.id, u.seq, u.position, u.operation, u.data, u.changeset, u.salts, u.erased,
        encode(sha256(convert_to(t.before || ids.id::text || t.after, 'UTF8')), 'hex'),
        u.revision
      from jsonb_to_recordset(${versionsJson(appends)}::jsonb)
        as u(ord int, g int, type text, key text, seq int, position int, operation text, data jsonb, changeset jsonb, salts jsonb, erased jsonb, revision int)
        join ids on ids.ord = u.ord join templates t on t.g = u.g
      returning type, entity_key, transaction_id, position, hash
    ), h as (
      insert into entity_heads (tenant, type, entity_key, first_transaction_id, last_transaction_id)
      select ${tenant}, v.type, v.entity_key, v.transaction_id, v.transaction_id from v
      on conflict (tenant, type, entity_key) do update set last_transaction_id = excluded.last_transaction_id
    ), r as (
      insert into version_refs (tenant, target_type, target_key, source_type, source_field, source_key, transaction_id)
      select ${tenant}, u.tt, u.tk, u.st, u.sf, u.sk, ids.id
      from jsonb_to_recordset(${JSON.stringify(appends.flatMap((a, ord) => a.refs.map((r) => ({
        ord, tt: r.targetType, tk: r.targetKey, st: r.sourceType, sf: r.sourceField, sk: r.sourceKey
      }))))}::jsonb) as u(ord int, tt text, tk text, st text, sf text, sk text)
        join ids on ids.ord = u.ord
      on conflict do nothing
    )
    select ids.ord, tx.*, (select string_agg(v.hash, ',' order by v.position) from v where v.transaction_id = tx.id) as hashes
    from tx join ids on ids.id = tx.id`.execute(db)
  const appended: Appended[] = new Array(appends.length)
  // Hex digests joined by commas: cheaper to take apart than a text[] literal.
  for (const row of rows) appended[row.ord] = { transaction: toTransaction(row), hashes: row.hashes.split(',') }
  return appended
}

/** The appends' versions as one JSON document, each with its transaction's place (ord) and its own (g). */
function versionsJson (appends: readonly Append[]): string {
  const rows = []
  let g = 0
  for (const [ord, a] of appends.entries()) {
    for (const [position, v] of a.versions.entries()) {
      const s = a.sealed[position]!
      rows.push({
        ord, g: g++, type: v.type, key: v.key, seq: v.index, position, operation: v.operation, data: s.data, changeset: s.changeset,
        salts: s.salts, erased: s.erased, revision: a.revisions.get(v.type) ?? null
      })
    }
  }
  return toJsonText(rows)
}

/**
 * One side (before or after the transaction id) of the versions' hash templates as one text,
 * separated by U+0001, which canonical JSON never holds unescaped. Sent that way, the ~1 KB of
 * quoted JSON per version is neither escaped here nor parsed by PostgreSQL as JSON.
 */
const templatesText = (appends: readonly Append[], side: 'before' | 'after'): string =>
  appends.flatMap((a) => a.sealed.map((s) => s.template[side])).join('\u0001')
