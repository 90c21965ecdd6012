import type { JsonObject } from '../versioning/json.js'
import type { Operation } from '../versioning/version.js'
import { GENESIS_HASH } from './canonical.js'
import { checkpointDigest, checkpointSignatureValid, type Checkpoint } from './checkpoint.js'
import { commitmentsOf, type Erased, type Salts } from './commitments.js'
import { hashedDocument, versionHash, type HashedTransaction } from './version-hash.js'
import type { KeyObject } from 'node:crypto'

/** One problem found by verification: the entity and transaction it concerns, when it concerns one. */
export interface Problem {
  type: string | null
  id: string | null
  transactionId: number | null
  problem: string
}

/** What verification answers (online and offline alike). */
export interface VerifyReport {
  ok: boolean
  versionsChecked: number
  checkpointsChecked: number
  problems: Problem[]
}

/** An entity's head as a checkpoint covers it: its latest hash then, and that version's transaction. */
export interface Head { type: string, id: string, hash: string, transactionId: number }

/** A version as stored, with what verification needs of it. */
export interface StoredVersion {
  type: string
  id: string
  index: number
  transactionId: number
  operation: Operation
  data: JsonObject
  changeset: Record<string, unknown>
  salts: Salts
  erased: Erased | null
  hash: string
  /** Its transaction as stored; null when the row is gone. */
  transaction: HashedTransaction | null
}

/** Where an entity's chain stands after a version: the next version must link to it. */
export interface ChainLink { index: number, transactionId: number, hash: string }

/** Where a pruned entity's chain restarts: its oldest kept version (index) links to `hash`. */
export interface Anchor { index: number, transactionId: number, hash: string }

/**
 * Checks one version against the entity's chain so far (`previous`: the version before it
 * as stored, or the anchor of a pruned entity, or nothing for the first one): its position,
 * its transaction, every value against its commitment, and its hash over all of them.
 * Answers the problems found (empty when it verifies).
 */
export function checkVersion (tenant: string, v: StoredVersion, previous: ChainLink | Anchor | undefined, anchored: boolean): string[] {
  const problems: string[] = []
  const expectedIndex = previous === undefined ? 0 : anchored ? previous.index : previous.index + 1
  if (v.index !== expectedIndex) {
    problems.push(v.index > expectedIndex
      ? `version ${expectedIndex === 0 ? 'history starts at' : 'after index ' + String(expectedIndex - 1) + ' is'} index ${v.index}: ${v.index - expectedIndex} version(s) missing`
      : `index ${v.index} repeats or goes back (expected ${expectedIndex})`)
  }
  if (previous !== undefined && v.transactionId <= previous.transactionId) {
    problems.push(`transaction ${v.transactionId} is not after the previous version's (${previous.transactionId})`)
  }
  if (v.transaction === null) {
    problems.push(`its transaction ${v.transactionId} is missing`)
    return problems
  }
  const { commitments, unverifiable } = commitmentsOf({ data: v.data, changeset: v.changeset as Record<string, unknown> }, v.salts, v.erased)
  for (const field of unverifiable) problems.push(`field ${field} has neither a salt nor a kept commitment`)
  const expected = versionHash(hashedDocument(
    { tenant, type: v.type, id: v.id, index: v.index, transactionId: v.transactionId, operation: v.operation },
    v.transaction, commitments, previous?.hash ?? GENESIS_HASH))
  if (expected !== v.hash) {
    problems.push(previous === undefined || anchored
      ? 'its hash does not match its contents (version, transaction or values changed)'
      : 'its hash does not match its contents and the previous version (a version changed, removed, inserted or reordered)')
  }
  return problems
}

/** What the newest pruning record of an entity says its kept history starts from. */
export interface PruningRecord { keptFromIndex: number, anchorHash: string, anchorTransactionId: number }

/**
 * An anchor (where a pruned entity's chain restarts) must be the one its newest pruning
 * record names: an anchor no record vouches for would let the start of a history be cut.
 */
export function checkAnchor (anchor: Anchor, record: PruningRecord | undefined): string | undefined {
  if (record === undefined) return `its history starts at index ${anchor.index} from an anchor that no pruning record names`
  if (record.keptFromIndex !== anchor.index || record.anchorHash !== anchor.hash || record.anchorTransactionId !== anchor.transactionId) {
    return `its anchor (index ${anchor.index}) is not the one its newest pruning record names (index ${record.keptFromIndex})`
  }
  return undefined
}

