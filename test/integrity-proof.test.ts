import { generateKeyPairSync } from 'node:crypto'
import type { Test } from 'tap'
import { sql } from 'kysely'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { checkProof } from './helpers/proof-checker.js'

// GET /entities/{type}/{id}/versions/{t}/proof, checked by an independent checker with the
// public key alone.

async function publicKey (h: Harness): Promise<string> {
  const res = await h.app.inject({ method: 'GET', url: '/integrity/public-key' })
  if (res.statusCode !== 200) throw new Error(`GET /integrity/public-key: ${res.statusCode}`)
  return res.body
}

async function proofOf (t: Test, h: Harness, type: string, id: string, transactionId: number): Promise<any> {
  const res = await h.get(`/entities/${type}/${id}/versions/${transactionId}/proof`)
  t.equal(res.status, 200, JSON.stringify(res.body))
  return res.body
}

/**
 * 13 items (ids 1..13: leaves in code point order '1', '10', '11', '12', '13', '2', …, '9'),
 * item 7 with four versions; answers its transactions.
 */
async function items (t: Test, h: Harness): Promise<[number, number, number, number]> {
  t.equal((await h.put('/entity-types/item', {})).status, 201)
  const t1 = await tx(h, ...Array.from({ length: 13 }, (_, i) => ins('item', { id: i + 1, name: `item ${i + 1}`, n: i })))
  const t2 = await tx(h, upd('item', '7', { name: 'seven', n: 70 }))
  const t3 = await tx(h, upd('item', '7', { name: 'seven', n: 700 }), upd('item', '3', { name: 'three', n: 3 }))
  const t4 = await tx(h, upd('item', '7', { name: 'SEVEN', n: 7000 }))
  return [t1, t2, t3, t4]
}

eachDatabase('proof: the first, a middle and the latest version of an entity among many check', async (t, h) => {
  const [t1, t2, t3, t4] = await items(t, h)
  const made = await h.post('/integrity/checkpoints')
  t.equal(made.status, 201)
  const key = await publicKey(h)
  const versions = (await h.get('/entities/item/7/versions')).body.items
  t.strictSame(versions.map((v: any) => v.transactionId), [t1, t2, t3, t4])

  for (const [at, transactionId] of [[0, t1], [1, t2], [2, t3], [3, t4]] as const) {
    const proof = await proofOf(t, h, 'item', '7', transactionId)
    t.strictSame(checkProof(proof, key), [], `version ${at} checks`)
    t.strictSame(proof.version, { type: 'item', id: '7', transactionId, index: at, hash: versions[at].hash })
    t.equal(proof.chain.length, 3 - at, 'the later versions up to the head')
    t.strictSame(proof.leaf, { type: 'item', id: '7', hash: versions[3].hash })
    t.equal(proof.leafIndex, 10)
    t.equal(proof.treeSize, 13)
    t.equal(proof.auditPath.length, 4)
    t.strictSame(proof.checkpoint, made.body)
    t.strictSame(proof.values.data, versions[at].data)
  }

  // Leaves across the tree: the first, one in the left subtree, and the last (a lone right leaf).
  for (const [id, leafIndex, pathLength] of [['1', 0, 4], ['13', 4, 4], ['2', 5, 4], ['9', 12, 2]] as const) {
    const proof = await proofOf(t, h, 'item', id, t1)
    t.strictSame(checkProof(proof, key), [], `item ${id} checks`)
    t.equal(proof.leafIndex, leafIndex, `item ${id} is leaf ${leafIndex}`)
    t.equal(proof.treeSize, 13)
    t.equal(proof.auditPath.length, pathLength)
  }
  const three = await proofOf(t, h, 'item', '3', t1)
  t.strictSame(checkProof(three, key), [])
  t.equal(three.chain.length, 1)

  // The checker is not a rubber stamp.
  const last = await proofOf(t, h, 'item', '9', t1)
  t.strictSame(checkProof({ ...last, leafIndex: 11 }, key), ['inclusion'])
  t.strictSame(checkProof({ ...last, auditPath: [...last.auditPath].reverse() }, key), ['inclusion'])
  const middle = await proofOf(t, h, 'item', '7', t2)
  t.strictSame(checkProof({ ...middle, chain: middle.chain.slice(1) }, key), ['chain link'])
  t.strictSame(checkProof({ ...middle, checkpoint: { ...middle.checkpoint, root: middle.checkpoint.root.replace(/^./, (c: string) => c === '0' ? '1' : '0') } }, key), ['signature', 'inclusion'])
  const otherKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
  t.strictSame(checkProof(middle, otherKey), ['signature'], 'another key')
})

