import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import canonicalize from 'canonicalize'
import { sql } from 'kysely'
import type { Test } from 'tap'
import { eachDatabase, TEST_DATABASE_URL, type Harness } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { checkProof } from './helpers/proof-checker.js'

// API.md, "Redaction and retention (v2)" and "Integrity (v2)": POST /entities/{type}/{id}/redact
// erases fields' values from every version (and from every answer the service keeps), the
// salts with them; verification and proofs still pass; a type's `redact` fields are never stored.

const S1 = 'first-secret-7f3a@example.org'
const S2 = 'second-secret-9b2c@example.org'
const S3 = 'third-secret-4d1e@example.org'
const SECRETS = [S1, S2, S3]
const NAME = 'Untouched Name Qx'
const NAME2 = 'Untouched Name Zy'
const OTHER_EMAIL = 'other-user-8@example.org'

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex')

/** An answer as the service sent it: status and raw body text (searched for the erased values). */
async function raw (h: Harness, method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> {
  const res = await h.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${h.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) })
  })
  return { status: res.statusCode, text: res.body }
}

const schemaOf = async (h: Harness): Promise<string> =>
  (await sql<{ s: string }>`select current_schema() as s`.execute(h.db)).rows[0]!.s

/** Every row of every table of the test's schema as text, read as the owner. */
async function allRowsText (h: Harness): Promise<string> {
  const schema = await schemaOf(h)
  return await h.asOwner(async (owner) => {
    const tables = (await sql<{ table_name: string }>`select table_name from information_schema.tables
      where table_schema = ${schema} and table_type = 'BASE TABLE' order by table_name`.execute(owner)).rows
    const parts: string[] = []
    for (const { table_name: table } of tables) {
      const { rows } = await sql<{ row: string }>`select t::text as row from ${sql.id(schema, table)} t`.execute(owner)
      parts.push(`-- ${table}\n${rows.map((r) => r.row).join('\n')}`)
    }
    return parts.join('\n')
  })
}

