import { type Kysely, sql } from 'kysely'
import { GENESIS_HASH } from '../integrity/canonical.js'
import { sealVersion } from '../integrity/seal.js'
import { templateHash } from '../integrity/version-hash.js'
import type { Changeset } from '../versioning/changeset.js'
import type { JsonObject } from '../versioning/json.js'
import { toTransaction, type TransactionRow } from './rows.js'

const PAGE = 1000

/**
 * Gives the versions recorded before integrity existed their salts and chained hashes
 * (run once, by the migration that adds them, before history becomes append-only).
 */
export async function backfillHashes (db: Kysely<any>): Promise<void> {
  let after: { tenant: string, type: string, key: string, seq: number } | undefined
  let previous = GENESIS_HASH
  let entity = ''
  for (;;) {
    const where = after === undefined ? sql`true` : sql`(v.tenant, v.type, v.entity_key, v.seq) > (${after.tenant}, ${after.type}, ${after.key}, ${after.seq})`
    const { rows } = await sql<TransactionRow & { tenant: string, type: string, entity_key: string, seq: number, operation: 'insert', data: JsonObject, changeset: Changeset, transaction_id: string }>`
      select v.tenant, v.type, v.entity_key, v.seq, v.operation, v.data, v.changeset, v.transaction_id,
        t.id, t.issued_at, t.recorded_at, t.actor, t.meta, t.recorded_by, t.revert_of
      from versions v join transactions t on t.id = v.transaction_id
      where ${where} order by v.tenant, v.type, v.entity_key, v.seq limit ${PAGE}`.execute(db)
    for (const row of rows) {
      const name = `${row.tenant}\u0000${row.type}\u0000${row.entity_key}`
      if (name !== entity) { entity = name; previous = GENESIS_HASH }
      const tx = toTransaction(row)
      const sealed = sealVersion(
        { tenant: row.tenant, type: row.type, id: row.entity_key, index: row.seq, operation: row.operation },
        { issuedAt: tx.issuedAt, recordedAt: tx.recordedAt, actor: tx.actor, meta: tx.meta, recordedBy: (tx.recordedBy ?? null) as JsonObject | null, revertOf: tx.revertOf ?? null },
        row.data, row.changeset, previous)
      previous = templateHash(sealed.template, tx.id)
      await sql`update versions set salts = ${JSON.stringify(sealed.salts)}::jsonb, hash = ${previous}
        where tenant = ${row.tenant} and type = ${row.type} and entity_key = ${row.entity_key} and seq = ${row.seq}`.execute(db)
    }
    if (rows.length < PAGE) return
    const last = rows[rows.length - 1]!
    after = { tenant: last.tenant, type: last.type, key: last.entity_key, seq: last.seq }
  }
}
