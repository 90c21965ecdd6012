import { isJsonObject, parseJson, type JsonObject } from '../versioning/json.js'
import type { Checkpoint } from './checkpoint.js'
import { MerkleRoot, leafHash } from './merkle.js'
import { NO_RECORDS, recordChainHash, type ChainedRecord } from './records.js'
import { hashedTransaction } from './version-hash.js'
import {
  CheckpointChain, ProblemList, checkHead, checkKeptCheckpoint, checkVersion, type Anchor, type ChainLink, checkAnchor, notInCheckpoint, type ExportedVersion, type Head, type PruningRecord, type VerifyReport
} from './verify.js'

/*
 * `rewind verify`'s checks over an export (the NDJSON of GET /export, see
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

interface ExportHeader { kind: 'export', tenant: string, filtered: boolean, filter: Record<string, unknown> }
interface AnchorLine { kind: 'anchor', type: string, id: string, index: number, transactionId: number | null, hash: string }
interface TransactionLine {
  kind: 'transaction'
  transaction: { id: number, issuedAt: string, recordedAt: string, actor?: string | null, meta?: JsonObject, recordedBy?: unknown, revertOf?: unknown }
  versions: ExportedVersion[]
}
interface HeadLine extends Head { kind: 'head', sequence: number }
interface EndLine { kind: 'end', transactions: number, versions: number }

/** An entity's chain as read so far. */
interface EntityState {
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
interface ReadLine { number: number, value: unknown }

const entityKey = (type: string, id: string): string => `${type}\u0000${id}`

/** What the first pass learns: the header, the checkpoints' outcome, the heads of the newest one. */
interface Survey {
  header: ExportHeader | undefined
  latest: Checkpoint | undefined
  checkpointsChecked: number
  heads: HeadLine[]
  root: MerkleRoot
  /** Each pruned entity's newest pruning record (what its anchor must be). */
  prunings: Map<string, PruningRecord>
}

class Reader {
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

const kindOf = (value: unknown): string | undefined =>
  isJsonObject(value) && typeof value.kind === 'string' ? value.kind : undefined

/**
 * Pass 1: the header, the integrity records' chain, the checkpoints' chain (signatures,
 * links, `records`), the kept checkpoint, the newest checkpoint's heads (and the root they
 * give), and the `end` line against what the export holds.
 */
async function survey (reader: Reader, publicKeyPem: string, kept: Checkpoint | undefined, problems: ProblemList): Promise<Survey> {
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

/**
 * Pass 2: every version, in transaction order, against its entity's chain so far (its
 * values against their commitments, its transaction, its hash and link).
 */
async function checkVersions (reader: Reader, tenant: string, upTo: number | undefined, prunings: ReadonlyMap<string, PruningRecord> | undefined, problems: ProblemList): Promise<{ entities: Map<string, EntityState>, versionsChecked: number }> {
  const entities = new Map<string, EntityState>()
  const stateOf = (type: string, id: string): EntityState => {
    const key = entityKey(type, id)
    let state = entities.get(key)
    if (state === undefined) {
      state = { type, id, anchor: undefined, last: undefined, oldest: undefined, covered: undefined }
      entities.set(key, state)
    }
    return state
  }
  let versionsChecked = 0
  const malformed = (number: number, kind: string, about?: { type?: unknown, id?: unknown, transactionId?: unknown }): void => {
    problems.add({
      type: typeof about?.type === 'string' ? about.type : null,
      id: typeof about?.id === 'string' ? about.id : null,
      transactionId: typeof about?.transactionId === 'number' ? about.transactionId : null,
      problem: `line ${number} is a malformed "${kind}" line`
    })
  }
  for await (const { number, value } of reader.pass()) {
    const kind = kindOf(value)
    if (kind === 'anchor') {
      const a = value as AnchorLine
      if (typeof a.type !== 'string' || typeof a.id !== 'string') {
        malformed(number, kind)
        continue
      }
      const state = stateOf(a.type, a.id)
      if (state.last !== undefined || state.anchor !== undefined) {
        problems.add({ type: a.type, id: a.id, transactionId: a.transactionId, problem: `line ${number}: an anchor after its versions or another anchor` })
      } else {
        state.anchor = { index: a.index, transactionId: a.transactionId ?? 0, hash: a.hash }
        // A complete export's anchors are where pruned chains restart: each must be the one its pruning record names.
        const problem = prunings === undefined ? undefined : checkAnchor(state.anchor, prunings.get(entityKey(a.type, a.id)))
        if (problem !== undefined) problems.add({ type: a.type, id: a.id, transactionId: a.transactionId, problem })
      }
    } else if (kind === 'transaction') {
      const line = value as TransactionLine
      if (!isJsonObject(line.transaction) || !Array.isArray(line.versions)) {
        malformed(number, kind)
        continue
      }
      const transaction = hashedTransaction(line.transaction)
      for (const v of line.versions as unknown[] as ExportedVersion[]) {
        if (!isJsonObject(v) || typeof v.type !== 'string' || typeof v.id !== 'string') {
          malformed(number, kind, isJsonObject(v) ? v : undefined)
          continue
        }
        const state = stateOf(v.type, v.id)
        if (v.transactionId !== line.transaction.id) {
          problems.add({ type: v.type, id: v.id, transactionId: v.transactionId, problem: `it is listed under transaction ${line.transaction.id}` })
        }
        const previous = state.last ?? state.anchor
        const anchored = state.last === undefined && state.anchor !== undefined
        try {
          problems.addAll(v.type, v.id, v.transactionId, checkVersion(tenant, { ...v, transaction }, previous, anchored))
        } catch {
          malformed(number, kind, v) // values, salts or commitments that are not what a version holds
        }
        state.last = { index: v.index, transactionId: v.transactionId, hash: v.hash }
        state.oldest ??= state.last
        if (upTo !== undefined && v.transactionId <= upTo) state.covered = state.last
        versionsChecked++
      }
    }
  }
  return { entities, versionsChecked }
}

/**
 * The newest checkpoint's heads against the versions read: each must be its entity's newest
 * version covered by the checkpoint (or pruned since), every entity with a covered version
 * must have one, and together they must give the checkpoint's signed root.
 */
function checkHeads (survey: Survey & { latest: Checkpoint }, entities: Map<string, EntityState>, problems: ProblemList): void {
  const { latest, heads, root } = survey
  const seen = new Set<string>()
  for (const head of heads) {
    const key = entityKey(head.type, head.id)
    if (seen.has(key)) {
      problems.add({ type: head.type, id: head.id, transactionId: head.transactionId, problem: `checkpoint ${latest.sequence} has more than one head for it` })
      continue
    }
    seen.add(key)
    const state = entities.get(key)
    const problem = checkHead(head, latest.sequence, state?.covered, state?.oldest)
    if (problem !== undefined) problems.add({ type: head.type, id: head.id, transactionId: head.transactionId, problem })
  }
  for (const [key, state] of entities) {
    if (state.covered === undefined || seen.has(key)) continue
    problems.add({
      type: state.type, id: state.id, transactionId: state.covered.transactionId,
      problem: notInCheckpoint(latest.sequence, state.covered.transactionId)
    })
  }
  if (root.root().toString('hex') !== latest.root) {
    problems.add({ type: null, id: null, transactionId: latest.upToTransactionId, problem: `checkpoint ${latest.sequence}: the heads in the export do not give its signed root` })
  }
}

/**
 * Verifies an export offline, reading its lines twice (`lines` is called once per pass):
 * pass 1 the header, integrity records, checkpoints, heads and end line; pass 2 every
 * version in transaction order. `kept` is a checkpoint the caller kept: the export must
 * hold it unchanged (else the history was rolled back or forked). `onProgress` is told the
 * number of lines read so far (over both passes). Answers the report POST /integrity/verify
 * answers.
 */
export async function verifyExport (
  lines: ExportLines, publicKeyPem: string, kept?: Checkpoint, onProgress?: (linesRead: number) => void
): Promise<VerifyReport> {
  const problems = new ProblemList()
  const reader = new Reader(lines, onProgress)
  const surveyed = await survey(reader, publicKeyPem, kept, problems)
  const { header, latest } = surveyed
  if (header === undefined) {
    problems.add({ type: null, id: null, transactionId: null, problem: 'the export has no header line: it cannot be verified' })
    return { ok: false, versionsChecked: 0, checkpointsChecked: surveyed.checkpointsChecked, problems: problems.items }
  }
  const { entities, versionsChecked } = await checkVersions(reader, header.tenant, latest?.upToTransactionId, header.filtered === true ? undefined : surveyed.prunings, problems)
  // A filtered export holds only part of the history: the checkpoint's heads cannot be checked against it.
  if (header.filtered !== true && latest !== undefined) checkHeads({ ...surveyed, latest }, entities, problems)
  return { ok: problems.total === 0, versionsChecked, checkpointsChecked: surveyed.checkpointsChecked, problems: problems.items }
}