/** Compares an entity's head as a checkpoint recorded it with its history as stored now. */
export function checkHead (
  head: { transactionId: number, hash: string }, sequence: number,
  newest: ChainLink | undefined, oldestKept: ChainLink | undefined
): string | undefined {
  if (newest === undefined && oldestKept === undefined) return `its history is gone: checkpoint ${sequence} covers a version of it (transaction ${head.transactionId})`
  if (oldestKept !== undefined && head.transactionId < oldestKept.transactionId) return undefined // pruned since
  if (newest === undefined || newest.transactionId < head.transactionId) {
    return `the version of transaction ${head.transactionId} that checkpoint ${sequence} covers is missing (newest now: ${newest?.transactionId ?? 'none'})`
  }
  if (newest.transactionId > head.transactionId) {
    return `transaction ${newest.transactionId} is covered by checkpoint ${sequence} but was not in it (inserted afterwards)`
  }
  if (newest.hash !== head.hash) return `its version of transaction ${head.transactionId} differs from the one checkpoint ${sequence} covers`
  return undefined
}

/**
 * Checks the checkpoints one by one, in sequence order: each is signed by the key, follows
 * the one before (sequence, its hash in `previous`, a later or equal transaction), and is
 * the tenant's.
 */
export class CheckpointChain {
  private last: Checkpoint | undefined
  count = 0

  constructor (private readonly tenant: string, private readonly publicKey: KeyObject | string) {}

  check (c: Checkpoint): string[] {
    const problems: string[] = []
    const expectedSequence = (this.last?.sequence ?? 0) + 1
    if (c.tenant !== this.tenant) problems.push(`checkpoint ${c.sequence} is of tenant "${c.tenant}"`)
    if (c.sequence !== expectedSequence) problems.push(`checkpoint ${c.sequence} follows checkpoint ${expectedSequence - 1}: checkpoints are missing or reordered`)
    if (!checkpointSignatureValid(c, this.publicKey)) problems.push(`checkpoint ${c.sequence}: its signature is not the service's`)
    const previous = this.last === undefined ? null : checkpointDigest(this.last)
    if (this.last !== undefined && c.previous !== previous) problems.push(`checkpoint ${c.sequence}: "previous" is not the hash of checkpoint ${this.last.sequence}`)
    if (this.last === undefined && c.sequence === 1 && c.previous !== null) problems.push('checkpoint 1: "previous" must be null')
    if (this.last !== undefined && c.upToTransactionId < this.last.upToTransactionId) problems.push(`checkpoint ${c.sequence} goes back to transaction ${c.upToTransactionId}`)
    this.last = c
    this.count++
    return problems
  }

  get latest (): Checkpoint | undefined { return this.last }
}

/**
 * A checkpoint a client kept, against the stored one of the same sequence: missing means
 * the history was rolled back past it, different means it was forked (rewritten).
 */
export function checkKeptCheckpoint (kept: Checkpoint, stored: Checkpoint | undefined, publicKey: KeyObject | string): string | undefined {
  if (!checkpointSignatureValid(kept, publicKey)) return `the kept checkpoint ${kept.sequence} is not signed by the service's key`
  if (stored === undefined) return `the history no longer contains checkpoint ${kept.sequence} (upToTransactionId ${kept.upToTransactionId}): it was rolled back`
  if (checkpointDigest(stored) !== checkpointDigest(kept)) return `checkpoint ${kept.sequence} differs from the one kept: the history was forked or rewritten`
  return undefined
}

/** Collects problems, keeping the first `max` and counting the rest. */
export class ProblemList {
  readonly items: Problem[] = []
  total = 0
  constructor (private readonly max = 100) {}
  add (problem: Problem): void {
    this.total++
    if (this.items.length < this.max) this.items.push(problem)
  }

  addAll (type: string | null, id: string | null, transactionId: number | null, problems: readonly string[]): void {
    for (const problem of problems) this.add({ type, id, transactionId, problem })
  }
}

/** A version as an export carries it: its values, salts, kept commitments and hash (its transaction is on the line). */
export type ExportedVersion = Omit<StoredVersion, 'transaction' | 'changeset'> & { changeset: JsonObject }

/** The problem of an entity that has a version a checkpoint covers, but no head in it. */
export const notInCheckpoint = (sequence: number, transactionId: number): string =>
  `checkpoint ${sequence} covers transaction ${transactionId} of this entity but not the entity (it was inserted afterwards)`
