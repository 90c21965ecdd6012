import type { Checkpoint } from '../integrity/checkpoint.js'
import { MerkleRoot, leafHash } from '../integrity/merkle.js'
import { NO_RECORDS, recordChainHash } from '../integrity/records.js'
import {
  CheckpointChain, ProblemList, checkAnchor, checkHead, checkKeptCheckpoint, checkVersion, notInCheckpoint, type ChainLink, type Head, type VerifyReport
} from '../integrity/verify.js'
import { getCheckpoint, listCheckpoints } from '../store/checkpoints.js'
import { scanVersions, type ScannedVersion } from '../store/history-scan.js'
import { listRecords } from '../store/integrity-records.js'
import { archivedBefore } from '../store/partitions.js'
import type { Db } from '../store/database.js'
import { heads } from './checkpoints.js'
import type { ServiceContext } from './context.js'


const PAGE = 2000

/** Orders entity names as the database's "C" collation does (UTF-8 bytes, that is code points). */
export const compareNames = (a: { type: string, id: string }, b: { type: string, id: string }): number =>
  Buffer.compare(Buffer.from(a.type), Buffer.from(b.type)) || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id))

/** The integrity records' chain: each stored chain hash recomputed; answers the set of chain hashes a checkpoint may name. */
async function checkRecords (db: Db, tenant: string, problems: ProblemList): Promise<Set<string>> {
  const chain = new Set<string>([NO_RECORDS])
  let previous = NO_RECORDS
  let after: number | undefined
  let expected = 1
  for (;;) {
    const page = await listRecords(db, tenant, { after, limit: PAGE })
    for (const record of page) {
      if (record.sequence !== expected) problems.add({ type: null, id: null, transactionId: null, problem: `integrity record ${expected} is missing` })
      expected = record.sequence + 1
      const hash = recordChainHash(previous, record)
      if (hash !== record.chainHash) problems.add({ type: null, id: null, transactionId: null, problem: `integrity record ${record.sequence} (${record.kind}) was altered` })
      previous = record.chainHash
      chain.add(record.chainHash)
    }
    if (page.length < PAGE) return chain
    after = page[page.length - 1]!.sequence
  }
}

async function checkCheckpoints (db: Db, tenant: string, publicKey: string, records: Set<string>, problems: ProblemList): Promise<CheckpointChain> {
  const chain = new CheckpointChain(tenant, publicKey)
  let after: number | undefined
  for (;;) {
    const page = await listCheckpoints(db, tenant, { after, limit: PAGE, order: 'asc' })
    for (const c of page) {
      problems.addAll(null, null, c.upToTransactionId, chain.check(c))
      if (!records.has(c.records)) problems.add({ type: null, id: null, transactionId: c.upToTransactionId, problem: `checkpoint ${c.sequence}: its "records" is not a state of the integrity records` })
    }
    if (page.length < PAGE) return chain
    after = page[page.length - 1]!.sequence
  }
}

/**
 * The versions of the tenant, one entity at a time (each in index order). The next page is
 * asked for as soon as one arrives, so that the database reads it while this one is checked.
 */
async function * entities (db: Db, tenant: string): AsyncGenerator<ScannedVersion[]> {
  let current: ScannedVersion[] = []
  let pending = scanVersions(db, tenant, undefined, PAGE)
  for (;;) {
    const page = await pending
    const last = page[page.length - 1]
    if (page.length === PAGE && last !== undefined) {
      pending = scanVersions(db, tenant, { type: last.type, id: last.id, index: last.index }, PAGE)
      pending.catch(() => {}) // seen by the next await; never unhandled should the reader stop first
    }
    for (const v of page) {
      if (current.length > 0 && (current[0]!.type !== v.type || current[0]!.id !== v.id)) {
        yield current
        current = []
      }
      current.push(v)
    }
    if (page.length < PAGE) break
  }
  if (current.length > 0) yield current
}

/**
 * Re-computes every chain and checkpoint of the tenant, streaming through its history in
 * entity order (constant memory: one entity at a time, one page of versions and of heads):
 * each version against its values and the one before it; the checkpoints' signatures and
 * links; the newest checkpoint's heads against its root and against the history as it is
 * now (a removed newest version, a removed entity, a version inserted under it). A
 * checkpoint the caller kept must still be there, unchanged (else: rolled back or forked).
 */
