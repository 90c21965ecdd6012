import { randomUUID } from 'node:crypto'
import { notFound } from '../versioning/errors.js'
import { entityRef } from '../versioning/keys.js'
import { inTransaction, type Db } from '../store/database.js'
import { anchorOf } from '../store/anchors.js'
import { appendRecord } from '../store/integrity-records.js'
import { lockEntities } from '../store/locks.js'
import { deleteHold, insertHold, isHeld, listHolds, pruneCandidates, pruneEntity, type LegalHold } from '../store/retention.js'
import { makeCheckpoint } from './checkpoints.js'
import type { ServiceContext } from './context.js'
import { definitionsWith } from './history.js'
import { readPage, type Page } from './page.js'

/** What one retention run pruned. */
export interface PruneReport {
  /** Versions removed in all. */
  versions: number
  /** Each entity pruned (the first 1,000), with how many versions went and the index its history now starts at. */
  entities: Array<{ type: string, id: string, versions: number, keptFromIndex: number }>
  truncated: boolean
}

const BATCH = 500
const LISTED = 1000

/**
 * Prunes the versions the tenant's retention rules let go, type by type, skipping held
 * types and entities: each entity in its own short transaction (its lock held, so no
 * writer appends meanwhile), through the audited function, with a record of what went.
 * A checkpoint follows, so the next verification finds the pruning covered.
 */
export async function runRetention (ctx: ServiceContext, now = new Date()): Promise<PruneReport> {
  const { db, tenant } = ctx
  const report: PruneReport = { versions: 0, entities: [], truncated: false }
  const definitions = await ctx.definitions.get(db)
  for (const [type, definition] of definitions) {
    if (definition.retention === undefined) continue
    for (;;) {
      const candidates = await pruneCandidates(db, tenant, type, definition.retention, now, BATCH)
      let pruned = 0
      for (const candidate of candidates) {
        const removed = await pruneOne(db, tenant, type, candidate.key, candidate.keepFrom)
        if (removed === 0) continue
        pruned++
        report.versions += removed
        if (report.entities.length < LISTED) report.entities.push({ type, id: candidate.key, versions: removed, keptFromIndex: candidate.keepFrom })
        else report.truncated = true
      }
      if (candidates.length < BATCH || pruned === 0) break
    }
  }
  if (report.versions > 0) await makeCheckpoint(db, tenant, ctx.signer, true)
  return report
}

async function pruneOne (db: Db, tenant: string, type: string, key: string, keepFrom: number): Promise<number> {
  return await inTransaction(db, async (trx) => {
    await lockEntities(trx, tenant, [entityRef(type, key)])
    if (await isHeld(trx, tenant, type, key)) return 0 // a hold placed since the candidates were read
    const removed = await pruneEntity(trx, tenant, type, key, keepFrom)
    if (removed === 0) return 0
    // The record names where the chain now restarts: verification holds each anchor to it.
    const anchor = (await anchorOf(trx, tenant, { type, key }))!
    await appendRecord(trx, tenant, 'pruning', {
      type, id: key, keptFromIndex: keepFrom, versions: removed, anchorHash: anchor.hash, anchorTransactionId: anchor.transactionId
    })
    return removed
  })
}

export async function placeHold (ctx: ServiceContext, type: string, key: string | undefined, reason: string | undefined): Promise<LegalHold> {
  await definitionsWith(ctx, type)
  return await insertHold(ctx.db, ctx.tenant, { id: `hold_${randomUUID().replaceAll('-', '')}`, type, entityId: key ?? null, reason: reason ?? null })
}

export async function releaseHold (ctx: ServiceContext, id: string): Promise<void> {
  if (!await deleteHold(ctx.db, ctx.tenant, id)) throw notFound(`legal hold "${id}" does not exist`)
}

export async function holds (ctx: ServiceContext, after: string | undefined, limit: number): Promise<Page<LegalHold>> {
  return await readPage(limit, async (count) => await listHolds(ctx.db, ctx.tenant, after, count))
}