eachDatabase('proof: a version whose stored data was tampered with fails the independent checker', async (t, h) => {
  const [, t2, t3, t4] = await items(t, h)
  t.equal((await h.post('/integrity/checkpoints')).status, 201)
  const key = await publicKey(h)
  t.strictSame(checkProof(await proofOf(t, h, 'item', '7', t2), key), [])
  const tamper = async (transactionId: number): Promise<void> => {
    await h.asOwner(async (owner) => {
      await sql`alter table versions disable trigger versions_append_only`.execute(owner)
      await sql`update versions set data = jsonb_set(data, '{n}', '71') where type = 'item' and entity_key = '7' and transaction_id = ${transactionId}`.execute(owner)
      await sql`alter table versions enable trigger versions_append_only`.execute(owner)
    })
  }
  await tamper(t2)
  const middle = await proofOf(t, h, 'item', '7', t2)
  t.equal(middle.values.data.n, 71, 'the proof shows the stored (tampered) value')
  t.strictSame(checkProof(middle, key), ['version hash', 'chain link'])
  t.strictSame(checkProof(await proofOf(t, h, 'item', '7', t3), key), [], 'a later version does not depend on an earlier one\'s values')
  await tamper(t4)
  const latest = await proofOf(t, h, 'item', '7', t4)
  t.strictSame(checkProof(latest, key), ['version hash', 'head'])
  // The proof's document commits to the value as stored now; the value that was hashed no longer matches that document.
  t.strictSame(checkProof({ ...middle, values: { ...middle.values, data: { ...middle.values.data, n: 70 } } }, key), ['field n', 'version hash', 'chain link'])
})

eachDatabase('proof: a version no checkpoint covers yet gets one; unknown versions are 404', async (t, h) => {
  const [t1, , , t4] = await items(t, h)
  const first = await h.post('/integrity/checkpoints')
  t.equal(first.body.upToTransactionId, t4)
  const t5 = await tx(h, upd('item', '7', { name: 'seven', n: 7 }), ins('item', { id: 14, name: 'fourteen', n: 14 }))
  t.strictSame((await h.get('/integrity/checkpoints')).body.items.map((c: any) => c.sequence), [1])

  const proof = await proofOf(t, h, 'item', '14', t5)
  const listed = (await h.get('/integrity/checkpoints')).body.items
  t.strictSame(listed.map((c: any) => [c.sequence, c.upToTransactionId]), [[2, t5], [1, t4]], 'a checkpoint was made')
  t.strictSame(proof.checkpoint, listed[0])
  t.equal(proof.treeSize, 14)
  t.equal(proof.leafIndex, 5, "'14' sorts after '13'")
  t.strictSame(checkProof(proof, await publicKey(h)), [])
  // An older version is proved by the newest checkpoint that covers it.
  const older = await proofOf(t, h, 'item', '7', t1)
  t.equal(older.checkpoint.sequence, 2)
  t.equal(older.chain.length, 4)
  t.strictSame(checkProof(older, await publicKey(h)), [])
  t.equal((await h.get('/integrity/checkpoints')).body.items.length, 2, 'no checkpoint made when one covers the version')

  for (const url of [
    `/entities/item/7/versions/${t5 + 100}/proof`,
    `/entities/item/99/versions/${t1}/proof`,
    `/entities/item/3/versions/${t4}/proof`
  ]) {
    const res = await h.get(url)
    t.equal(res.status, 404, `${url}: ${JSON.stringify(res.body)}`)
  }
})

eachDatabase('proof: after a redaction, proofs still check (erased values have no salt)', async (t, h) => {
  t.equal((await h.put('/entity-types/person', {})).status, 201)
  const t1 = await tx(h, ins('person', { id: 1, name: 'Ann', email: 'ann@example.com' }), ins('person', { id: 2, name: 'Bo', email: 'bo@example.com' }))
  const t2 = await tx(h, upd('person', '1', { name: 'Ann', email: 'ann@example.org' }))
  const t3 = await tx(h, upd('person', '1', { name: 'Anne', email: 'ann@example.org' }))
  t.equal((await h.post('/integrity/checkpoints')).status, 201)
  const key = await publicKey(h)
  const before = await proofOf(t, h, 'person', '1', t2)
  t.strictSame(checkProof(before, key), [])

  const redaction = await h.post('/entities/person/1/redact', { fields: ['email'], reason: 'erasure request' })
  t.equal(redaction.status, 201, JSON.stringify(redaction.body))
  const marker = { $redacted: redaction.body.id }
  for (const transactionId of [t1, t2, t3]) {
    const proof = await proofOf(t, h, 'person', '1', transactionId)
    t.strictSame(checkProof(proof, key), [], `version of ${transactionId} checks after the redaction`)
    t.strictSame(proof.values.data.email, marker)
    t.equal(Object.hasOwn(proof.values.salts, 'email'), false, 'the erased field has no salt')
    t.equal(Object.hasOwn(proof.values.salts, 'name'), true)
    t.equal(proof.version.hash, (await h.get(`/entities/person/1/versions/${transactionId}`)).body.hash)
    // A value not erased still verifies against its commitment.
    t.strictSame(checkProof({ ...proof, values: { ...proof.values, data: { ...proof.values.data, name: 'Eve' } } }, key), ['field name'])
  }
  const changed = await proofOf(t, h, 'person', '1', t2)
  t.strictSame(changed.values.changeset.email, [marker, marker])
  t.strictSame(changed.document, before.document, 'the hashed document is unchanged: the erased value\'s commitment is kept')
  t.strictSame(checkProof(await proofOf(t, h, 'person', '2', t1), key), [], 'another entity is untouched')

  // Under a checkpoint made after the redaction (it covers the redaction record).
  const second = await h.post('/integrity/checkpoints')
  t.equal(second.status, 201)
  t.not(second.body.records, before.checkpoint.records)
  const now = await proofOf(t, h, 'person', '1', t1)
  t.equal(now.checkpoint.sequence, 2)
  t.strictSame(checkProof(now, key), [])
  t.strictSame((await h.post('/integrity/verify', {})).body, { ok: true, versionsChecked: 4, checkpointsChecked: 2, problems: [] })
})
