import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/http/app.js'
import { createApiKey } from '../src/services/api-keys.js'
import { openDatabase } from '../src/store/database.js'
import { migrateToLatest } from '../src/store/migrate.js'

// `rewind partitions list | archive | restore` (docs/cli.md), run as an operator runs them, on an
// embedded database (DATA_DIR) the service wrote history into and let go of.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'rewind.js')

interface Run { code: number | null, stdout: string, stderr: string }

async function rewind (dataDir: string, ...args: string[]): Promise<Run> {
  const { NODE_OPTIONS: _loaders, DATABASE_URL: _url, ...inherited } = process.env
  return await new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...inherited, DATA_DIR: dataDir }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
    })
  })
}

/**
 * An embedded database in a new folder (gone when the test ends) where the service recorded 7
 * transactions of one article in partitions of 3 ids, then stopped: its folders and admin key.
 */
async function recordedSeven (t: Test): Promise<{ dir: string, dataDir: string, key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rewind-cli-partitions-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const dataDir = join(dir, 'data')
  const db = await openDatabase({ dataDir })
  await migrateToLatest(db)
  const key = (await createApiKey(db, { tenant: 'default', name: 'admin', scopes: ['admin'] })).key
  const app = await buildApp({ db, partitions: { size: 3, ahead: 3 } })
  const call = async (method: 'POST' | 'PUT' | 'GET', url: string, payload?: object): Promise<any> =>
    (await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload }) })).json()
  await call('PUT', '/entity-types/article', {})
  await call('POST', '/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 1, n: 0 } }] })
  for (let n = 1; n < 7; n++) await call('POST', '/transactions', { changes: [{ type: 'article', op: 'update', id: '1', data: { n } }] })
  await app.close()
  return { dir, dataDir, key }
}

/** The service started again on the database: its answer to an admin's request. */
async function reopened (t: Test, dataDir: string, key: string): Promise<(method: 'GET' | 'POST', url: string) => Promise<any>> {
  const app = await buildApp({ db: await openDatabase({ dataDir }), partitions: { size: 3, ahead: 3 } })
  t.teardown(async () => { await app.close() })
  return async (method, url) => (await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(method === 'POST' ? { payload: {} } : {}) })).json()
}

// One recorded database for the whole walk: each command is a process that opens it (seconds each).
t.test('rewind partitions: list, archive the oldest to files, restore them, compact the closed ones', async (t) => {
  const { dir, dataDir, key } = await recordedSeven(t)

  const list = await rewind(dataDir, 'partitions', 'list')
  t.equal(list.code, 0, list.stderr)
  t.strictSame(list.stdout.split('\n').slice(0, 4), ['versions_0\t0..0\tattached', 'versions_1\t1..3\tattached', 'versions_4\t4..6\tattached', 'versions_7\t7..9\tattached'])

  const refused = await rewind(dataDir, 'partitions', 'archive', 'versions_1', '--out', join(dir, 'v1.ndjson'))
  t.equal(refused.code, 1, 'not the oldest attached partition')
  t.match(refused.stderr, /^rewind: partition "versions_1" is not the oldest attached one: archive the older ones first\n$/)

  const v0 = await rewind(dataDir, 'partitions', 'archive', 'versions_0', '--out', join(dir, 'v0.ndjson'))
  t.equal(v0.code, 0, v0.stderr)
  const v1 = await rewind(dataDir, 'partitions', 'archive', 'versions_1', '--out', join(dir, 'v1.ndjson'))
  t.equal(v1.code, 0, v1.stderr)
  const file = await readFile(join(dir, 'v1.ndjson'), 'utf8')
  const sha256 = createHash('sha256').update(file).digest('hex')
  t.equal(v1.stdout, `archived versions_1: 3 versions in ${join(dir, 'v1.ndjson')} (sha256 ${sha256}); it is detached and dropped from the database\n`)
  t.strictSame(file.trimEnd().split('\n').map((l) => JSON.parse(l)).map((r) => r.transaction_id ?? r.partition), ['versions_1', 1, 2, 3])

  const again = await rewind(dataDir, 'partitions', 'archive', 'versions_4', '--out', join(dir, 'v1.ndjson'))
  t.equal(again.code, 1)
  t.match(again.stderr, /exists: archives are never overwritten/)

  const listed = await rewind(dataDir, 'partitions', 'list', '--json')
  t.strictSame(listed.stdout.trimEnd().split('\n').slice(0, 3).map((l) => JSON.parse(l)).map((p) => [p.name, p.state, p.archivedRows, p.archiveSha256]),
    [['versions_0', 'archived', 0, createHash('sha256').update(await readFile(join(dir, 'v0.ndjson'))).digest('hex')], ['versions_1', 'archived', 3, sha256], ['versions_4', 'attached', null, null]])

  const wrongOrder = await rewind(dataDir, 'partitions', 'restore', join(dir, 'v0.ndjson'))
  t.equal(wrongOrder.code, 1)
  t.match(wrongOrder.stderr, /not the newest archived one/)
  const r1 = await rewind(dataDir, 'partitions', 'restore', join(dir, 'v1.ndjson'))
  t.equal(r1.code, 0, r1.stderr)
  t.equal(r1.stdout, 'restored versions_1: 3 versions, attached again\n')
  t.equal((await rewind(dataDir, 'partitions', 'restore', join(dir, 'v0.ndjson'))).code, 0)

  // The restored partitions are closed ones like any other: compacted in entity order.
  const neither = await rewind(dataDir, 'partitions', 'compact')
  t.strictSame([neither.code, neither.stderr], [1, 'rewind: name one partition, or give --closed\n'])
  const open = await rewind(dataDir, 'partitions', 'compact', 'versions_7')
  t.strictSame([open.code, open.stderr], [1, 'rewind: partition "versions_7" may still receive versions (ids up to 9)\n'])
  const closed = await rewind(dataDir, 'partitions', 'compact', '--closed')
  t.equal(closed.code, 0, closed.stderr)
  t.equal(closed.stdout, [
    'compacted versions_0: 0 versions rewritten in entity order',
    'compacted versions_1: 3 versions rewritten in entity order',
    'compacted versions_4: 3 versions rewritten in entity order', ''
  ].join('\n'))
  t.equal((await rewind(dataDir, 'partitions', 'compact', '--closed')).stdout, 'no partition to compact: every closed one is compacted already\n')
  t.match((await rewind(dataDir, 'partitions', 'list')).stdout.split('\n').slice(0, 4),
    [/^versions_0\t0\.\.0\tattached\tcompacted \d{4}-\d\d-\d\dT[\d:.]+Z$/, /^versions_1\t1\.\.3\tattached\tcompacted /, /^versions_4\t4\.\.6\tattached\tcompacted /, /^versions_7\t7\.\.9\tattached$/])

  // The service reads the restored and compacted history as it was, and verifies it.
  const call = await reopened(t, dataDir, key)
  t.strictSame((await call('GET', '/entities/article/1/versions')).items.map((v: any) => [v.transactionId, v.data.n]), [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 5], [7, 6]])
  const verified = await call('POST', '/integrity/verify')
  t.strictSame([verified.ok, verified.problems], [true, []])
})
