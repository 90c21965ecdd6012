import { sql } from 'kysely'
import type { PlannedVersion } from '../versioning/unit-of-work.js'
import type { Db } from './database.js'
import type { Reference } from './references.js'
import { toTransaction, type Transaction, type TransactionRow } from './rows.js'
import type { NewTransaction } from './transactions.js'

/**
 * Appends a transaction, its versions and their foreign-key references in one
 * statement (one round trip, whatever the number of versions). The transaction id is
 * drawn from the sequence here, after the caller took the entity locks.
 */
export async function appendTransaction (
  trx: Db, tenant: string, tx: NewTransaction, versions: readonly PlannedVersion[], refs: readonly Reference[]
): Promise<Transaction> {
  const { rows } = await sql<TransactionRow>`
    with tx as (
      insert into transactions (tenant, issued_at, actor, meta, revert_of)
      values (${tenant}, coalesce(${tx.issuedAt ?? null}::timestamptz, now()), ${tx.actor ?? null},
        ${JSON.stringify(tx.meta ?? {})}::jsonb, ${tx.revertOf === undefined ? null : JSON.stringify(tx.revertOf)}::jsonb)
      returning id, issued_at, recorded_at, actor, meta, revert_of
    ), v as (
      insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset)
      select ${tenant}, u.type, u.key, tx.id, u.seq, u.position, u.operation, u.data, u.changeset
      from tx, unnest(${versions.map((v) => v.type)}::text[], ${versions.map((v) => v.key)}::text[],
        ${versions.map((v) => v.index)}::int[], ${versions.map((_, i) => i)}::int[], ${versions.map((v) => v.operation)}::text[],
        ${versions.map((v) => JSON.stringify(v.data))}::jsonb[], ${versions.map((v) => JSON.stringify(v.changeset))}::jsonb[])
        as u(type, key, seq, position, operation, data, changeset)
    ), r as (
      insert into version_refs (tenant, target_type, target_key, source_type, source_field, source_key, transaction_id)
      select ${tenant}, u.tt, u.tk, u.st, u.sf, u.sk, tx.id
      from tx, unnest(${refs.map((r) => r.targetType)}::text[], ${refs.map((r) => r.targetKey)}::text[],
        ${refs.map((r) => r.sourceType)}::text[], ${refs.map((r) => r.sourceField)}::text[], ${refs.map((r) => r.sourceKey)}::text[])
        as u(tt, tk, st, sf, sk)
      on conflict do nothing
    )
    select * from tx`.execute(trx)
  return toTransaction(rows[0]!)
}
