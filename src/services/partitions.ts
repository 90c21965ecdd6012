import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { inTransaction, type Db } from '../store/database.js'
import { appendRecords } from '../store/integrity-records.js'
import {
  attachPartition, beginPartitionDrop, compactPartition as compactStored, createDetachedTable, detachPartition, detachedRows, dropDetachedTable, ensurePartitions,
  finishPartitionDrop, listPartitions, loadDetachedRows, partitionEntities, partitionTableExists, PartitionKept, recordArchive,
  nextTransactionId, type HistoryPartition, type PartitionEntity
} from '../store/partitions.js'

export type { HistoryPartition } from '../store/partitions.js'

/** How `versions` is partitioned: transaction ids per partition, partitions kept ahead, how often that is checked. */
export interface PartitionOptions { size: number, ahead: number, checkEveryMs: number }

export const DEFAULT_PARTITIONS: PartitionOptions = { size: 1_000_000, ahead: 2, checkEveryMs: 5000 }

/**
 * Keeps partitions of `versions` ready ahead of the transaction ids to come: once now (the
 * app is ready when the next ids have a partition), then every `checkEveryMs`. Every instance
 * may run it: the database makes one partition maker wait for another, and making nothing
 * is one statement.
 */
export function keepPartitionsAhead (db: Db, options: PartitionOptions, log: FastifyBaseLogger): { ready: Promise<void>, stop: () => Promise<void> } {
  let running: Promise<void> = Promise.resolve()
  const check = async (): Promise<void> => {
    const made = await ensurePartitions(db, options.size, options.ahead)
    if (made > 0) log.info({ made, size: options.size }, 'made history partitions ahead of the next transaction ids')
  }
  const ready = check()
  running = ready.catch(() => {})
  const timer = setInterval(() => {
    running = running.then(check).catch((err: unknown) => { log.warn({ err }, `could not make history partitions; trying again in ${options.checkEveryMs} ms`) })
  }, options.checkEveryMs)
  timer.unref()
  return {
    ready,
    stop: async () => {
      clearInterval(timer)
      await running
    }
  }
}

export async function partitions (db: Db): Promise<HistoryPartition[]> {
  return await listPartitions(db)
}

/** The first line of an archive file: what it holds and how to check it. */
export interface ArchiveHeader { format: 'rewind-partition-archive/1', partition: string, fromId: number, toId: number, rows: number }

const ARCHIVE_FORMAT = 'rewind-partition-archive/1'
const BATCH = 2000

async function partitionNamed (owner: Db, name: string): Promise<HistoryPartition> {
  const found = (await listPartitions(owner)).find((p) => p.name === name)
  if (found === undefined) throw new Error(`no partition "${name}" (see rewind partitions list)`)
  return found
}

/**
 * Archives a partition (the owner's work): detaches it from `versions` (the oldest attached
 * one, its ids all drawn: see rewind_detach_partition), then yields its archive, one line at
 * a time: a header, then each version as the JSON of its row, in primary-key order. Once the
 * caller has kept every line, finishArchive notes the archive's digest and drops the table.
 * Run again after a failure, it picks up a detached partition whose table is still there.
 */
export async function * archiveLines (owner: Db, name: string): AsyncGenerator<string, void, undefined> {
  let partition = await partitionNamed(owner, name)
  if (partition.state === 'attached') {
    await detachPartition(owner, name)
    partition = await partitionNamed(owner, name)
  } else if (!await partitionTableExists(owner, name)) {
    throw new Error(`partition "${name}" is archived already (sha256 ${partition.archiveSha256 ?? 'unknown'})`)
  }
  const header: ArchiveHeader = { format: ARCHIVE_FORMAT, partition: name, fromId: partition.fromId, toId: partition.toId, rows: partition.archivedRows ?? 0 }
  yield JSON.stringify(header)
  let after: [string, string, string, string] | undefined
  for (;;) {
    const batch = await detachedRows(owner, name, after, BATCH)
    for (const r of batch) yield r.row
    if (batch.length < BATCH) break
    after = batch[batch.length - 1]!.key
  }
}

/** Notes a written archive's SHA-256 and drops the detached table it was written from. */
export async function finishArchive (owner: Db, name: string, sha256: string): Promise<void> {
  await recordArchive(owner, name, sha256)
  await dropDetachedTable(owner, name)
}

/**
 * Rewrites partitions in primary-key order, so that each entity's versions there sit on a few
 * pages (rewind_compact_partition, the owner's work): the one named, or with none named each
 * attached partition whose ids have all been drawn and that has not been compacted yet,
 * oldest first. Answers each one rewritten with its versions.
 */
export async function compactPartitions (owner: Db, name?: string): Promise<Array<{ partition: string, versions: number }>> {
  const chosen = name !== undefined
    ? [await partitionNamed(owner, name)]
    : await closedUncompacted(owner)
  const done: Array<{ partition: string, versions: number }> = []
  for (const p of chosen) done.push({ partition: p.name, versions: await compactStored(owner, p.name) })
  return done
}

async function closedUncompacted (owner: Db): Promise<HistoryPartition[]> {
  const next = await nextTransactionId(owner)
  return (await listPartitions(owner)).filter((p) => p.state === 'attached' && p.toId <= next && p.compactedAt === null)
}

