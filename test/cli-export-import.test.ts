import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { databaseKinds, eachDatabase, TEST_DATABASE_URL, type Harness } from './helpers/harness.js'
import { as } from './helpers/access.js'
import { del, ins, tx, upd } from './helpers/changes.js'
import { verifyExport } from '../src/integrity/offline-verify.js'

// `rewind export` and `rewind import`, run as a user runs them, against the app listening on a port:
// one app per database, every case a subtest of it.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'rewind.js')

interface Run { code: number | null, stdout: string, stderr: string }

/**
 * The command line compiled once for this file (esbuild, the type-stripping tsx does, as the
 * Docker image runs the compiled build): a run through bin/rewind.js starts tsx, about half a
 * second of CPU each, and this file runs the command some thirty times. Written under
 * node_modules/.cache so that its packages resolve as the sources' do. Where esbuild cannot
 * be loaded, bin/rewind.js.
 */
async function compiledCli (): Promise<string> {
  try {
    const { build } = await import('esbuild')
    const outdir = join(ROOT, 'node_modules', '.cache', `rewind-cli-test-${process.pid}`)
    t.teardown(async () => { await rm(outdir, { recursive: true, force: true }) })
    await build({
      entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')], outdir, outExtension: { '.js': '.mjs' },
      bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', logLevel: 'silent'
    })
    return join(outdir, 'main.mjs')
  } catch {
    return BIN
  }
}
const CLI = await compiledCli()

/** Runs a script of the command line (without tap's loaders), with the environment given (and no REWIND_* of the caller's). */
async function spawnCli (script: string, env: Record<string, string>, args: string[]): Promise<Run> {
  const { NODE_OPTIONS: _loaders, REWIND_URL: _url, REWIND_API_KEY: _key, ...inherited } = process.env
  return await new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: ROOT, env: { ...inherited, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
    })
  })
}
const rewind = async (env: Record<string, string>, ...args: string[]): Promise<Run> => await spawnCli(CLI, env, args)
/** Through bin/rewind.js, as a user runs it (tsx and the sources). */
const rewindBin = async (env: Record<string, string>, ...args: string[]): Promise<Run> => await spawnCli(BIN, env, args)

