import { isJsonObject } from '../versioning/json.js'
import type { Checkpoint } from './checkpoint.js'
import { hashedTransaction } from './version-hash.js'
import {
  ProblemList, checkAnchor, checkHead, checkVersion, notInCheckpoint, type ExportedVersion, type PruningRecord, type VerifyReport
} from './verify.js'
import {
  entityKey, kindOf, Reader, survey, type AnchorLine, type EntityState, type ExportLines, type Survey, type TransactionLine
} from './export-survey.js'

export type { ExportLines } from './export-survey.js'

/*
 * `rewind verify`'s checks over an export, pass 2 and the conclusion (pass 1 is
 * export-survey.ts): every version in transaction order, then the newest checkpoint's
 * heads against what the versions left. Memory is O(entities).
 */

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
