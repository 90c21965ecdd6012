import { canonicalJson, GENESIS_HASH, sha256Hex } from './canonical.js'

/** The kinds of change to history that are not versions, each recorded and chained. */
export type RecordKind = 'redaction' | 'pruning' | 'entityType'

/** One integrity record: what changed history (or how it is read), chained to the record before. */
export interface IntegrityRecord {
  sequence: number
  kind: RecordKind
  createdAt: string
  body: Record<string, unknown>
}

/** A record with its chain hash (as stored and exported). */
export interface ChainedRecord extends IntegrityRecord { chainHash: string }

/** The chain hash after a record: SHA-256 over the previous chain hash and the record's canonical JSON. */
export const recordChainHash = (previous: string, record: IntegrityRecord): string =>
  sha256Hex(canonicalJson({ previous, record: { sequence: record.sequence, kind: record.kind, createdAt: record.createdAt, body: record.body } }))

/** The `records` of a checkpoint made before any record. */
export const NO_RECORDS = GENESIS_HASH
