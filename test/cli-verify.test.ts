import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { verifyExport } from '../src/integrity/offline-verify.js'
import { parseJson, toJsonText } from '../src/versioning/json.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'rewind.js')

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs the real command line (as a user would, in a checkout), without tap's loaders. */
async function rewind (...args: string[]): Promise<Run> {
  const { NODE_OPTIONS: _loaders, ...env } = process.env
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', BIN, ...args], { cwd: ROOT, env, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
    })
  })
}

/** A temporary folder for the test's files, removed when it ends. */
async function tempDir (test: Test): Promise<(name: string, content: string) => Promise<string>> {
  const dir = await mkdtemp(join(tmpdir(), 'rewind-verify-'))
  test.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return async (name, content) => {
    const path = join(dir, name)
    await writeFile(path, content)
    return path
  }
}

async function exportText (h: Harness, query = ''): Promise<string> {
  const res = await h.app.inject({ method: 'GET', url: `/export${query}`, headers: { authorization: `Bearer ${h.adminKey}` } })
  if (res.statusCode !== 200) throw new Error(`GET /export: ${res.statusCode} ${res.body}`)
  return res.body
}

async function publicKey (h: Harness): Promise<string> {
  return (await h.app.inject({ method: 'GET', url: '/integrity/public-key' })).body
}

/** The export's lines in memory, for verifyExport (each call reads them anew). */
const inMemory = (text: string) => () => (async function * () { yield * text.split('\n') })()

/** An export's lines parsed (exact integers kept), and written back. */
const parse = (text: string): any[] => text.trim().split('\n').map((l) => parseJson(l))
const unparse = (lines: unknown[]): string => lines.map((l) => `${toJsonText(l)}\n`).join('')