/** A port nothing listens on (taken, then let go). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

async function tempDir (test: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rewind-export-import-'))
  test.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function exportText (h: Harness, key: string, query = ''): Promise<string> {
  const res = await as(h.app, key, 'GET', `/export${query}`)
  if (res.status !== 200) throw new Error(`GET /export: ${res.status} ${res.text}`)
  return res.text
}

/** An export with the time it was made left out (two exports differ in nothing else). */
const timeless = (text: string): string => text.replace(/^(\{"kind":"export","tenant":"[^"]*","exportedAt":)"[^"]*"/, '$1"…"')

/** An export's lines in memory, for verifyExport (each call reads them anew). */
const inMemory = (text: string) => () => (async function * () { yield * text.split('\n') })()

const kindsOf = (text: string): string[] => text.trim().split('\n').map((l) => (JSON.parse(l) as { kind: string }).kind)

/** The byte offset just after the n-th line (1-based) of a text, and one inside that line. */
function offsets (text: string, n: number): { after: number, inside: number } {
  const bytes = Buffer.from(text)
  let end = -1
  for (let i = 0; i < n; i++) end = bytes.indexOf(10, end + 1)
  const start = n === 1 ? 0 : bytes.lastIndexOf(10, end - 1) + 1
  return { after: end + 1, inside: start + Math.floor((end - start) / 2) }
}

/** The SQL of docs/import-from-continuum.md (the block that starts `-- continuum-to-rewind.sql`). */
async function continuumQuery (): Promise<string> {
  const doc = await readFile(join(ROOT, 'docs', 'import-from-continuum.md'), 'utf8')
  const match = /```sql\n(-- continuum-to-rewind\.sql[\s\S]*?)```/.exec(doc)
  if (match === null) throw new Error('docs/import-from-continuum.md has no continuum-to-rewind.sql block')
  return match[1]!
}

/** Why a case that does not depend on the database runs on the first kind only. */
const ONCE = 'what it checks does not depend on the database: run on the first kind only'

eachDatabase('rewind export and rewind import, over HTTP', async (t, h) => {
  const once = h.kind === (await databaseKinds())[0]
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  const env = { REWIND_URL: url, REWIND_API_KEY: h.adminKey }
  const dir = await tempDir(t)
  const path = (name: string): string => join(dir, name)

  // A small history: pruned versions (an anchor), a redaction (a record), three checkpoints, and a
  // transaction after the newest one.
  for (const [type, definition] of [['person', {}], ['article', {}], ['note', { retention: { keepVersions: 1 } }]] as const) {
    t.equal((await h.put(`/entity-types/${type}`, definition)).status, 201, `${type} registered`)
  }
  await tx(h, ins('person', { id: 1, name: 'Ann', email: 'ann@example.com' }))
  await tx(h, ins('article', { id: 1, title: 'one', author: 1 }), ins('article', { id: 2, title: 'two' }))
  await tx(h, upd('article', '1', { title: 'uno' }))
  await tx(h, del('article', '2'))
  await tx(h, ins('note', { id: 'n', text: 'a' }))
  await tx(h, upd('note', 'n', { text: 'b' }))
  t.equal((await h.post('/integrity/checkpoints')).status, 201, 'checkpoint 1')
  t.equal((await h.post('/retention/run')).status, 200, 'the note\'s older version pruned')
  await tx(h, upd('person', '1', { name: 'Anna' }))
  t.equal((await h.post('/entities/person/1/redact', { fields: ['email'], reason: 'asked' })).status, 201, 'email redacted')
  t.equal((await h.post('/integrity/checkpoints')).status, 201, 'another checkpoint')
  await tx(h, upd('article', '1', { title: 'eins' }))
  const pem = path('public.pem')
  const pemText = (await h.app.inject({ method: 'GET', url: '/integrity/public-key' })).body
  await writeFile(pem, pemText)
  const verify = async (file: string): Promise<Run> => await rewindBin({}, 'verify', '--export', file, '--public-key', pem)

  const full = path('full.ndjson')
  let fullText = ''

  await t.test('export: the bytes of GET /export, and they verify', async (t) => {
    const run = await rewindBin(env, 'export', '--out', full)
    t.equal(run.code, 0, run.stderr)
    t.equal(run.stdout, `exported 7 transactions (8 versions) to ${full}\n`)
    t.equal(run.stderr, '', 'no progress bar when stderr is not a terminal')
    fullText = await readFile(full, 'utf8')
    t.equal(timeless(fullText), timeless(await exportText(h, h.adminKey)), 'the service\'s export, byte for byte (but the time it was made)')
    t.strictSame([...new Set(kindsOf(fullText))], ['export', 'anchor', 'transaction', 'record', 'checkpoint', 'head', 'end'], 'every kind of line')
    const verified = await verify(full)
    t.equal(verified.code, 0, verified.stdout)
    t.equal(verified.stdout, 'ok: 8 versions and 3 checkpoints verified\n')
  })

  await t.test('export --resume: the file one uninterrupted export writes', async (t) => {
    const kinds = kindsOf(fullText)
    const secondTransaction = kinds.indexOf('transaction') + 2 // 1-based line numbers
    const lastTransaction = kinds.lastIndexOf('transaction') + 1
    const cuts = [
      // a cut line is dropped; the rest is asked for after the last whole transaction line
      { name: 'inside a transaction line', at: offsets(fullText, secondTransaction).inside, kept: 1 },
      // nothing more to ask for but what follows the transactions: heads worked out from the file, the end line counting them all
      { name: 'just after the last transaction line', at: offsets(fullText, lastTransaction).after, kept: 7 }
    ]
    const bytes = Buffer.from(fullText)
    const files = cuts.map((_, i) => path(`cut-${i}.ndjson`))
    await Promise.all(cuts.map(async (cut, i) => { await writeFile(files[i]!, bytes.subarray(0, cut.at)) }))
    const runs = await Promise.all(files.map(async (file) => await rewind(env, 'export', '--out', file, '--resume')))
    for (const [i, { name, kept }] of cuts.entries()) {
      t.equal(runs[i]!.code, 0, `${name}: ${runs[i]!.stderr}`)
      t.equal(runs[i]!.stdout, `exported 7 transactions (8 versions) to ${files[i]!} (resumed after ${kept})\n`, name)
      t.equal(runs[i]!.stderr, '', `${name}: nothing on stderr`)
      const resumed = await readFile(files[i]!, 'utf8')
      t.equal(resumed, fullText, `${name}: the same bytes as the uninterrupted export`)
      t.strictSame(await verifyExport(inMemory(resumed), pemText), { ok: true, versionsChecked: 8, checkpointsChecked: 3, problems: [] }, `${name}: it verifies`)
    }
  })

  await t.test('export --resume: a cut header, a complete file, a kept part that does not verify', { skip: once ? false : ONCE }, async (t) => {
    // A cut inside the header leaves nothing to keep: the export starts over (at a later time).
    const header = path('cut-header.ndjson')
    await writeFile(header, Buffer.from(fullText).subarray(0, offsets(fullText, 1).inside))
    const complete = path('complete.ndjson')
    await writeFile(complete, fullText)
    // A kept part that no longer matches the history (here: altered) does not verify once joined: exported anew.
    const altered = path('altered.ndjson')
    const kinds = kindsOf(fullText)
    const cut = Buffer.from(fullText).subarray(0, offsets(fullText, kinds.lastIndexOf('transaction')).after).toString()
    t.ok(cut.includes('"title":"one"'), 'the kept part has the value to alter')
    await writeFile(altered, cut.replace('"title":"one"', '"title":"One"'))
    const [fromHeader, again, joined] = await Promise.all([
      rewind(env, 'export', '--out', header, '--resume'),
      rewind(env, 'export', '--out', complete, '--resume'),
      rewind(env, 'export', '--out', altered, '--resume')
    ])
    t.equal(fromHeader.code, 0, fromHeader.stderr)
    t.equal(fromHeader.stderr, `rewind export: "${header}" holds no whole transaction yet: exporting from the start\n`)
    t.equal(timeless(await readFile(header, 'utf8')), timeless(fullText), 'a cut header: exported anew')
    t.equal(again.code, 0, again.stderr)
    t.equal(again.stdout, `${complete} is a complete export (7 transactions): nothing to resume\n`)
    t.equal(await readFile(complete, 'utf8'), fullText, 'a complete export is left as it is')
    t.equal(joined.code, 0, joined.stderr)
    t.match(joined.stderr, /^rewind export: the joined file does not verify \(article 1 \d+: [^\n]+\): exporting from the start\n$/)
    t.equal(joined.stdout, `exported 7 transactions (8 versions) to ${altered}\n`)
    t.equal(timeless(await readFile(altered, 'utf8')), timeless(fullText), 'exported anew, from the start')
  })

  await t.test('export --type: resumed with its filter, and a different one refused', { skip: once ? false : ONCE }, async (t) => {
    const filtered = path('articles.ndjson')
    const run = await rewind(env, 'export', '--out', filtered, '--type', 'article', '--since', '2000-01-01')
    t.equal(run.code, 0, run.stderr)
    t.equal(run.stdout, `exported 4 transactions (5 versions) to ${filtered}\n`)
    const text = await readFile(filtered, 'utf8')
    t.equal(timeless(text), timeless(await exportText(h, h.adminKey, '?type=article&since=2000-01-01T00:00:00Z')))
    const cut = path('articles-cut.ndjson')
    await writeFile(cut, Buffer.from(text).subarray(0, offsets(text, kindsOf(text).indexOf('transaction') + 2).inside))
    const other = path('articles-other.ndjson')
    await writeFile(other, Buffer.from(text).subarray(0, offsets(text, 3).inside))
    const [resumed, wrong] = await Promise.all([
      rewind(env, 'export', '--out', cut, '--resume'),
      rewind(env, 'export', '--out', other, '--resume', '--type', 'person')
    ])
    t.equal(resumed.code, 0, resumed.stderr)
    t.equal(await readFile(cut, 'utf8'), text, 'resumed with the filters of its header')
    t.strictSame(await verifyExport(inMemory(text), pemText), { ok: true, versionsChecked: 5, checkpointsChecked: 3, problems: [] }, 'it verifies')
    t.equal(wrong.code, 2)
    t.equal(wrong.stderr, `rewind export: "${other}" is an export of --type article --since 2000-01-01T00:00:00Z: resume it with the same filters (or none)\n`)
  })

  await t.test('export: usage errors, a refused key, no service', { skip: once ? false : ONCE }, async (t) => {
    const existing = path('existing.ndjson')
    await writeFile(existing, 'keep me\n')
    const port = await closedPort()
    const [exists, forced, badKey, unreachable] = await Promise.all([
      rewind(env, 'export', '--out', existing),
      rewind(env, 'export', '--out', path('forced.ndjson'), '--force'),
      rewind({ ...env, REWIND_API_KEY: 'rwd_not-a-key' }, 'export', '--out', path('bad-key.ndjson')),
      rewind({ ...env, REWIND_URL: `http://127.0.0.1:${port}` }, 'export', '--out', path('unreachable.ndjson'))
    ])
    t.equal(exists.code, 2)
    t.equal(exists.stderr, `rewind export: "${existing}" exists: add --resume to continue that export, or --force to replace it\n`)
    t.equal(await readFile(existing, 'utf8'), 'keep me\n', 'the existing file is untouched')
    t.equal(forced.code, 0, forced.stderr)
    t.equal(badKey.code, 1)
    t.equal(badKey.stderr, 'rewind export: the API key is not valid (unknown or revoked) (401 Unauthorized)\n', 'the 401 problem\'s detail, in one line')
    t.notOk(badKey.stdout.includes('rwd_') || badKey.stderr.includes('rwd_'), 'the key is never printed')
    t.notOk(existsSync(path('bad-key.ndjson')), 'no file written')
    t.equal(unreachable.code, 3)
    t.equal(unreachable.stderr, `rewind export: cannot reach the service at http://127.0.0.1:${port}/ (ECONNREFUSED)\n`)
  })

  // Imports go to a tenant of their own.
  const importer = (await h.newKey(['admin'], 'imports')).key
  const importEnv = { REWIND_URL: url, REWIND_API_KEY: importer }
  t.equal((await as(h.app, importer, 'PUT', '/entity-types/post', {})).status, 201, 'post registered in tenant imports')
  const transactions = async (): Promise<any[]> => (await as(h.app, importer, 'GET', '/transactions?limit=1000')).body.items

  await t.test('import: each line one transaction, with its issuedAt; again, nothing twice', async (t) => {
    const lines = [
      { issuedAt: '2019-05-01T08:00:00.000Z', actor: 'ann', meta: { remoteAddr: '10.0.0.1' }, changes: [{ type: 'post', op: 'insert', data: { id: 1, title: 'Hello' } }] },
      { issuedAt: '2019-05-02T09:30:00.000Z', actor: 'bob', changes: [{ type: 'post', op: 'update', id: '1', data: { title: 'Hello, world' } }] },
      { issuedAt: '2019-05-03T10:45:30.123Z', changes: [{ type: 'post', op: 'insert', data: { id: 2, title: 'Second', big: 12345678901234567890n } }, { type: 'post', op: 'delete', id: '1' }] }
    ]
    const file = path('history.ndjson')
    await writeFile(file, lines.map((l) => JSON.stringify(l, (_, v) => typeof v === 'bigint' ? `@${v}@` : v).replace(/"@(\d+)@"/g, '$1')).join('\n') + '\n')
    const first = await rewind(importEnv, 'import', file)
    t.equal(first.code, 0, first.stderr)
    t.equal(first.stdout, '3 lines read: 3 recorded, 0 replayed, 0 empty\n')
    t.equal(first.stderr, '')
    const recorded = await transactions()
    t.strictSame(recorded.map((x) => [x.issuedAt, x.actor, x.meta]).reverse(), [
      ['2019-05-01T08:00:00.000Z', 'ann', { remoteAddr: '10.0.0.1' }],
      ['2019-05-02T09:30:00.000Z', 'bob', {}],
      ['2019-05-03T10:45:30.123Z', null, {}]
    ], 'the original issuedAt, actor and meta, in file order')
    const second = (await as(h.app, importer, 'GET', '/entities/post/2')).text
    t.ok(second.includes('"big":12345678901234567890'), 'integers beyond 2^53 sent exactly')

    const unchanged = path('unchanged.ndjson')
    await writeFile(unchanged, `\n${JSON.stringify({ issuedAt: '2019-06-01T00:00:00.000Z', changes: [{ type: 'post', op: 'update', id: '2', data: { title: 'Second' } }] })}\n\n`)
    const [again, empty] = await Promise.all([rewind(importEnv, 'import', file), rewind(importEnv, 'import', unchanged, '--batch', '1')])
    t.equal(again.code, 0, again.stderr)
    t.equal(again.stdout, '3 lines read: 0 recorded, 3 replayed, 0 empty\n', 'run again: all replayed')
    t.equal(empty.code, 0, empty.stderr)
    t.equal(empty.stdout, '1 line read: 0 recorded, 0 replayed, 1 empty\n', 'a line that changes nothing is empty; blank lines are skipped')
    t.equal((await transactions()).length, 3, 'nothing recorded twice')
  })

  const refused = path('refused.ndjson')
  await t.test('import: stops at the first line refused', async (t) => {
    const before = (await transactions()).length
    await writeFile(refused, [
      { issuedAt: '2019-07-01T00:00:00.000Z', changes: [{ type: 'post', op: 'insert', data: { id: 10, title: 'ten' } }] },
      { issuedAt: '2019-07-02T00:00:00.000Z', changes: [{ type: 'page', op: 'insert', data: { id: 1 } }] },
      { issuedAt: '2019-07-03T00:00:00.000Z', changes: [{ type: 'post', op: 'insert', data: { id: 11, title: 'eleven' } }] }
    ].map((l) => JSON.stringify(l)).join('\n') + '\n')
    const stopped = await rewind(importEnv, 'import', refused)
    t.equal(stopped.code, 1)
    const problem = (await as(h.app, importer, 'POST', '/transactions', { changes: [{ type: 'page', op: 'insert', data: { id: 1 } }] })).body
    t.equal(stopped.stderr, `rewind import: line 2: ${problem.detail as string} (404 Not Found)\n`, 'the line and the problem\'s detail')
    t.equal(stopped.stdout, '1 line read: 1 recorded, 0 replayed, 0 empty\n')
    const after = await transactions()
    t.equal(after.length, before + 1, 'line 1 recorded, nothing after line 2')
    t.equal(after[0].issuedAt, '2019-07-01T00:00:00.000Z')
    t.equal((await as(h.app, importer, 'GET', '/entities/post/11')).status, 404, 'line 3 was not sent')
  })

  await t.test('import: a line not JSON, --dry-run, no service', { skip: once ? false : ONCE }, async (t) => {
    const before = (await transactions()).length
    const notJson = path('not-json.ndjson')
    await writeFile(notJson, `${JSON.stringify({ issuedAt: '2019-08-01T00:00:00.000Z', changes: [{ type: 'post', op: 'insert', data: { id: 20 } }] })}\n{"issuedAt": "2019-08-02T00:00:00.000Z", "changes": [\n`)
    const noChanges = path('no-changes.ndjson')
    await writeFile(noChanges, '{"issuedAt": "2019-08-01T00:00:00.000Z"}\n')
    const port = await closedPort()
    const [malformed, notATransaction, dryRun, unreachable] = await Promise.all([
      rewind(importEnv, 'import', notJson),
      rewind(importEnv, 'import', noChanges),
      rewind({ REWIND_URL: `http://127.0.0.1:${port}` }, 'import', refused, '--dry-run'),
      rewind({ ...importEnv, REWIND_URL: `http://127.0.0.1:${port}` }, 'import', refused)
    ])
    t.equal(malformed.code, 1)
    t.equal(malformed.stderr, 'rewind import: line 2: not JSON\n')
    t.equal(malformed.stdout, '0 lines read: 0 recorded, 0 replayed, 0 empty\n', 'line 1 is in the batch of the malformed line: not sent')
    t.equal(notATransaction.code, 1)
    t.equal(notATransaction.stderr, 'rewind import: line 1: not a transaction (a JSON object with a "changes" array, as POST /transactions takes it)\n')
    t.equal(dryRun.code, 0, dryRun.stderr)
    t.equal(dryRun.stdout, '3 lines read: every one a transaction (--dry-run: nothing sent)\n', '--dry-run: no service, no key needed')
    t.equal((await transactions()).length, before, 'nothing recorded')
    t.equal(unreachable.code, 3)
    t.equal(unreachable.stderr, `rewind import: line 1: cannot reach the service at http://127.0.0.1:${port}/ (ECONNREFUSED); run the same import again: what was recorded is not recorded twice\n`)
  })

  // SQLAlchemy-Continuum's tables, in a scratch schema of the PostgreSQL server, through the query of the doc.
  await t.test('import from SQLAlchemy-Continuum: the query of docs/import-from-continuum.md', { skip: h.kind === 'postgres' ? false : 'the Continuum tables are on PostgreSQL: tested once, with it' }, async (t) => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await client.connect()
    const schema = `continuum_${process.pid}`
    t.teardown(async () => {
      await client.query(`drop schema if exists ${schema} cascade`)
      await client.end()
    })
    await client.query(`drop schema if exists ${schema} cascade; create schema ${schema}; set search_path to ${schema};
      create table "transaction" (id bigint primary key, issued_at timestamp without time zone, user_id integer, remote_addr varchar(50));
      create table article_version (id integer not null, name varchar, content text, author_id integer,
        transaction_id bigint not null, end_transaction_id bigint, operation_type smallint not null, primary key (id, transaction_id));
      create table tag_version (id integer not null, name varchar,
        transaction_id bigint not null, end_transaction_id bigint, operation_type smallint not null, primary key (id, transaction_id));
      create table article_tag_version (article_id integer not null, tag_id integer not null,
        transaction_id bigint not null, end_transaction_id bigint, operation_type smallint not null, primary key (article_id, tag_id, transaction_id));
      insert into "transaction" values
        (1, '2021-02-03 04:05:06.789', 7, '10.0.0.7'),
        (2, '2021-02-04 10:00:00', 7, null),
        (3, '2021-02-05 11:00:00', null, '10.0.0.8'),
        (4, '2021-02-06 12:00:00', 8, '10.0.0.9'),
        (5, '2021-02-07 13:00:00', 8, null);
      -- 1: article 1 and tag 1, tagged; 2: article 1 inserted then updated in one flush (Continuum: an update) is article 2;
      -- 3: article 1 renamed, its content unchanged; 4: untagged, tag 1 deleted; 5: a delete of a row older than versioning.
      insert into article_version values
        (1, 'Intro', 'Hello', 7, 1, 3, 0),
        (2, 'Second', 'Body', null, 2, null, 1),
        (1, 'Introduction', 'Hello', 7, 3, null, 1),
        (99, 'Old', 'Older than versioning', null, 5, null, 2);
      insert into tag_version values (1, 'news', 1, 4, 0), (1, 'news', 4, null, 2);
      insert into article_tag_version values (1, 1, 1, 4, 0), (1, 1, 4, null, 2);`)
    const { rows } = await client.query<Record<string, string>>(await continuumQuery())
    const lines = rows.map((r) => Object.values(r)[0]!)
    const file = path('continuum.ndjson')
    await writeFile(file, lines.join('\n') + '\n')
    t.equal(lines.length, 4, 'one line per transaction with a change (the 5th only deletes a row Rewind never saw)')

    const key = (await h.newKey(['admin'], 'continuum')).key
    t.equal((await as(h.app, key, 'PUT', '/entity-types/tag', {})).status, 201)
    t.equal((await as(h.app, key, 'PUT', '/entity-types/article', {
      relations: { tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' } }
    })).status, 201)
    const run = await rewind({ REWIND_URL: url, REWIND_API_KEY: key }, 'import', file)
    t.equal(run.code, 0, run.stderr)
    t.equal(run.stdout, '4 lines read: 4 recorded, 0 replayed, 0 empty\n')

    const recorded = (await as(h.app, key, 'GET', '/transactions')).body.items.reverse()
    t.strictSame(recorded.map((x: any) => [x.issuedAt, x.actor, x.meta]), [
      ['2021-02-03T04:05:06.789Z', '7', { remoteAddr: '10.0.0.7' }],
      ['2021-02-04T10:00:00.000Z', '7', {}],
      ['2021-02-05T11:00:00.000Z', null, { remoteAddr: '10.0.0.8' }],
      ['2021-02-06T12:00:00.000Z', '8', { remoteAddr: '10.0.0.9' }]
    ])
    const versions = async (type: string, id: string): Promise<any[]> => (await as(h.app, key, 'GET', `/entities/${type}/${id}/versions`)).body.items
    t.strictSame((await versions('article', '1')).map((v) => [v.operation, v.changeset]), [
      ['insert', { id: [null, 1], name: [null, 'Intro'], content: [null, 'Hello'], author_id: [null, 7] }],
      ['update', { name: ['Intro', 'Introduction'] }]
    ], 'an update records only the fields that differ')
    t.strictSame((await versions('article', '2')).map((v) => [v.operation, v.data]), [['insert', { id: 2, name: 'Second', content: 'Body', author_id: null }]], 'Continuum\'s update of a new entity: an insert')
    t.strictSame((await versions('article_tag', '1,1')).map((v) => v.operation), ['insert', 'delete'], 'the composite key "1,1"')
    t.strictSame((await versions('tag', '1')).map((v) => v.operation), ['insert', 'delete'])
    const tagged = (await as(h.app, key, 'GET', `/entities/article/1/versions/${recorded[0].id as number}?relations=tags`)).body
    t.strictSame(tagged.relations.tags.map((v: any) => v.data), [{ id: 1, name: 'news' }], 'tagged as it was')
  })
})
