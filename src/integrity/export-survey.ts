import { isJsonObject, parseJson, type JsonObject } from '../versioning/json.js'
import type { Checkpoint } from './checkpoint.js'
import { MerkleRoot, leafHash } from './merkle.js'
import { NO_RECORDS, recordChainHash, type ChainedRecord } from './records.js'
import {
  CheckpointChain, ProblemList, checkKeptCheckpoint, type Anchor, type ChainLink, type ExportedVersion, type Head, type PruningRecord
} from './verify.js'

/*
 * The first pass of `rewind verify` over an export (see offline-verify.ts), and the shapes
 * of an export's lines. `rewind verify`'s checks over an export (the NDJSON of GET /export, see
 * services/export.ts), without the service or its database: the same checks as
 * POST /integrity/verify (services/verify.ts), made in transaction order over the file
 * instead of in entity order over the database. No file or database access here: the
 * caller hands the lines.
 *
 * Memory is O(entities): the chain state of every entity (and the newest checkpoint's
 * heads, and the chain hashes of the integrity records) is kept until the end, since an
 * entity's versions are spread over the whole file. (The server-side verifier reads
 * history entity by entity, in constant memory.)
 */

/** Lines of an export: each call reads the export again from its start. */
export type ExportLines = () => AsyncIterable<string>

export interface ExportHeader { kind: 'export', tenant: string, filtered: boolean, filter: Record<string, unknown> }
export interface AnchorLine { kind: 'anchor', type: string, id: string, index: number, transactionId: number | null, hash: string }
export interface TransactionLine {
  kind: 'transaction'
  transaction: { id: number, issuedAt: string, recordedAt: string, actor?: string | null, meta?: JsonObject, recordedBy?: unknown, revertOf?: unknown }
  versions: ExportedVersion[]
}
export interface HeadLine extends Head { kind: 'head', sequence: number }
export interface EndLine { kind: 'end', transactions: number, versions: number }

/** An entity's chain as read so far. */
export interface EntityState {
  type: string
  id: string
  /** Where a pruned (or, in a filtered export, a partly exported) entity's chain starts. */
  anchor: Anchor | undefined
  /** Its last version read: the next one links to it. */
  last: ChainLink | undefined
  oldest: ChainLink | undefined
  /** Its newest version covered by the newest checkpoint. */
  covered: ChainLink | undefined
}

/** A line as read: its number (1-based, blank lines counted) and its JSON, or undefined when it is not JSON. */
export interface ReadLine { number: number, value: unknown }

export const entityKey = (type: string, id: string): string => `${type}\u0000${id}`

/** What the first pass learns: the header, the checkpoints' outcome, the heads of the newest one. */
export interface Survey {
  header: ExportHeader | undefined
  latest: Checkpoint | undefined
  checkpointsChecked: number
  heads: HeadLine[]
  root: MerkleRoot
  /** Each pruned entity's newest pruning record (what its anchor must be). */
  prunings: Map<string, PruningRecord>
}

export class Reader {
  linesRead = 0
  constructor (private readonly lines: ExportLines, private readonly onProgress: ((linesRead: number) => void) | undefined) {}

  /** One pass over the export, parsed; blank lines are skipped (but counted in line numbers). */
  async * pass (): AsyncGenerator<ReadLine> {
    let number = 0
    for await (const text of this.lines()) {
      number++
      this.linesRead++
      this.onProgress?.(this.linesRead)
      if (text.trim() === '') continue
      let value: unknown
      try {
        value = parseJson(text)
      } catch {
        value = undefined
      }
      yield { number, value }
    }
  }
}

export const kindOf = (value: unknown): string | undefined =>
  isJsonObject(value) && typeof value.kind === 'string' ? value.kind : undefined

/**
 * Pass 1: the header, the integrity records' chain, the checkpoints' chain (signatures,
 * links, `records`), the kept checkpoint, the newest checkpoint's heads (and the root they
 * give), and the `end` line against what the export holds.
 */
