import { canonicalJson, sha256 } from './canonical.js'

/** A checkpoint's leaf: an entity's latest hash at that point. */
export interface Leaf { type: string, id: string, hash: string }

const LEAF = Buffer.from([0])
const NODE = Buffer.from([1])

/** RFC 6962 leaf hash: SHA-256(0x00 || canonical JSON of the leaf). */
export const leafHash = (leaf: Leaf): Buffer => sha256(LEAF, Buffer.from(canonicalJson({ type: leaf.type, id: leaf.id, hash: leaf.hash })))
/** RFC 6962 interior node: SHA-256(0x01 || left || right). */
export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => sha256(NODE, left, right)
/** The root of an empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT = sha256()

/**
 * The RFC 6962 Merkle tree root of leaves given one at a time, in constant memory (one
 * subtree root per bit of the count): full subtrees are merged as they complete, and the
 * rest folded right to left at the end, as the RFC's split at the largest power of two does.
 */
export class MerkleRoot {
  private readonly stack: Array<{ size: number, hash: Buffer }> = []
  count = 0

  push (hash: Buffer): void {
    let entry = { size: 1, hash }
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === entry.size) {
      const left = this.stack.pop()!
      entry = { size: left.size * 2, hash: nodeHash(left.hash, entry.hash) }
    }
    this.stack.push(entry)
    this.count++
  }

  root (): Buffer {
    if (this.stack.length === 0) return EMPTY_ROOT
    let acc = this.stack[this.stack.length - 1]!.hash
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHash(this.stack[i]!.hash, acc)
    return acc
  }
}

const largestPowerOfTwoBelow = (n: number): number => {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function subtreeRoot (leaves: readonly Buffer[], from: number, to: number): Buffer {
  if (to - from === 1) return leaves[from]!
  const k = largestPowerOfTwoBelow(to - from)
  return nodeHash(subtreeRoot(leaves, from, from + k), subtreeRoot(leaves, from + k, to))
}

/** RFC 6962 audit path of leaf `index` (siblings from the leaf up to the root). */
export function auditPath (leaves: readonly Buffer[], index: number): Buffer[] {
  const path: Buffer[] = []
  let from = 0
  let to = leaves.length
  const siblings: Buffer[] = []
  while (to - from > 1) {
    const k = largestPowerOfTwoBelow(to - from)
    if (index < from + k) {
      siblings.push(subtreeRoot(leaves, from + k, to))
      to = from + k
    } else {
      siblings.push(subtreeRoot(leaves, from, from + k))
      from += k
    }
  }
  for (let i = siblings.length - 1; i >= 0; i--) path.push(siblings[i]!)
  return path
}

/** RFC 9162 §2.1.3.2: true when `path` leads from leaf `index` of a tree of `size` leaves to `root`. */
export function verifyInclusion (leaf: Buffer, index: number, size: number, path: readonly Buffer[], root: Buffer): boolean {
  if (index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && r.equals(root)
}
