import { sql } from 'kysely'
import type { Anchor } from '../integrity/verify.js'
import type { Db } from './database.js'
import type { EntityName } from './versions.js'
import { toId } from './rows.js'

/** Where a pruned entity's kept history starts (undefined for an entity never pruned). */
export async function anchorOf (db: Db, tenant: string, entity: EntityName): Promise<Anchor | undefined> {
  const { rows } = await sql<{ seq: number, transaction_id: string, hash: string }>`select seq, transaction_id, hash from entity_anchors
    where tenant = ${tenant} and type = ${entity.type} and entity_key = ${entity.key}`.execute(db)
  const row = rows[0]
  return row === undefined ? undefined : { index: row.seq, transactionId: toId(row.transaction_id), hash: row.hash }
}

/** Anchors of pruned entities, in entity order, after a position, at most `limit`. */
export async function listAnchors (db: Db, tenant: string, after: { type: string, id: string } | undefined, limit: number): Promise<Array<Anchor & { type: string, id: string }>> {
  const { rows } = await sql<{ type: string, entity_key: string, seq: number, transaction_id: string, hash: string }>`
    select type, entity_key, seq, transaction_id, hash from entity_anchors where tenant = ${tenant}
      ${after === undefined ? sql`` : sql`and (type, entity_key) > (${after.type}, ${after.id})`}
    order by type, entity_key limit ${limit}`.execute(db)
  return rows.map((r) => ({ type: r.type, id: r.entity_key, index: r.seq, transactionId: toId(r.transaction_id), hash: r.hash }))
}