export async function verifyHistory (ctx: ServiceContext, publicKey: string, kept?: Checkpoint): Promise<VerifyReport> {
  const { db, tenant } = ctx
  const problems = new ProblemList()
  const records = await checkRecords(db, tenant, problems)
  const checkpoints = await checkCheckpoints(db, tenant, publicKey, records, problems)
  if (kept !== undefined) {
    const problem = checkKeptCheckpoint(kept, await getCheckpoint(db, tenant, kept.sequence), publicKey)
    if (problem !== undefined) problems.add({ type: null, id: null, transactionId: kept.upToTransactionId, problem })
  }
  // Archived history (the oldest partitions, detached): not checked, and said so.
  const archived = await archivedBefore(db)
  if (archived > 0) {
    problems.add({ type: null, id: null, transactionId: null, problem: `history before transaction ${archived} is archived: its versions are not checked, nor the first version after it of each entity it cuts; restore it (rewind partitions restore) to verify everything` })
  }
  const latest = checkpoints.latest
  const headStream: AsyncIterator<Head> | undefined = latest === undefined ? undefined : heads(db, tenant, latest.sequence)[Symbol.asyncIterator]()
  const tree = new MerkleRoot()
  const nextHead = async (): Promise<Head | undefined> => {
    if (headStream === undefined) return undefined
    const next = await headStream.next()
    if (next.done === true) return undefined
    tree.push(leafHash(next.value))
    return next.value
  }
  let head = await nextHead()
  const headProblem = (h: Head, newest: ChainLink | undefined, oldest: ChainLink | undefined): void => {
    if (newest === undefined && h.transactionId < archived) return // the head is in the archive
    const problem = checkHead(h, latest!.sequence, newest, oldest)
    if (problem !== undefined) problems.add({ type: h.type, id: h.id, transactionId: h.transactionId, problem })
  }

  let versionsChecked = 0
  for await (const versions of entities(db, tenant)) {
    const first = versions[0]!
    if (first.anchor !== undefined && first.anchor.index === first.index) {
      const problem = checkAnchor(first.anchor, first.pruning)
      if (problem !== undefined) problems.add({ type: first.type, id: first.id, transactionId: first.transactionId, problem })
    }
    let previous: ChainLink | undefined = first.anchor
    let anchored = first.anchor !== undefined
    let newest: ChainLink | undefined
    // The version after an archived prefix links to one that is not here: the chain is checked from it on.
    const cut = archived > 0 && first.index > (first.anchor?.index ?? 0)
    for (const v of versions) {
      if (cut && v === first) {
        previous = { index: v.index, transactionId: v.transactionId, hash: v.hash }
        if (latest !== undefined && v.transactionId <= latest.upToTransactionId) newest = previous
        continue
      }
      problems.addAll(v.type, v.id, v.transactionId, checkVersion(tenant, v, previous, anchored))
      previous = { index: v.index, transactionId: v.transactionId, hash: v.hash }
      anchored = false
      if (latest !== undefined && v.transactionId <= latest.upToTransactionId) newest = previous
      versionsChecked++
    }
    while (head !== undefined && compareNames(head, first) < 0) {
      headProblem(head, undefined, undefined)
      head = await nextHead()
    }
    const oldest = { index: first.index, transactionId: first.transactionId, hash: first.hash }
    if (head !== undefined && compareNames(head, first) === 0) {
      headProblem(head, newest, oldest)
      head = await nextHead()
    } else if (newest !== undefined) {
      problems.add({ type: first.type, id: first.id, transactionId: newest.transactionId, problem: notInCheckpoint(latest!.sequence, newest.transactionId) })
    }
  }
  while (head !== undefined) {
    headProblem(head, undefined, undefined)
    head = await nextHead()
  }
  if (latest !== undefined && tree.root().toString('hex') !== latest.root) {
    problems.add({ type: null, id: null, transactionId: latest.upToTransactionId, problem: `checkpoint ${latest.sequence}: the heads stored for it do not give its signed root` })
  }
  return { ok: problems.total === 0, versionsChecked, checkpointsChecked: checkpoints.count, problems: problems.items }
}
