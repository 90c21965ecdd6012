import { sql } from 'kysely'
import { eachDatabase } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { checkProof } from './helpers/proof-checker.js'

eachDatabase('hashes chain, checkpoints sign, proofs prove, verify passes', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const t1 = await tx(h, ins('article', { id: 1, title: 'one' }), ins('article', { id: 2, title: 'two' }))
  const t2 = await tx(h, upd('article', '1', { title: 'uno' }))
  const versions = (await h.get('/entities/article/1/versions')).body.items
  t.match(versions[0].hash, /^[0-9a-f]{64}$/, 'a version has a hash')
  t.not(versions[0].hash, versions[1].hash)

  const made = await h.post('/integrity/checkpoints')
  t.equal(made.status, 201, JSON.stringify(made.body))
  t.equal(made.body.sequence, 1)
  t.equal(made.body.upToTransactionId, t2)
  t.equal(made.body.versions, 3)
  t.equal(made.body.previous, null)

  const key = await h.app.inject({ method: 'GET', url: '/integrity/public-key' })
  t.equal(key.statusCode, 200)
  t.match(key.body, /^-----BEGIN PUBLIC KEY-----/)

  const proof = await h.get(`/entities/article/1/versions/${t1}/proof`)
  t.equal(proof.status, 200, JSON.stringify(proof.body))
  t.strictSame(checkProof(proof.body, key.body), [], 'an independent checker accepts the proof')
  const forged = structuredClone(proof.body)
  forged.values.data.title = 'forged'
  t.strictSame(checkProof(forged, key.body), ['field title'], 'a changed value fails its commitment')

  const verified = await h.post('/integrity/verify', {})
  t.strictSame(verified.body, { ok: true, versionsChecked: 3, checkpointsChecked: 1, problems: [] })

  await h.asOwner(async (owner) => {
    await sql`alter table versions disable trigger versions_append_only`.execute(owner)
    await sql`update versions set data = jsonb_set(data, '{title}', '"hacked"') where entity_key = '2'`.execute(owner)
    await sql`alter table versions enable trigger versions_append_only`.execute(owner)
  })
  const tampered = await h.post('/integrity/verify', {})
  t.equal(tampered.body.ok, false)
  t.strictSame(tampered.body.problems.map((p: any) => [p.type, p.id, p.transactionId]), [['article', '2', t1]], JSON.stringify(tampered.body.problems))

  const exported = await h.app.inject({ method: 'GET', url: '/export', headers: { authorization: `Bearer ${h.adminKey}` } })
  t.equal(exported.statusCode, 200)
  t.equal(exported.headers['content-type'], 'application/x-ndjson')
  const kinds = exported.body.trim().split('\n').map((l) => JSON.parse(l).kind)
  t.strictSame(kinds, ['export', 'transaction', 'transaction', 'record', 'checkpoint', 'head', 'head', 'end'])
})
