import { createHash, createPublicKey, verify } from 'node:crypto'
import canonicalize from 'canonicalize'

/*
 * An independent checker of Rewind's proofs, written from the integrity guide with
 * node:crypto and an RFC 8785 serializer only (none of the service's code): what a third
 * party holding the public key would run.
 */

const sha256 = (...parts: Array<Buffer | string>): Buffer => {
  const hash = createHash('sha256')
  for (const p of parts) hash.update(p)
  return hash.digest()
}
const canonical = (value: unknown): string => canonicalize(value)!

/** RFC 9162 §2.1.3.2 inclusion check. */
function included (leaf: Buffer, index: number, size: number, path: Buffer[], root: Buffer): boolean {
  if (index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.from([1]), p, r)
      while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1 }
    } else {
      r = sha256(Buffer.from([1]), r, p)
    }
    fn >>= 1
    sn >>= 1
  }
  return sn === 0 && r.equals(root)
}

/** The problems of a proof (empty when it proves the version is in the signed checkpoint). */
export function checkProof (proof: any, publicKeyPem: string): string[] {
  const problems: string[] = []
  const { signature, ...unsigned } = proof.checkpoint
  if (!verify(null, Buffer.from(canonical(unsigned)), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'))) problems.push('signature')
  const v = proof.document.version
  if (v.type !== proof.version.type || v.id !== proof.version.id || v.transactionId !== proof.version.transactionId || v.index !== proof.version.index) problems.push('version named')
  if (proof.leaf.type !== v.type || proof.leaf.id !== v.id) problems.push('leaf named')
  const isMarker = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as any).$redacted === 'string'
  const data = proof.values.data as Record<string, unknown>
  const changeset = proof.values.changeset as Record<string, unknown>
  for (const field of new Set([...Object.keys(data), ...Object.keys(changeset)])) {
    const salt = proof.values.salts[field]
    // Only an erased field may come without its salt: it shows markers ({"$redacted": id}; in a changeset [marker|null, marker|null]).
    if (salt === undefined) {
      const erased = (!(field in data) || isMarker(data[field])) &&
        (!(field in changeset) || (Array.isArray(changeset[field]) && (changeset[field] as unknown[]).every((side) => side === null || isMarker(side))))
      if (!erased) problems.push(`field ${field} has no salt`)
      continue
    }
    const committed = { ...(field in changeset ? { changeset: changeset[field] } : {}), ...(field in data ? { data: data[field] } : {}), field, salt }
    if (sha256(canonical(committed)).toString('hex') !== proof.document.fields[field]) problems.push(`field ${field}`)
  }
  let hash = sha256(canonical(proof.document)).toString('hex')
  if (hash !== proof.version.hash) problems.push('version hash')
  for (const document of proof.chain) {
    if (document.previous !== hash) problems.push('chain link')
    hash = sha256(canonical(document)).toString('hex')
  }
  if (hash !== proof.leaf.hash) problems.push('head')
  const leaf = sha256(Buffer.from([0]), canonical({ type: proof.leaf.type, id: proof.leaf.id, hash: proof.leaf.hash }))
  if (!included(leaf, proof.leafIndex, proof.treeSize, proof.auditPath.map((h: string) => Buffer.from(h, 'hex')), Buffer.from(proof.checkpoint.root, 'hex'))) problems.push('inclusion')
  return problems
}