export async function survey (reader: Reader, publicKeyPem: string, kept: Checkpoint | undefined, problems: ProblemList): Promise<Survey> {
  const general = (problem: string, transactionId: number | null = null): void => { problems.add({ type: null, id: null, transactionId, problem }) }
  let header: ExportHeader | undefined
  let chain: CheckpointChain | undefined
  let end: EndLine | undefined
  let transactions = 0
  let versions = 0
  // The integrity records: each chain hash recomputed; a checkpoint's `records` must be one of them.
  const recordStates = new Set<string>([NO_RECORDS])
  let previousRecord = NO_RECORDS
  let expectedRecord = 1
  const unmatchedRecords: Checkpoint[] = [] // checkpoints read before a record they name (an export writes records first)
  let keptStored: Checkpoint | undefined
  const heads: HeadLine[] = []
  const root = new MerkleRoot()
  const prunings = new Map<string, PruningRecord>()
  let first = true

  for await (const { number, value } of reader.pass()) {
    const kind = kindOf(value)
    if (value === undefined) general(`line ${number} is not JSON (the export was cut or altered)`)
    else if (kind === undefined) general(`line ${number} is not a line of an export (no "kind")`)
    if (first && kind !== undefined && kind !== 'export') general(`line ${number} is not the export's header: the export's start is missing`)
    if (end !== undefined) general(`line ${number} comes after the end line`)
    first = false
    if (kind === undefined) continue
    try {
      switch (kind) {
        case 'export': {
          const line = value as ExportHeader
          if (header !== undefined) general(`line ${number} is a second export header`)
          else if (typeof line.tenant !== 'string') general(`line ${number}: the export's header names no tenant`)
          else {
            header = line
            chain = new CheckpointChain(line.tenant, publicKeyPem)
            if (line.filtered && !Object.values(line.filter ?? {}).some((v) => v !== undefined && v !== null)) {
              general('the export says it is filtered but names no filter')
            }
          }
          break
        }
        case 'anchor': // anchors and versions are read (and a malformed one reported) in pass 2
          break
        case 'transaction': {
          const list = (value as TransactionLine).versions
          transactions++
          versions += Array.isArray(list) ? list.length : 0
          break
        }
        case 'record': {
          const record = (value as { record: ChainedRecord }).record
          if (record.sequence !== expectedRecord) general(`integrity record ${expectedRecord} is missing`)
          expectedRecord = record.sequence + 1
          if (recordChainHash(previousRecord, record) !== record.chainHash) general(`integrity record ${record.sequence} (${record.kind}) was altered`)
          previousRecord = record.chainHash
          recordStates.add(record.chainHash)
          if (record.kind === 'pruning') {
            const body = record.body as unknown as { type: string, id: string } & PruningRecord
            prunings.set(entityKey(body.type, body.id), { keptFromIndex: body.keptFromIndex, anchorHash: body.anchorHash, anchorTransactionId: body.anchorTransactionId })
          }
          break
        }
        case 'checkpoint': {
          const checkpoint = (value as { checkpoint: Checkpoint }).checkpoint
          if (chain === undefined) {
            general(`line ${number}: a checkpoint before the export's header`, checkpoint.upToTransactionId)
            break
          }
          problems.addAll(null, null, checkpoint.upToTransactionId, chain.check(checkpoint))
          if (!recordStates.has(checkpoint.records)) unmatchedRecords.push(checkpoint)
          if (kept !== undefined && checkpoint.sequence === kept.sequence) keptStored ??= checkpoint
          break
        }
        case 'head': {
          const head = value as HeadLine
          root.push(leafHash(head))
          heads.push(head)
          break
        }
        case 'end':
          end ??= value as EndLine
          break
        default:
          general(`line ${number} is of an unknown kind "${kind}"`)
      }
    } catch {
      general(`line ${number} is a malformed "${kind}" line`)
    }
  }

  for (const c of unmatchedRecords) {
    if (!recordStates.has(c.records)) general(`checkpoint ${c.sequence}: its "records" is not a state of the integrity records`, c.upToTransactionId)
  }
  if (kept !== undefined) {
    const problem = checkKeptCheckpoint(kept, keptStored, publicKeyPem)
    if (problem !== undefined) general(problem, kept.upToTransactionId)
  }
  if (end === undefined) general('the export is cut short: it has no end line')
  else if (end.transactions !== transactions || end.versions !== versions) {
    general(`the export is cut short or altered: its end line counts ${end.transactions} transactions and ${end.versions} versions, it holds ${transactions} and ${versions}`)
  }
  const latest = chain?.latest
  for (const h of heads) {
    if (h.sequence !== latest?.sequence) {
      problems.add({ type: h.type, id: h.id, transactionId: h.transactionId, problem: `a head of checkpoint ${h.sequence}, but the newest checkpoint is ${latest?.sequence ?? 'none'}` })
    }
  }
  return { header, latest, checkpointsChecked: chain?.count ?? 0, heads, root, prunings }
}
