import t from 'tap'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'
import { canonicalJson } from '../src/integrity/canonical.js'
import { commitment } from '../src/integrity/commitments.js'
import { hashTemplate, templateHash, versionHash, type HashedDocument } from '../src/integrity/version-hash.js'
import { leafHash, MerkleRoot, auditPath, verifyInclusion, nodeHash, EMPTY_ROOT } from '../src/integrity/merkle.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
const jsonValue = fc.jsonValue({ maxDepth: 3 }).filter((v) => JSON.stringify(v) !== undefined)
const fieldName = fc.string({ unit: 'grapheme', maxLength: 12 })

t.test('a commitment is the SHA-256 of the RFC 8785 form of {salt, path, value}, as the canonicalize package writes it', async (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 24 }), fc.constantFrom('data' as const, 'changeset' as const), fieldName, jsonValue, (salt, part, field, value) => {
    const text = canonicalJson({ salt, path: [part, field], value })
    t.equal(commitment(salt, part, field, value as never), sha(text))
    // canonicalJson is the package's output, except integers of 1e21 or more, written as their digits.
    const raw = canonicalize({ salt, path: [part, field], value })!
    if (!raw.includes('e+')) t.equal(text, raw)
  }), { numRuns: 300 })
  t.equal(commitment('s', 'data', 'n', 1.5e21), sha('{"path":["data","n"],"salt":"s","value":1500000000000000000000}'), 'an integer of 1e21 or more is hashed as its digits')
  t.equal(commitment('s', 'data', 'n', 12345678901234567890n), sha('{"path":["data","n"],"salt":"s","value":12345678901234567890}'), 'a bigint is hashed as its digits')
  t.throws(() => commitment('s', 'data', 'n', '\ud800'), { message: /lone surrogate/ }, 'a lone surrogate has no canonical form')
})

t.test('a version hash is the SHA-256 of the canonical document, and the template around the transaction id gives the same', async (t) => {
  const doc = (id: string, tenant: string, fields: Record<string, string>, meta: Record<string, unknown>, n: number): HashedDocument => ({
    version: { tenant, type: 'article', id, index: n, transactionId: 1000 + n, operation: 'update' },
    transaction: { issuedAt: '2025-01-15T09:30:00.000Z', recordedAt: '2025-01-15T09:30:00.000Z', actor: 'a', meta: meta as never, recordedBy: { keyId: 'k' }, revertOf: null },
    data: fields,
    changeset: fields,
    previous: '0'.repeat(64)
  })
  fc.assert(fc.property(fieldName, fieldName, fc.dictionary(fieldName, fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })), fc.dictionary(fieldName, jsonValue), fc.nat(1000), (id, tenant, fields, meta, n) => {
    const d = doc(id, tenant, fields, meta, n)
    const expected = sha(canonicalJson(d))
    t.equal(versionHash(d), expected)
    const { transactionId, ...version } = d.version
    t.equal(templateHash(hashTemplate({ ...d, version }), transactionId), expected)
  }), { numRuns: 200 })
})

t.test('RFC 6962 Merkle roots and audit paths', async (t) => {
  t.equal(new MerkleRoot().root().toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'the empty tree is SHA-256 of nothing')
  const leaves = Array.from({ length: 13 }, (_, i) => leafHash({ type: 't', id: String(i), hash: String(i).padStart(64, '0') }))
  // The RFC's recursive definition, written plainly.
  const mth = (d: Buffer[]): Buffer => {
    if (d.length === 1) return d[0]!
    let k = 1
    while (k * 2 < d.length) k *= 2
    return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)))
  }
  for (let n = 1; n <= leaves.length; n++) {
    const tree = new MerkleRoot()
    for (const leaf of leaves.slice(0, n)) tree.push(leaf)
    const root = tree.root()
    t.equal(root.toString('hex'), mth(leaves.slice(0, n)).toString('hex'), `the streamed root of ${n} leaves is the RFC's`)
    for (let i = 0; i < n; i++) {
      t.equal(verifyInclusion(leaves[i]!, i, n, auditPath(leaves.slice(0, n), i), root), true, `leaf ${i} of ${n} is proven`)
    }
    t.equal(verifyInclusion(leaves[0]!, n - 1, n, auditPath(leaves.slice(0, n), 0), root), n === 1, 'a path does not prove another position')
  }
  t.not(EMPTY_ROOT.toString('hex'), mth(leaves.slice(0, 1)).toString('hex'))
})
