import t from 'tap'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'
import { canonicalJson } from '../src/integrity/canonical.js'
import { commitment, commitmentsOf } from '../src/integrity/commitments.js'
import { sealVersion } from '../src/integrity/seal.js'
import { hashTemplate, templateHash, versionHash, type HashedDocument } from '../src/integrity/version-hash.js'
import { leafHash, MerkleRoot, auditPath, verifyInclusion, nodeHash, EMPTY_ROOT } from '../src/integrity/merkle.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
const jsonValue = fc.jsonValue({ maxDepth: 3 }).filter((v) => JSON.stringify(v) !== undefined)
const fieldName = fc.string({ unit: 'grapheme', maxLength: 12 })

t.test('a commitment is the SHA-256 of the RFC 8785 form of {changeset, data, field, salt}, as the canonicalize package writes it', async (t) => {
  const side = fc.option(jsonValue, { nil: undefined })
  fc.assert(fc.property(fc.string({ maxLength: 24 }), fieldName, side, fc.option(fc.tuple(jsonValue, jsonValue), { nil: undefined }), (salt, field, data, change) => {
    const object = { ...(change === undefined ? {} : { changeset: change }), ...(data === undefined ? {} : { data }), field, salt }
    const text = canonicalJson(object)
    t.equal(commitment(salt, field, data, change), sha(text))
    // canonicalJson is the package's output, except integers of 1e21 or more, written as their digits.
    const raw = canonicalize(object)!
    if (!raw.includes('e+')) t.equal(text, raw)
  }), { numRuns: 300 })
  t.equal(commitment('s', 'n', 1.5e21, undefined), sha('{"data":1500000000000000000000,"field":"n","salt":"s"}'), 'an integer of 1e21 or more is hashed as its digits')
  t.equal(commitment('s', 'n', 12345678901234567890n, [null, 12345678901234567890n]),
    sha('{"changeset":[null,12345678901234567890],"data":12345678901234567890,"field":"n","salt":"s"}'), 'a bigint is hashed as its digits')
  t.equal(commitment('s', 'n', undefined, [1, null]), sha('{"changeset":[1,null],"field":"n","salt":"s"}'), 'a field only in the changeset (a delete)')
  t.throws(() => commitment('s', 'n', '\ud800', undefined), { message: /lone surrogate/ }, 'a lone surrogate has no canonical form')
})

t.test('sealing writes the document a version hash is the SHA-256 of', async (t) => {
  const transaction = { issuedAt: '2025-01-15T09:30:00.000Z', recordedAt: '2025-01-15T09:30:00.000Z', actor: 'a', meta: {}, recordedBy: null, revertOf: null }
  fc.assert(fc.property(fc.dictionary(fieldName, jsonValue, { maxKeys: 8 }), fc.nat(1000), (data, n) => {
    const changeset = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, [null, v]]))
    const version = { tenant: 'default', type: 'article', id: String(n), index: 0, operation: 'insert' as const }
    const sealed = sealVersion(version, transaction, data as never, changeset as never, '0'.repeat(64))
    const { commitments } = commitmentsOf({ data, changeset }, sealed.salts, null)
    const expected = sha(canonicalJson({ version: { ...version, transactionId: 7 }, transaction, fields: commitments, previous: '0'.repeat(64) }))
    t.equal(templateHash(sealed.template, 7), expected)
  }), { numRuns: 200 })
})

t.test('a version hash is the SHA-256 of the canonical document, and the template around the transaction id gives the same', async (t) => {
  const doc = (id: string, tenant: string, fields: Record<string, string>, meta: Record<string, unknown>, n: number): HashedDocument => ({
    version: { tenant, type: 'article', id, index: n, transactionId: 1000 + n, operation: 'update' },
    transaction: { issuedAt: '2025-01-15T09:30:00.000Z', recordedAt: '2025-01-15T09:30:00.000Z', actor: 'a', meta: meta as never, recordedBy: { keyId: 'k' }, revertOf: null },
    fields,
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

t.test('the test vectors of the integrity guide', async (t) => {
  const A = 'AAAAAAAAAAAAAAAAAAAAAA'
  t.equal(commitment(A, 'title', 'Hello', [null, 'Hello']), '0abe7d4845ae1627529dcc74cfbd6d206916ab1c2b359156b376cb4d8850fd7c')
  t.equal(commitment(A, 'id', 1, undefined), '7c32320af9c076c173bb6bd33661731ce01e21521d7948d491c4aed69f6e55ae')
  t.equal(commitment(A, 'title', undefined, ['Hello', null]), '8763b64ca488f58d8c71f1e6dcf620b9cddade46ea339ab5a5b98d5295c319ca')
  const { commitments } = commitmentsOf({ data: { id: 1, title: 'Hello' }, changeset: { id: [null, 1], title: [null, 'Hello'] } },
    { id: A, title: 'AQEBAQEBAQEBAQEBAQEBAQ' }, null)
  t.strictSame(commitments, {
    id: 'd349757466f5275e543e09d8a94a835209d3bcf9475f7356424d9256c694ce85',
    title: '6244635d5e55db1f4fd3b3a28ecc19d7ac21d3c69917d11f4f07dc104b8b5650'
  })
  t.equal(versionHash({
    version: { tenant: 'default', type: 'article', id: '1', index: 0, transactionId: 1, operation: 'insert' },
    transaction: { issuedAt: '2025-01-15T09:30:00.000Z', recordedAt: '2025-01-15T09:30:00.000Z', actor: 'alice', meta: {}, recordedBy: { keyId: 'key_Xy3v0Qm9aTbL', keyName: 'backend' }, revertOf: null },
    fields: commitments,
    previous: '0'.repeat(64)
  }), 'd5a3e73b47578f474146fdae9ff4550e48a0b88e220a7c0711a47b86a97d0ba0')
})