/** The SHA-256 of an archive as archiveLines yields it, lines ended by "\n". */
export function archiveDigest (): { add: (line: string) => void, hex: () => string } {
  const hash = createHash('sha256')
  return { add: (line) => hash.update(`${line}\n`), hex: () => hash.digest('hex') }
}

/**
 * Restores an archived partition from its archive's lines and attaches it again: the
 * archive must be the one written (its SHA-256 is checked against the one noted when it was
 * written, and every row's transaction id against the partition's range, by the attach).
 * Answers the partition and how many versions it holds.
 */
export async function restoreArchive (owner: Db, lines: AsyncIterable<string>): Promise<{ partition: string, rows: number }> {
  const digest = archiveDigest()
  let header: ArchiveHeader | undefined
  let batch: string[] = []
  let rows = 0
  // One attempt: the lines are read once, so a transaction aborted by PostgreSQL cannot be run again.
  return await inTransaction(owner, async (trx) => {
    for await (const line of lines) {
      if (line === '') continue
      digest.add(line)
      if (header === undefined) {
        header = JSON.parse(line) as ArchiveHeader
        if (header.format !== ARCHIVE_FORMAT) throw new Error(`not a partition archive (its first line is not a ${ARCHIVE_FORMAT} header)`)
        const partition = await partitionNamed(trx, header.partition)
        if (partition.state !== 'archived') throw new Error(`partition "${header.partition}" is attached: nothing to restore`)
        if (await partitionTableExists(trx, header.partition)) {
          throw new Error(`the table of partition "${header.partition}" is still in the database (its archive was interrupted): run rewind partitions archive ${header.partition} again to finish it`)
        }
        await createDetachedTable(trx, header.partition)
        continue
      }
      batch.push(line)
      rows++
      if (batch.length >= BATCH) {
        await loadDetachedRows(trx, header.partition, batch)
        batch = []
      }
    }
    if (header === undefined) throw new Error('the archive is empty')
    await loadDetachedRows(trx, header.partition, batch)
    const partition = await partitionNamed(trx, header.partition)
    const sha256 = digest.hex()
    if (partition.archiveSha256 !== null && partition.archiveSha256 !== sha256) {
      throw new Error(`this archive of "${header.partition}" is not the one written (SHA-256 ${sha256}, written ${partition.archiveSha256})`)
    }
    if (rows !== header.rows) throw new Error(`the archive of "${header.partition}" holds ${rows} versions, its header says ${header.rows}`)
    await attachPartition(trx, header.partition)
    return { partition: header.partition, rows }
  }, 1)
}

/** What retention dropped whole: the partitions, and the versions and entities of each tenant they held. */
export interface PartitionDropReport { partitions: string[], versions: number, tenants: Map<string, { versions: number, entities: number }> }

const ENTITY_PAGE = 1000

/**
 * Drops, oldest first, each partition whose every version the retention rules let go at
 * `now` (each type's rule, each entity's newest kept versions, legal holds: see
 * rewind_begin_partition_drop), instead of deleting its rows one entity at a time. In one
 * transaction per partition, as pruning does entity by entity: the partition is checked
 * with writers kept out of it, each entity it cuts gets its pruning record (in its tenant's
 * chain) and its anchor, then the partition goes. Each tenant that lost versions gets a
 * checkpoint, so that the next verification finds the pruning covered. Stops at the first
 * partition that stays.
 */
export async function dropExpiredPartitions (db: Db, now: Date, checkpoint: (tenant: string) => Promise<unknown>): Promise<PartitionDropReport> {
  const report: PartitionDropReport = { partitions: [], versions: 0, tenants: new Map() }
  for (;;) {
    const [oldest] = await listPartitions(db)
    if (oldest === undefined || oldest.state !== 'attached') break
    let cut = new Map<string, { versions: number, entities: number }>()
    try {
      const versions = await inTransaction(db, async (trx) => {
        cut = new Map()
        await beginPartitionDrop(trx, oldest.name, now)
        let after: PartitionEntity | undefined
        for (;;) {
          const page = await partitionEntities(trx, oldest, after, ENTITY_PAGE)
          const byTenant = new Map<string, PartitionEntity[]>()
          for (const e of page) {
            const ofTenant = byTenant.get(e.tenant)
            if (ofTenant === undefined) byTenant.set(e.tenant, [e])
            else ofTenant.push(e)
          }
          for (const [tenant, entities] of byTenant) {
            await appendRecords(trx, tenant, 'pruning', entities.map((e) => ({
              type: e.type, id: e.key, keptFromIndex: e.seq + 1, versions: e.versions, anchorHash: e.hash, anchorTransactionId: e.transactionId, partition: oldest.name
            })))
            const counts = cut.get(tenant) ?? { versions: 0, entities: 0 }
            counts.entities += entities.length
            for (const e of entities) counts.versions += e.versions
            cut.set(tenant, counts)
          }
          if (page.length < ENTITY_PAGE) break
          after = page[page.length - 1]
        }
        return await finishPartitionDrop(trx, oldest.name)
      })
      report.partitions.push(oldest.name)
      report.versions += versions
      for (const [tenant, counts] of cut) {
        const total = report.tenants.get(tenant) ?? { versions: 0, entities: 0 }
        report.tenants.set(tenant, { versions: total.versions + counts.versions, entities: total.entities + counts.entities })
      }
    } catch (error) {
      if (error instanceof PartitionKept) break
      throw error
    }
  }
  for (const tenant of report.tenants.keys()) await checkpoint(tenant)
  return report
}
