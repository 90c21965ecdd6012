import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { canonicalJson, sha256Hex } from './canonical.js'

/**
 * A signed checkpoint of one tenant's history: every entity's latest hash at
 * `upToTransactionId` under one Merkle `root`, the hash of the integrity records
 * (redactions, prunings, type definitions) so far, and the hash of the previous checkpoint.
 */
export interface Checkpoint {
  tenant: string
  sequence: number
  createdAt: string
  upToTransactionId: number
  versions: number
  root: string
  records: string
  previous: string | null
  signature: string
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>

const unsigned = (checkpoint: Checkpoint | UnsignedCheckpoint): UnsignedCheckpoint => {
  const { signature: _signature, ...body } = checkpoint as Checkpoint
  return body
}

/** Signs the RFC 8785 canonical JSON of the checkpoint without `signature` (Ed25519, base64). */
export const signCheckpoint = (body: UnsignedCheckpoint, privateKey: KeyObject): Checkpoint =>
  ({ ...body, signature: sign(null, Buffer.from(canonicalJson(unsigned(body))), privateKey).toString('base64') })

/** True when the signature is the key's over the checkpoint's other members. */
export function checkpointSignatureValid (checkpoint: Checkpoint, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey
  try {
    return verify(null, Buffer.from(canonicalJson(unsigned(checkpoint))), key, Buffer.from(checkpoint.signature, 'base64'))
  } catch {
    return false
  }
}

/** What the next checkpoint's `previous` is: SHA-256 (hex) of this one's canonical JSON, signature included. */
export const checkpointDigest = (checkpoint: Checkpoint): string => sha256Hex(canonicalJson(checkpoint))

/** The checkpoint's members in the contract's order (for answers and exports). */
export const checkpointJson = (c: Checkpoint): Checkpoint => ({
  tenant: c.tenant,
  sequence: c.sequence,
  createdAt: c.createdAt,
  upToTransactionId: c.upToTransactionId,
  versions: c.versions,
  root: c.root,
  records: c.records,
  previous: c.previous,
  signature: c.signature
})
