import { signCheckpoint, checkpointDigest, type Checkpoint } from '../integrity/checkpoint.js'
import { MerkleRoot, leafHash } from '../integrity/merkle.js'
import { NO_RECORDS } from '../integrity/records.js'
import { inTransaction, type Db, type Trx } from '../store/database.js'
import {
  countVersions, headsAt, lastCheckpoint, listCheckpoints, insertCheckpoint, newestTransactionId, storeChangedHeads
} from '../store/checkpoints.js'
import type { Head } from '../integrity/verify.js'
import { lastRecord } from '../store/integrity-records.js'
import { lockNames, lockTenantWriters, tryLockName } from '../store/locks.js'
import type { ServiceContext } from './context.js'
import { readPage, type Page } from './page.js'
import type { Signer } from './signing-key.js'

const MAKER_LOCK = '\u0000checkpoint-maker'
const HEADS_PAGE = 5000

/**
 * The highest transaction id of the tenant such that every transaction up to it has
 * committed: every writer holds its tenant's writer lock (shared) from before it draws an
 * id until it commits, so once the lock is had exclusively, all ids drawn have committed,
 * and any later writer draws a higher one. Held for one short statement.
 */
export async function committedUpTo (db: Db, tenant: string): Promise<number> {
  return await inTransaction(db, async (trx) => {
    await lockTenantWriters(trx, tenant)
    return await newestTransactionId(trx, tenant)
  })
}

/** Streams the heads of checkpoint `sequence` in leaf order (the next page read while this one is used). */
export async function * heads (db: Db, tenant: string, sequence: number): AsyncGenerator<Head> {
  let pending = headsAt(db, tenant, sequence, undefined, HEADS_PAGE)
  for (;;) {
    const page = await pending
    const last = page[page.length - 1]
    if (page.length === HEADS_PAGE && last !== undefined) {
      pending = headsAt(db, tenant, sequence, { type: last.type, id: last.id }, HEADS_PAGE)
      pending.catch(() => {}) // seen by the next await; never unhandled should the reader stop first
    }
    yield * page
    if (page.length < HEADS_PAGE) return
  }
}

/** The Merkle root over the heads of checkpoint `sequence`, in constant memory. */
export async function rootAt (db: Db, tenant: string, sequence: number): Promise<string> {
  const tree = new MerkleRoot()
  for await (const head of heads(db, tenant, sequence)) tree.push(leafHash(head))
  return tree.root().toString('hex')
}

/**
 * Makes and signs the tenant's next checkpoint, unless nothing was recorded since the last
 * one (and `force` is not set) or another instance is making one (then answers undefined).
 */
export async function makeCheckpoint (db: Db, tenant: string, signer: Signer, force = false): Promise<Checkpoint | undefined> {
  const upTo = await committedUpTo(db, tenant)
  return await inTransaction(db, async (trx: Trx) => {
    if (force) await lockNames(trx, tenant, [MAKER_LOCK])
    else if (!await tryLockName(trx, tenant, MAKER_LOCK)) return undefined
    const last = await lastCheckpoint(trx, tenant)
    const record = await lastRecord(trx, tenant)
    const recordsSequence = record?.sequence ?? 0
    const from = last?.checkpoint.upToTransactionId ?? 0
    if (!force && last !== undefined && from >= upTo && last.recordsSequence === recordsSequence) return undefined
    if (!force && last === undefined && upTo === 0 && recordsSequence === 0) return undefined
    const sequence = (last?.checkpoint.sequence ?? 0) + 1
    const upToTransactionId = Math.max(upTo, from)
    await storeChangedHeads(trx, tenant, sequence, from, upToTransactionId)
    const checkpoint = signCheckpoint({
      tenant,
      sequence,
      createdAt: new Date().toISOString(),
      upToTransactionId,
      versions: await countVersions(trx, tenant, upToTransactionId),
      root: await rootAt(trx, tenant, sequence),
      records: record?.chainHash ?? NO_RECORDS,
      previous: last === undefined ? null : checkpointDigest(last.checkpoint)
    }, signer.privateKey)
    await insertCheckpoint(trx, checkpoint, recordsSequence)
    return checkpoint
  })
}

/** Checkpoints newest first. */
export async function checkpoints ({ db, tenant }: ServiceContext, before: number | undefined, limit: number): Promise<Page<Checkpoint>> {
  return await readPage(limit, async (count) => await listCheckpoints(db, tenant, { after: before, limit: count, order: 'desc' }))
}