/** The whole database as far as the test's schema goes: pg_dump on PostgreSQL, every row of every table on PGlite. */
async function databaseText (h: Harness): Promise<string> {
  if (h.kind === 'pglite') return await allRowsText(h)
  const binary = existsSync('/usr/lib/postgresql/15/bin/pg_dump') ? '/usr/lib/postgresql/15/bin/pg_dump' : 'pg_dump'
  const { stdout } = await promisify(execFile)(binary, ['--dbname', TEST_DATABASE_URL, '-n', await schemaOf(h)], { maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

function assertNoSecret (t: Test, text: string, what: string): void {
  for (const secret of SECRETS) t.equal(text.includes(secret), false, `${what}: ${secret} does not occur`)
}

interface History { t1: number, t2: number, t3: number, t4: number, createBody: unknown }

/**
 * user 7: inserted with S1 (t1, with an Idempotency-Key, beside user 8), email changed to S2
 * (t2), deleted (t3), inserted again with S3 (t4).
 */
async function recordHistory (t: Test, h: Harness): Promise<History> {
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  const createBody = { changes: [ins('user', { id: 7, email: S1, name: NAME }), ins('user', { id: 8, email: OTHER_EMAIL, name: 'Bob' })] }
  const created = await h.post('/transactions', createBody, { 'idempotency-key': 'create-users' })
  t.equal(created.status, 201)
  const t1 = created.body.transaction.id as number
  const t2 = await tx(h, upd('user', '7', { email: S2 }))
  const t3 = await tx(h, del('user', '7'))
  const t4 = await tx(h, ins('user', { id: 7, email: S3, name: NAME2 }))
  return { t1, t2, t3, t4, createBody }
}

eachDatabase('a redaction erases the values from every answer and from the database', async (t, h) => {
  const { t1, t2, t3, t4, createBody } = await recordHistory(t, h)
  const before = await raw(h, 'GET', '/entities/user/7/versions')
  t.equal(before.text.includes(S1) && before.text.includes(S2) && before.text.includes(S3), true, 'the values are there before')
  t.equal((await databaseText(h)).includes(S1), true, 'the database text holds the value before (the search can find it)')
  // The revert dry run's answer, stored under an Idempotency-Key, is scrubbed too.
  const storedRevert = await h.post('/entities/user/7/revert', { to: t2, dryRun: true }, { 'idempotency-key': 'revert-7' })
  t.equal(storedRevert.status, 200, JSON.stringify(storedRevert.body))

  const res = await h.post('/entities/user/7/redact', { fields: ['email'], reason: 'erasure request #12' })
  t.equal(res.status, 201, JSON.stringify(res.body))
  const id = res.body.id as string
  t.match(id, /^red_[0-9a-f]+$/)
  t.strictSame(Object.keys(res.body).sort(), ['createdAt', 'entityId', 'fields', 'id', 'reason', 'recordedBy', 'type', 'versions'])
  t.equal(res.body.type, 'user')
  t.equal(res.body.entityId, '7')
  t.strictSame(res.body.fields, ['email'])
  t.equal(res.body.reason, 'erasure request #12')
  t.equal(res.body.versions, 4, 'all four versions held the field (the delete in its changeset)')
  t.equal(res.body.recordedBy.keyId === null ? null : typeof res.body.recordedBy.keyId, 'string')
  t.equal(Number.isFinite(Date.parse(res.body.createdAt)), true)
  const M = { $redacted: id }

  // Every read.
  const list = await raw(h, 'GET', '/entities/user/7/versions')
  t.equal(list.status, 200)
  assertNoSecret(t, list.text, 'versions list')
  const items = JSON.parse(list.text).items
  t.strictSame(items.map((v: any) => [v.transactionId, v.operation, v.data, v.changeset]), [
    [t1, 'insert', { id: 7, email: M, name: NAME }, { id: [null, 7], email: [null, M], name: [null, NAME] }],
    [t2, 'update', { id: 7, email: M, name: NAME }, { email: [M, M] }],
    [t3, 'delete', { id: 7, email: M, name: NAME }, { id: [7, null], email: [M, null], name: [NAME, null] }],
    [t4, 'insert', { id: 7, email: M, name: NAME2 }, { id: [null, 7], email: [null, M], name: [null, NAME2] }]
  ], 'data and changesets show the marker: an update both sides, an insert [null, marker], a delete [marker, null]')

  for (const [tid, data, changeset] of [
    [t1, { id: 7, email: M, name: NAME }, { id: [null, 7], email: [null, M], name: [null, NAME] }],
    [t2, { id: 7, email: M, name: NAME }, { email: [M, M] }],
    [t3, { id: 7, email: M, name: NAME }, { id: [7, null], email: [M, null], name: [NAME, null] }],
    [t4, { id: 7, email: M, name: NAME2 }, { id: [null, 7], email: [null, M], name: [null, NAME2] }]
  ] as const) {
    const one = await raw(h, 'GET', `/entities/user/7/versions/${tid}`)
    t.equal(one.status, 200)
    assertNoSecret(t, one.text, `version ${tid}`)
    const body = JSON.parse(one.text)
    t.strictSame(body.data, data, `version ${tid}: data`)
    t.strictSame(body.changeset, changeset, `version ${tid}: changeset`)
  }

  const now = await raw(h, 'GET', '/entities/user/7')
  t.equal(now.status, 200)
  assertNoSecret(t, now.text, 'current state')
  t.strictSame(JSON.parse(now.text).data, { id: 7, email: M, name: NAME2 })
  const then = await raw(h, 'GET', `/entities/user/7?at=${t2}`)
  t.equal(then.status, 200)
  assertNoSecret(t, then.text, '?at=')
  t.strictSame(JSON.parse(then.text).data, { id: 7, email: M, name: NAME })

  for (const tid of [t1, t2, t3, t4]) {
    const detail = await raw(h, 'GET', `/transactions/${tid}`)
    t.equal(detail.status, 200)
    assertNoSecret(t, detail.text, `transaction ${tid}`)
    const versions = await raw(h, 'GET', `/transactions/${tid}/versions`)
    t.equal(versions.status, 200)
    assertNoSecret(t, versions.text, `transaction ${tid} versions`)
  }
  const first = JSON.parse((await raw(h, 'GET', `/transactions/${t1}`)).text)
  t.strictSame(first.versions.map((v: any) => v.data.email), [M, OTHER_EMAIL], 'another entity\'s value is untouched')

  const changeset = await raw(h, 'GET', `/entities/user/7/changeset?from=${t3}&to=${t4}`)
  t.equal(changeset.status, 200)
  assertNoSecret(t, changeset.text, 'changeset')
  t.strictSame(JSON.parse(changeset.text).email, [null, M])
  const across = await raw(h, 'GET', `/entities/user/7/changeset?from=${t1}&to=${t4}`)
  t.equal(across.status, 200)
  assertNoSecret(t, across.text, 'changeset across')
  t.strictSame(JSON.parse(across.text).name, [NAME, NAME2])

  const dryRun = await raw(h, 'POST', '/entities/user/7/revert', { to: t2, dryRun: true })
  t.equal(dryRun.status, 200, dryRun.text)
  assertNoSecret(t, dryRun.text, 'revert dry run')
  t.equal(JSON.parse(dryRun.text).changes.length > 0, true, 'the dry run has changes')
  const revertReplay = await raw(h, 'POST', '/entities/user/7/revert', { to: t2, dryRun: true }, { 'idempotency-key': 'revert-7' })
  t.equal(revertReplay.status, 200, revertReplay.text)
  assertNoSecret(t, revertReplay.text, 'stored revert answer')

  const exported = await raw(h, 'GET', '/export')
  t.equal(exported.status, 200)
  assertNoSecret(t, exported.text, 'export')
  t.equal(exported.text.includes(OTHER_EMAIL), true, 'the export still holds the other values')

  const replay = await raw(h, 'POST', '/transactions', createBody, { 'idempotency-key': 'create-users' })
  t.equal(replay.status, 201, replay.text)
  assertNoSecret(t, replay.text, 'idempotent replay')
  const replayed = JSON.parse(replay.text)
  t.equal(replayed.transaction.id, t1, 'the stored answer')
  t.strictSame(replayed.versions.map((v: any) => [v.id, v.data.email, v.changeset.email]), [['7', M, [null, M]], ['8', OTHER_EMAIL, [null, OTHER_EMAIL]]])

  const redactions = await raw(h, 'GET', '/redactions')
  t.equal(redactions.status, 200)
  assertNoSecret(t, redactions.text, 'redactions')
  t.strictSame(JSON.parse(redactions.text).items.map((r: any) => [r.id, r.type, r.entityId, r.fields, r.reason, r.versions]),
    [[id, 'user', '7', ['email'], 'erasure request #12', 4]])

  // The database.
  const dump = await databaseText(h)
  assertNoSecret(t, dump, h.kind === 'postgres' ? 'pg_dump of the schema' : 'every row of the schema')
  t.equal(dump.includes(NAME2), true, 'an untouched value of another field is still stored')
  t.equal(dump.includes(OTHER_EMAIL), true, 'another entity\'s value is still stored')
})

eachDatabase('after a redaction verify passes, proofs check, nothing can be tried against guesses, a write records correctly', async (t, h) => {
  const { t1 } = await recordHistory(t, h)
  t.equal((await h.post('/integrity/checkpoints')).status, 201)
  const key = (await h.app.inject({ method: 'GET', url: '/integrity/public-key' })).body
  const proofBefore = await h.get(`/entities/user/7/versions/${t1}/proof`)
  t.equal(proofBefore.status, 200)
  const oldSalt = proofBefore.body.values.salts.email as string
  t.equal(typeof oldSalt, 'string', 'before: the email has a salt')
  const commitment = proofBefore.body.document.fields.email as string
  t.equal(sha256Hex(canonicalize({ changeset: [null, S1], data: S1, field: 'email', salt: oldSalt })!), commitment, 'with its salt, a candidate value checks against the commitment')

  const res = await h.post('/entities/user/7/redact', { fields: ['email'] })
  t.equal(res.status, 201)
  t.equal(res.body.reason, null)
  const M = { $redacted: res.body.id }

  const verified = await h.post('/integrity/verify', {})
  t.equal(verified.status, 200)
  t.equal(verified.body.ok, true, JSON.stringify(verified.body.problems))
  t.strictSame(verified.body.problems, [])
  t.equal(verified.body.versionsChecked, 5)

  t.equal((await h.post('/integrity/checkpoints')).status, 201, 'a checkpoint covering the redaction')
  const proof = await h.get(`/entities/user/7/versions/${t1}/proof`)
  t.equal(proof.status, 200, JSON.stringify(proof.body))
  t.strictSame(checkProof(proof.body, key), [], 'the independent checker accepts the redacted version\'s proof')
  t.equal(Object.hasOwn(proof.body.values.salts, 'email'), false, 'the erased field has no salt')
  t.equal(typeof proof.body.values.salts.name, 'string', 'the other fields keep theirs')
  t.strictSame(proof.body.values.data.email, M)
  t.equal(proof.body.document.fields.email, commitment, 'the commitment is unchanged')
  t.equal(JSON.stringify(proof.body).includes(oldSalt), false, 'the proof does not carry the erased salt')

  // The stored rows: no salt for the field, its 64-hex commitment in `erased`.
  const rows = await h.asOwner(async (owner) => (await sql<{ seq: number, salts: Record<string, string>, erased: any }>`
    select seq, salts, erased from versions where type = 'user' and entity_key = '7' order by seq`.execute(owner)).rows)
  t.equal(rows.length, 4)
  for (const row of rows) {
    t.equal(Object.hasOwn(row.salts, 'email'), false, `index ${row.seq}: no salt for the field`)
    t.equal(Object.hasOwn(row.salts, 'name'), true, `index ${row.seq}: the name keeps its salt`)
    t.match(row.erased.email, /^[0-9a-f]{64}$/, `index ${row.seq}: erased.email is a commitment`)
  }
  t.equal(rows[0]!.erased.email, commitment)
  t.not(sha256Hex(canonicalize({ changeset: [null, S1], data: S1, field: 'email', salt: '' })!), commitment, 'the value without its salt does not match')
  t.equal((await databaseText(h)).includes(oldSalt), false, 'the erased salt is nowhere in the database')

  // Unredacted values still verify: tampering with one is caught.
  // (First, this process writes the entity again: the erased value does not come back.)
  const again = await h.post('/transactions', { changes: [upd('user', '7', { email: 'fresh@example.org' })] })
  t.equal(again.status, 201)
  t.strictSame(again.body.versions[0].changeset, { email: [M, 'fresh@example.org'] }, 'the old side is the marker')
  t.equal(again.body.versions[0].index, 4)
  const renamed = await h.post('/transactions', { changes: [upd('user', '7', { name: 'Renamed' })] })
  t.equal(renamed.status, 201)
  t.strictSame(renamed.body.versions[0].changeset, { name: [NAME2, 'Renamed'] })
  t.strictSame(renamed.body.versions[0].data, { id: 7, email: 'fresh@example.org', name: 'Renamed' })
  assertNoSecret(t, (await raw(h, 'GET', '/entities/user/7/versions')).text, 'versions after new writes')
  t.strictSame((await h.post('/integrity/verify', {})).body.problems, [], 'verify passes after the new writes')

  await h.asOwner(async (owner) => {
    await sql`alter table versions disable trigger versions_append_only`.execute(owner)
    await sql`update versions set data = jsonb_set(data, '{name}', '"hacked"') where type = 'user' and entity_key = '7' and seq = 0`.execute(owner)
    await sql`alter table versions enable trigger versions_append_only`.execute(owner)
  })
  const tampered = await h.post('/integrity/verify', {})
  t.equal(tampered.body.ok, false)
  t.strictSame([...new Set(tampered.body.problems.map((p: any) => `${p.type}/${p.id}/${p.transactionId}`))], [`user/7/${t1}`], JSON.stringify(tampered.body.problems))
})

eachDatabase('write-time redaction: a type\'s redact fields are never stored', async (t, h) => {
  const SSN = '078-05-1120-secret'
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  const types = await h.newKey(['types'])
  const refused = await h.request('PUT', '/entity-types/user', { redact: { fields: ['ssn'] } }, { authorization: `Bearer ${types.key}` })
  assertProblem(t, refused, 403, 'a types-only key')
  t.equal((await h.get('/entity-types/user')).body.definition.redact, undefined, 'the refused change changed nothing')
  const put = await h.put('/entity-types/user', { redact: { fields: ['ssn'] } })
  t.equal(put.status, 200, JSON.stringify(put.body))
  t.strictSame(put.body.definition.redact, { fields: ['ssn'] })

  const W = { $redacted: 'write-time' }
  const res = await raw(h, 'POST', '/transactions', { changes: [ins('user', { id: 1, ssn: SSN, name: 'Ann' })] }, { 'idempotency-key': 'ssn-1' })
  t.equal(res.status, 201, res.text)
  t.equal(res.text.includes(SSN), false, 'the answer does not show it')
  const version = JSON.parse(res.text).versions[0]
  t.strictSame(version.data, { id: 1, ssn: W, name: 'Ann' })
  t.strictSame(version.changeset, { id: [null, 1], ssn: [null, W], name: [null, 'Ann'] })
  const read = await raw(h, 'GET', '/entities/user/1/versions')
  t.equal(read.text.includes(SSN), false)
  t.strictSame(JSON.parse(read.text).items[0].data.ssn, W)

  const row = await h.asOwner(async (owner) => (await sql<{ data: any, changeset: any, salts: any, erased: any }>`
    select data, changeset, salts, erased from versions where type = 'user' and entity_key = '1'`.execute(owner)).rows[0]!)
  t.strictSame(row.data.ssn, W, 'stored as the marker')
  t.strictSame(row.changeset.ssn, [null, W])
  t.equal(Object.hasOwn(row.salts, 'ssn'), false, 'no salt')
  t.match(row.erased.ssn, /^[0-9a-f]{64}$/, 'its commitment is kept')
  t.equal((await allRowsText(h)).includes(SSN), false, 'the value is stored nowhere (nor in the idempotent answer)')
  t.equal((await allRowsText(h)).includes('Ann'), true, 'the other values are')

  const verified = await h.post('/integrity/verify', {})
  t.equal(verified.body.ok, true, JSON.stringify(verified.body.problems))
  t.strictSame(verified.body.problems, [])
})

eachDatabase('a redaction request is checked: 400, 404, 403, and a rejected one changes nothing', async (t, h) => {
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  await tx(h, ins('user', { id: 7, email: S1, name: NAME }))
  const stored = async (): Promise<string> => await h.asOwner(async (owner) => JSON.stringify((await sql`
    select (select json_agg(v order by seq) from versions v) as versions,
           (select json_agg(r order by sequence) from integrity_records r) as records`.execute(owner)).rows))
  const snapshot = await stored()

  const empty = await h.post('/entities/user/7/redact', { fields: [] })
  assertProblem(t, empty, 400, 'empty fields')
  t.match(empty.body.detail, /fields/)
  const idField = await h.post('/entities/user/7/redact', { fields: ['email', 'id'] })
  assertProblem(t, idField, 400, 'an id field')
  t.match(idField.body.detail, /"id"/)
  const unknown = await h.post('/entities/user/7/redact', { fields: ['email'], because: 'x' })
  assertProblem(t, unknown, 400, 'an unknown member')
  t.match(unknown.body.detail, /because/)
  assertProblem(t, await h.post('/entities/nope/7/redact', { fields: ['email'] }), 404, 'an unknown type')
  assertProblem(t, await h.post('/entities/user/99/redact', { fields: ['email'] }), 404, 'an entity without versions')
  const writer = await h.newKey(['read', 'write', 'revert', 'types'])
  assertProblem(t, await h.request('POST', '/entities/user/7/redact', { fields: ['email'] }, { authorization: `Bearer ${writer.key}` }), 403, 'a non-admin key')

  t.equal(await stored(), snapshot, 'no version and no record changed')
  t.strictSame((await h.get('/redactions')).body.items, [])
  t.equal((await h.get('/entities/user/7')).body.data.email, S1, 'the value is still there')
})