/** Records a transaction whose body is JSON text (to send integers beyond 2^53 exactly); answers its id. */
async function rawTx (h: Harness, body: string): Promise<number> {
  const res = await h.post('/transactions', body)
  if (res.status !== 201) throw new Error(`POST /transactions: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.transaction.id
}

eachDatabase('rewind verify checks an export offline: every value, chain and checkpoint', async (t, h) => {
  for (const [type, definition] of [['person', {}], ['article', {}], ['note', { retention: { keepVersions: 1 } }]] as const) {
    t.equal((await h.put(`/entity-types/${type}`, definition)).status, 201, `${type} registered`)
  }
  const t1 = await rawTx(h, '{"meta":{"ref":9007199254740993},"changes":[{"type":"person","op":"insert","data":{"id":1,"name":"Ann","email":"ann@example.com","big":12345678901234567890}}]}')
  const t2 = await tx(h, ins('article', { id: 1, title: 'one', secret: 's1', author: 1 }), ins('article', { id: 2, title: 'two', secret: 's2' }))
  const t3 = await tx(h, upd('article', '1', { title: 'uno', secret: 's3' }))
  await tx(h, del('article', '2'))
  const reverted = await h.post('/entities/article/1/revert', { to: t2 })
  t.equal(reverted.status, 201, 'article 1 reverted')
  const t5: number = reverted.body.transaction.id
  t.equal((await h.put('/entity-types/article', { exclude: ['secret'] })).status, 200, 'secret excluded after values of it were recorded')
  await tx(h, ins('note', { id: 'n', text: 'a' }))
  await tx(h, upd('note', 'n', { text: 'b' }))
  await tx(h, upd('note', 'n', { text: 'c' }))
  t.equal((await h.post('/integrity/checkpoints')).status, 201, 'checkpoint 1')
  t.equal((await h.post('/retention/run')).status, 200, 'the note\'s older versions pruned (and checkpoint 2 made)')
  await tx(h, upd('person', '1', { name: 'Anna' }))
  t.equal((await h.post('/entities/person/1/redact', { fields: ['email'], reason: 'asked' })).status, 201, 'email redacted')
  t.equal((await h.post('/integrity/checkpoints')).status, 201, 'checkpoint 3')
  t.strictSame((await h.get('/integrity/checkpoints')).body.items.map((c: any) => c.sequence), [3, 2, 1])
  await tx(h, upd('person', '1', { name: 'Annie' })) // after the newest checkpoint: in the export, not covered

  const expected = { ok: true, versionsChecked: 9, checkpointsChecked: 3, problems: [] }
  t.strictSame((await h.post('/integrity/verify', {})).body, expected, 'the service verifies its history')
  const text = await exportText(h)
  const kinds = parse(text).map((l) => l.kind)
  t.equal(kinds.filter((k) => k === 'anchor').length, 1, 'the pruned note has an anchor')
  t.ok(text.includes('"big":12345678901234567890'), 'the export has the exact integer')
  t.ok(text.includes('"ref":9007199254740993'), 'and the exact integer of the meta')
  const pem = await publicKey(h)
  const file = await tempDir(t)
  const exportFile = await file('export.ndjson', text)
  const keyFile = await file('public.pem', pem)

  t.strictSame(await verifyExport(inMemory(text), pem), expected, 'verifyExport: the same report as the service')
  let progress = 0
  await verifyExport(inMemory(text), pem, undefined, (n) => { progress = n })
  t.equal(progress, 2 * text.split('\n').length, 'progress counts the lines of both passes')

  // Edits, each a file to verify.
  const lines = parse(text)
  const txLine = (id: number): any => lines.find((l) => l.kind === 'transaction' && l.transaction.id === id)
  const changedValue = structuredClone(lines)
  const uno = changedValue.find((l) => l.kind === 'transaction' && l.transaction.id === t3).versions[0]
  t.equal(uno.data.title, 'uno')
  uno.data.title = 'UNO'
  const removedVersion = structuredClone(lines)
  removedVersion.find((l) => l.kind === 'transaction' && l.transaction.id === t3).versions = []
  removedVersion[removedVersion.length - 1].versions-- // the end line told the same lie
  const badSignature = structuredClone(lines)
  const signed = badSignature.find((l) => l.kind === 'checkpoint' && l.checkpoint.sequence === 1).checkpoint
  const signature = Buffer.from(signed.signature, 'base64')
  signature[0] = signature[0]! ^ 1
  signed.signature = signature.toString('base64')
  const cut = lines.slice(0, -1)
  t.equal(txLine(t3).versions.length, 1)

  const otherKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const checkpointOf = (sequence: number): any => lines.find((l) => l.kind === 'checkpoint' && l.checkpoint.sequence === sequence).checkpoint
  const [cp1, cp2, cp3] = [checkpointOf(1), checkpointOf(2), checkpointOf(3)]
  const files = {
    changedValue: await file('changed-value.ndjson', unparse(changedValue)),
    removedVersion: await file('removed-version.ndjson', unparse(removedVersion)),
    badSignature: await file('bad-signature.ndjson', unparse(badSignature)),
    cut: await file('cut.ndjson', unparse(cut)),
    otherKey: await file('other.pem', otherKey)
  }
  const [json, changed, removed, forged, short, wrongKey] = await Promise.all([
    rewind('verify', '--export', exportFile, '--public-key', keyFile, '--json'),
    rewind('verify', '--export', files.changedValue, '--public-key', keyFile, '--json'),
    rewind('verify', '--export', files.removedVersion, '--public-key', keyFile, '--json'),
    rewind('verify', '--export', files.badSignature, '--public-key', keyFile, '--json'),
    rewind('verify', '--export', files.cut, '--public-key', keyFile),
    rewind('verify', '--export', exportFile, '--public-key', files.otherKey, '--json')
  ])

  t.equal(json.code, 0, json.stderr)
  t.strictSame(JSON.parse(json.stdout), expected, '--json: the report of POST /integrity/verify')
  t.equal(json.stderr, '', 'no progress bar when stderr is not a terminal')

  t.equal(changed.code, 1, 'a changed value: exit 1')
  t.strictSame(JSON.parse(changed.stdout), {
    ok: false, versionsChecked: 9, checkpointsChecked: 3,
    problems: [{ type: 'article', id: '1', transactionId: t3, problem: 'its hash does not match its contents and the previous version (a version changed, removed, inserted or reordered)' }]
  })

  t.equal(removed.code, 1, 'a removed version: exit 1')
  t.strictSame(JSON.parse(removed.stdout), {
    ok: false, versionsChecked: 8, checkpointsChecked: 3,
    problems: [
      { type: 'article', id: '1', transactionId: t5, problem: 'version after index 0 is index 2: 1 version(s) missing' },
      { type: 'article', id: '1', transactionId: t5, problem: 'its hash does not match its contents and the previous version (a version changed, removed, inserted or reordered)' }
    ]
  })

  t.equal(forged.code, 1, 'an altered signature: exit 1')
  t.strictSame(JSON.parse(forged.stdout), {
    ok: false, versionsChecked: 9, checkpointsChecked: 3,
    problems: [
      { type: null, id: null, transactionId: cp1.upToTransactionId, problem: 'checkpoint 1: its signature is not the service\'s' },
      { type: null, id: null, transactionId: cp2.upToTransactionId, problem: 'checkpoint 2: "previous" is not the hash of checkpoint 1' }
    ]
  })

  t.equal(short.code, 1, 'an export cut before its end: exit 1')
  t.equal(short.stdout, '1 problem in 9 versions and 3 checkpoints\n- - -: the export is cut short: it has no end line\n')

  t.equal(wrongKey.code, 1, 'another key: exit 1')
  t.strictSame(JSON.parse(wrongKey.stdout), {
    ok: false, versionsChecked: 9, checkpointsChecked: 3,
    problems: [
      { type: null, id: null, transactionId: cp1.upToTransactionId, problem: 'checkpoint 1: its signature is not the service\'s' },
      { type: null, id: null, transactionId: cp2.upToTransactionId, problem: 'checkpoint 2: its signature is not the service\'s' },
      { type: null, id: null, transactionId: cp3.upToTransactionId, problem: 'checkpoint 3: its signature is not the service\'s' }
    ]
  })

  // Filtered exports verify too: each entity's first exported version chains to the hash the export names.
  const after = await exportText(h, `?after=${encodeURIComponent(txLine(t2).cursor)}`)
  t.strictSame(await verifyExport(inMemory(after), pem), { ok: true, versionsChecked: 6, checkpointsChecked: 3, problems: [] }, 'an export after a cursor')
  t.strictSame(await verifyExport(inMemory(await exportText(h, '?type=article')), pem), { ok: true, versionsChecked: 5, checkpointsChecked: 3, problems: [] }, 'an export of one type')
})

eachDatabase('rewind verify --checkpoint: a history rolled back past a kept checkpoint', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 1, title: 'one' }))
  const first = await h.post('/integrity/checkpoints')
  await tx(h, upd('article', '1', { title: 'two' }))
  const second = await h.post('/integrity/checkpoints')
  t.strictSame([first.status, second.status], [201, 201])
  const kept = (await h.get('/integrity/checkpoints')).body.items
  t.strictSame(kept.map((c: any) => c.sequence), [2, 1])

  // The owner restores an older backup of the checkpoints (as one with database access could).
  await h.asOwner(async (owner) => {
    for (const table of ['checkpoints', 'checkpoint_heads']) await sql.raw(`alter table ${table} disable trigger ${table}_append_only`).execute(owner)
    await sql`delete from checkpoint_heads where sequence >= 2`.execute(owner)
    await sql`delete from checkpoints where sequence >= 2`.execute(owner)
    for (const table of ['checkpoints', 'checkpoint_heads']) await sql.raw(`alter table ${table} enable trigger ${table}_append_only`).execute(owner)
  })

  const file = await tempDir(t)
  const exportFile = await file('export.ndjson', await exportText(h))
  const keyFile = await file('public.pem', await publicKey(h))
  const [rolledBack, stillThere] = await Promise.all([
    rewind('verify', '--export', exportFile, '--public-key', keyFile, '--checkpoint', await file('kept-2.json', JSON.stringify(kept[0])), '--json'),
    rewind('verify', '--export', exportFile, '--public-key', keyFile, '--checkpoint', await file('kept-1.json', JSON.stringify(kept[1])))
  ])
  t.equal(rolledBack.code, 1, rolledBack.stderr)
  t.strictSame(JSON.parse(rolledBack.stdout), {
    ok: false, versionsChecked: 2, checkpointsChecked: 1,
    problems: [{ type: null, id: null, transactionId: kept[0].upToTransactionId, problem: `the history no longer contains checkpoint 2 (upToTransactionId ${kept[0].upToTransactionId as number}): it was rolled back` }]
  })
  t.equal(stillThere.code, 0, 'a kept checkpoint the history still holds')
  t.equal(stillThere.stdout, 'ok: 2 versions and 1 checkpoint verified\n')
})

t.test('usage errors: exit 2, one line', async (t) => {
  const file = await tempDir(t)
  const empty = await file('empty.ndjson', '')
  const [missing, notAKey, noOption] = await Promise.all([
    rewind('verify', '--export', join(tmpdir(), 'no-such-export.ndjson'), '--public-key', empty),
    rewind('verify', '--export', empty, '--public-key', empty),
    rewind('verify', '--export', empty)
  ])
  t.equal(missing.code, 2)
  t.equal(missing.stderr, `rewind verify: cannot read the export "${join(tmpdir(), 'no-such-export.ndjson')}": no such file\n`)
  t.equal(notAKey.code, 2)
  t.equal(notAKey.stderr, `rewind verify: "${empty}" is not a public key (SPKI PEM, as GET /integrity/public-key answers)\n`)
  t.equal(noOption.code, 2)
  t.match(noOption.stderr, /^error: required option '--public-key <file>' not specified\n/)
})

t.test('verifyExport: lines that are not an export', async (t) => {
  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const header = '{"kind":"export","tenant":"default","exportedAt":"2025-01-01T00:00:00.000Z","filtered":false,"filter":{}}'
  t.strictSame(await verifyExport(inMemory(`${header}\n{"kind":"end","transactions":0,"versions":0}\n`), pem),
    { ok: true, versionsChecked: 0, checkpointsChecked: 0, problems: [] }, 'an empty history')
  t.strictSame(await verifyExport(inMemory(`${header}\n{"kind":"transaction","transac\n`), pem), {
    ok: false, versionsChecked: 0, checkpointsChecked: 0,
    problems: [
      { type: null, id: null, transactionId: null, problem: 'line 2 is not JSON (the export was cut or altered)' },
      { type: null, id: null, transactionId: null, problem: 'the export is cut short: it has no end line' }
    ]
  }, 'a line cut in the middle')
  t.strictSame(await verifyExport(inMemory('{"kind":"end","transactions":0,"versions":0}\n'), pem), {
    ok: false, versionsChecked: 0, checkpointsChecked: 0,
    problems: [
      { type: null, id: null, transactionId: null, problem: 'line 1 is not the export\'s header: the export\'s start is missing' },
      { type: null, id: null, transactionId: null, problem: 'the export has no header line: it cannot be verified' }
    ]
  }, 'no header')
  t.strictSame(await verifyExport(inMemory(`${header}\n{"kind":"transaction","transaction":{"id":1},"versions":[{"type":"a","id":"1","transactionId":1}]}\n{"kind":"end","transactions":1,"versions":1}\n{"kind":"x"}\n`), pem), {
    ok: false, versionsChecked: 1, checkpointsChecked: 0,
    problems: [
      { type: null, id: null, transactionId: null, problem: 'line 4 comes after the end line' },
      { type: null, id: null, transactionId: null, problem: 'line 4 is of an unknown kind "x"' },
      { type: 'a', id: '1', transactionId: 1, problem: 'line 2 is a malformed "transaction" line' }
    ]
  }, 'a malformed version, a line after the end')
})
