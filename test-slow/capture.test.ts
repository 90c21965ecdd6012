import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import pg from 'pg'
import { httpRequest, waitUntil, type HttpAnswer } from './helpers/http.js'
import { ownDatabase, queryOnce } from './helpers/pg.js'
import { startService, type ServiceProcess } from './helpers/service-process.js'
import { freePort, startThrowawayPostgres, type ThrowawayPostgres } from './helpers/throwaway-postgres.js'

/**
 * Capture from PostgreSQL (API.md, "Capture from PostgreSQL (v2)"): the real service as a
 * child process (its database on the shared instance) captures a throwaway source cluster
 * with wal_level = logical. Each subtest has its own source (slot and publication) and its
 * own tables and entity types. What is checked is what a user sees over HTTP: the source's
 * answers, the versions and transactions capture recorded, and the slot on the source.
 * The kill -9 / source restart / two-instance cases are in capture-faults.test.ts.
 */

const SHARED_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/
const CAPTURED_WITHIN_MS = 15_000

async function main (): Promise<void> {
  t.setTimeout(600_000)
  const started = Date.now()
  const dbUrl = await ownDatabase(t, SHARED_URL, 'capture')

  // The source: UTC (so that timestamptz text is predictable) and commit timestamps (to compare issuedAt).
  const source = await startThrowawayPostgres({
    settings: { wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10, timezone: "'UTC'", track_commit_timestamp: 'on' }
  })
  t.teardown(async () => { await source.destroy() })
  let svc: ServiceProcess
  try {
    svc = await startService({ databaseUrl: dbUrl })
  } catch (error) {
    t.fail(`the service did not start: ${String(error)}`)
    return
  }
  t.teardown(async () => { await svc.dispose() })
  t.comment(`source cluster and service up in ${Date.now() - started} ms`)

  const api = async (method: string, path: string, body?: unknown): Promise<HttpAnswer> =>
    await httpRequest(svc.baseUrl, method, path, body, { timeoutMs: 30_000 })
  const env: Env = { source, svc, api }

  await t.test('PUT /capture/sources errors: 400 problem+json, nothing kept', async (t) => { await errors(t, env) })
  await t.test('insert, update, delete, truncate, context, several tables, values, state and lag', async (t) => { await basics(t, env) })
  await t.test('columns added and dropped mid-stream, TOAST with REPLICA IDENTITY DEFAULT, DELETE ?dropSlot=true', async (t) => { await schemaAndToast(t, env) })
  await t.test('relations and reverts on captured entities', async (t) => { await relationsAndRevert(t, env) })
  await t.test('writes only to unmapped tables still move the slot on', async (t) => { await unmappedMovesSlot(t, env) })
  t.comment(`capture.test.ts took ${Date.now() - started} ms`)
}

interface Env {
  source: ThrowawayPostgres
  svc: ServiceProcess
  api: (method: string, path: string, body?: unknown) => Promise<HttpAnswer>
}

/** A transaction on the source: its xid and commit time in milliseconds (as issuedAt keeps it). */
interface SourceTx { xid: number, commitMs: number }

async function sourceTx (url: string, statements: string[]): Promise<SourceTx> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query('begin')
    for (const statement of statements) await client.query(statement)
    const xid = Number((await client.query<{ xid: string }>('select pg_current_xact_id()::text as xid')).rows[0]!.xid)
    await client.query('commit')
    const { rows } = await client.query<{ ms: string }>(
      'select floor(extract(epoch from pg_xact_commit_timestamp($1::text::xid)) * 1000)::text as ms', [String(xid)])
    return { xid, commitMs: Number(rows[0]!.ms) }
  } finally {
    await client.end().catch(() => {})
  }
}

/** Every Rewind transaction captured from `sourceName`, ascending by id (GET /transactions, all pages). */
async function capturedTransactions (env: Env, sourceName: string): Promise<any[]> {
  const out: any[] = []
  let cursor: string | null = null
  do {
    const page: HttpAnswer = await env.api('GET', `/transactions?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    if (page.status !== 200) throw new Error(`GET /transactions: ${page.status} ${JSON.stringify(page.body)}`)
    out.push(...(page.body.items as any[]).filter((tx) => tx.meta?.source?.name === sourceName))
    cursor = page.body.nextCursor as string | null
  } while (cursor !== null)
  return out.reverse()
}

/** Waits until `count` transactions were captured from the source; answers them. */
async function waitCaptured (env: Env, sourceName: string, count: number): Promise<any[]> {
  let last: any[] = []
  try {
    await waitUntil(`${count} transactions captured from ${sourceName}`, CAPTURED_WITHIN_MS, async () => {
      last = await capturedTransactions(env, sourceName)
      return last.length >= count
    }, 200)
  } catch (error) {
    throw new Error(`${(error as Error).message}: got ${last.length}\n${env.svc.output().slice(-3000)}`)
  }
  return last
}

/** An entity's versions as {operation, data, changeset, transactionId}. */
async function versionsOf (env: Env, type: string, id: string): Promise<Array<{ operation: string, data: unknown, changeset: unknown, transactionId: number }>> {
  const page = await env.api('GET', `/entities/${type}/${encodeURIComponent(id)}/versions?limit=1000`)
  if (page.status !== 200) return []
  return (page.body.items as any[]).map((v) => ({ operation: v.operation, data: v.data, changeset: v.changeset, transactionId: v.transactionId }))
}

const summary = (tx: any): unknown => ({ actor: tx.actor, meta: tx.meta, issuedAt: tx.issuedAt, recordedBy: tx.recordedBy })
const expectedTx = (name: string, s: SourceTx, lsn: unknown, actor: string | null = null, meta: Record<string, unknown> = {}): unknown => ({
  actor, meta: { ...meta, source: { name, xid: s.xid, lsn } }, issuedAt: new Date(s.commitMs).toISOString(), recordedBy: { keyId: null, source: name }
})

function isProblem (t: Test, answer: HttpAnswer, status: number, what: string): void {
  t.equal(answer.status, status, `${what}: ${status}`, { body: answer.body })
  t.match(String(answer.headers['content-type']), /^application\/problem\+json/, `${what}: problem+json`)
  t.equal(answer.body?.status, status, `${what}: problem status`)
}

async function slotOf (source: ThrowawayPostgres, slot: string): Promise<{ plugin: string, active: boolean } | undefined> {
  const { rows } = await queryOnce(source.url, 'select plugin::text, active from pg_replication_slots where slot_name = $1', [slot])
  return rows[0] as { plugin: string, active: boolean } | undefined
}

// ------------------------------------------------------------------------------------------

async function errors (t: Test, env: Env): Promise<void> {
  const { source, api } = env
  await queryOnce(source.url, 'create table e_ok (id int primary key, v text)')
  await queryOnce(source.url, 'create table e_nopk (code text, v int)')

  const closedPort = await freePort()
  const unreachable = await api('PUT', '/capture/sources/e_unreachable', {
    connection: `postgres://postgres:pw@127.0.0.1:${closedPort}/postgres`, tables: { 'public.e_ok': { type: 'e_ok' } }
  })
  isProblem(t, unreachable, 400, 'unreachable source')
  t.equal(String(unreachable.body?.detail).startsWith('connection: cannot connect'), true, `detail says it cannot connect: ${String(unreachable.body?.detail)}`)
  t.equal(JSON.stringify(unreachable.body).includes(':pw@'), false, 'the password is not in the problem')

  const replica = await startThrowawayPostgres({ settings: { wal_level: 'replica' } })
  t.teardown(async () => { await replica.destroy() })
  await queryOnce(replica.url, 'create table e_ok (id int primary key, v text)')
  const notLogical = await api('PUT', '/capture/sources/e_replica', { connection: replica.url, tables: { 'public.e_ok': { type: 'e_ok' } } })
  isProblem(t, notLogical, 400, 'wal_level replica')
  t.match(String(notLogical.body?.detail), /wal_level/, `detail names wal_level: ${String(notLogical.body?.detail)}`)
  t.equal((await queryOnce(replica.url, 'select count(*)::int as n from pg_publication')).rows[0].n, 0, 'no publication created on the replica-level source')
  await replica.destroy()

  const unknownTable = await api('PUT', '/capture/sources/e_unknown', {
    connection: source.url, tables: { 'public.e_ok': { type: 'e_ok' }, 'public.nope': { type: 'e_nope' } }
  })
  isProblem(t, unknownTable, 400, 'unknown table')
  t.equal(String(unknownTable.body?.detail).startsWith('tables.public.nope: '), true, `detail names the table: ${String(unknownTable.body?.detail)}`)

  const noKey = await api('PUT', '/capture/sources/e_nopk', { connection: source.url, tables: { 'public.e_nopk': { type: 'e_nopk' } } })
  isProblem(t, noKey, 400, 'table without primary key and no idFields')
  t.equal(String(noKey.body?.detail).startsWith('tables.public.e_nopk: '), true, `detail names the table: ${String(noKey.body?.detail)}`)
  t.match(String(noKey.body?.detail), /has no primary key: give idFields$/, 'detail says to give idFields')

  for (const name of ['e_unreachable', 'e_replica', 'e_unknown', 'e_nopk']) {
    t.equal((await api('GET', `/capture/sources/${name}`)).status, 404, `source ${name} was not kept`)
  }
  for (const type of ['e_ok', 'e_nope', 'e_nopk']) {
    t.equal((await api('GET', `/entity-types/${type}`)).status, 404, `type ${type} was not registered`)
  }
  const { rows } = await queryOnce(source.url, "select slot_name from pg_replication_slots where slot_name like 'rewind_default_e_%'")
  t.strictSame(rows, [], 'no slot was created on the source')
}

// ------------------------------------------------------------------------------------------

async function basics (t: Test, env: Env): Promise<void> {
  const { source, api } = env
  const NAME = 'basic'
  const SLOT = 'rewind_default_basic'
  await queryOnce(source.url, `
    create table b_article (id int primary key, title text, n int, flag boolean, doc jsonb, at timestamptz,
      price numeric(10,2), uid uuid, big bigint, ratio float8, secret text);
    create table b_tag (id int primary key, label text);
    create table b_item (code text not null, v int);
    alter table b_item replica identity full;
    create table b_other (id int primary key, v text)`)

  // The password (ignored by the trust-auth cluster) is never answered back.
  const withPassword = source.url.replace('postgres@', 'postgres:s3cret@')
  const masked = source.url.replace('postgres@', 'postgres:***@')
  const tables = {
    'public.b_article': { type: 'b_article', exclude: ['secret'] },
    'public.b_tag': { type: 'b_tag' },
    'public.b_item': { type: 'b_item', idFields: ['code'] }
  }
  const put = await api('PUT', `/capture/sources/${NAME}`, { connection: withPassword, tables })
  t.equal(put.status, 201, 'PUT creates the source', { body: put.body })
  const { createdAt, updatedAt, confirmedLsn, ...rest } = put.body ?? {}
  // The answer shows the id fields in use: the mapping's, else the table's primary key.
  const tablesInUse = {
    'public.b_article': { type: 'b_article', exclude: ['secret'], idFields: ['id'] },
    'public.b_tag': { type: 'b_tag', idFields: ['id'] },
    'public.b_item': { type: 'b_item', idFields: ['code'] }
  }
  t.strictSame(rest, {
    name: NAME, connection: masked, tables: tablesInUse, publication: SLOT, slot: SLOT, state: 'starting', reason: null, lastCommitAt: null, lag: { bytes: null, seconds: null }
  }, 'the answer: masked connection, tables with their id fields, default publication and slot, state starting')
  t.match(String(confirmedLsn), LSN, 'confirmedLsn is the slot\'s start')
  t.equal(createdAt, updatedAt, 'createdAt = updatedAt')
  t.equal(JSON.stringify(put.body).includes('s3cret'), false, 'the password is not in the answer')
  t.equal((await slotOf(source, SLOT))?.plugin, 'pgoutput', 'the slot exists on the source (pgoutput)')
  const published = await queryOnce(source.url, 'select tablename::text from pg_publication_tables where pubname = $1 order by 1', [SLOT])
  t.strictSame(published.rows.map((r) => r.tablename), ['b_article', 'b_item', 'b_tag'], 'the publication has the mapped tables')

  // The missing entity types were registered: id fields from the primary key or the mapping.
  const types = await Promise.all(['b_article', 'b_tag', 'b_item'].map(async (type) => await api('GET', `/entity-types/${type}`)))
  t.strictSame(types.map((a) => [a.status, a.body?.definition?.idFields, a.body?.definition?.exclude ?? []]),
    [[200, ['id'], ['secret']], [200, ['id'], []], [200, ['code'], []]], 'the entity types were registered')

  await waitUntil('state streaming', 10_000, async () => (await api('GET', `/capture/sources/${NAME}`)).body?.state === 'streaming')
  const streaming = await api('GET', `/capture/sources/${NAME}`)
  t.equal(streaming.body.state, 'streaming', 'GET: streaming')
  t.equal(streaming.body.connection, masked, 'GET: masked connection')
  t.strictSame(streaming.body.slotStatus?.exists, true, 'GET: slotStatus.exists')

  const expected: Array<{ tx: SourceTx, versions: string[] }> = []

  // 1. Context message + two mapped tables + one unmapped table: one Rewind transaction.
  const tx1 = await sourceTx(source.url, [
    `select pg_logical_emit_message(true, 'rewind', '{"actor":"ada","meta":{"reason":"x"}}')`,
    `insert into b_article values (1, 'hello', 42, true, '{"a":[1,2.5],"b":{"c":null}}', '2024-05-06 07:08:09.123456+00', 12.5,
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 5000000000, 0.25, 'hidden')`,
    `insert into b_tag values (1, 'news')`,
    `insert into b_other values (1, 'ignored')`
  ])
  expected.push({ tx: tx1, versions: ['b_article:1:insert', 'b_tag:1:insert'] })
  // 2. An update of two columns.
  const tx2 = await sourceTx(source.url, [`update b_article set title = 'hello again', n = 43 where id = 1`])
  expected.push({ tx: tx2, versions: ['b_article:1:update'] })
  // 3. Only an unmapped table: nothing recorded.
  await sourceTx(source.url, [`insert into b_other values (2, 'still ignored')`])
  // 4. Two inserts, then 5. a delete, 6. the no-primary-key table (idFields code), 7. its update.
  const tx4 = await sourceTx(source.url, [`insert into b_article (id, title) values (2, 'two'), (3, 'three')`])
  expected.push({ tx: tx4, versions: ['b_article:2:insert', 'b_article:3:insert'] })
  const tx5 = await sourceTx(source.url, ['delete from b_article where id = 1'])
  expected.push({ tx: tx5, versions: ['b_article:1:delete'] })
  const tx6 = await sourceTx(source.url, [`insert into b_item values ('k1', 1)`])
  expected.push({ tx: tx6, versions: ['b_item:k1:insert'] })
  const tx7 = await sourceTx(source.url, [`update b_item set v = 2 where code = 'k1'`])
  expected.push({ tx: tx7, versions: ['b_item:k1:update'] })
  // 8. TRUNCATE: a delete of each live entity of that table (2 and 3; 1 is already deleted).
  const tx8 = await sourceTx(source.url, ['truncate b_article'])
  expected.push({ tx: tx8, versions: ['b_article:2:delete', 'b_article:3:delete'] })

  const captured = await waitCaptured(env, NAME, expected.length)
  t.strictSame(captured.map((tx) => tx.meta.source.xid), expected.map((e) => e.tx.xid),
    'one Rewind transaction per source transaction touching a mapped table, in commit order')
  t.equal(captured.every((tx, i) => i === 0 || tx.id > captured[i - 1].id), true, 'transaction ids increase')
  const lsns = captured.map((tx) => tx.meta.source.lsn as string)
  t.equal(lsns.every((lsn) => LSN.test(lsn)), true, `meta.source.lsn are LSNs: ${lsns.join(' ')}`)
  const lsnValue = (lsn: string): bigint => { const [a, b] = lsn.split('/'); return (BigInt(`0x${a!}`) << 32n) + BigInt(`0x${b!}`) }
  t.equal(lsns.every((lsn, i) => i === 0 || lsnValue(lsn) > lsnValue(lsns[i - 1]!)), true, 'the LSNs increase')

  t.strictSame(summary(captured[0]), expectedTx(NAME, tx1, lsns[0], 'ada', { reason: 'x' }),
    'context from pg_logical_emit_message: actor and meta, plus meta.source; issuedAt = the source commit time; recordedBy the source')
  t.strictSame(captured.slice(1).map(summary), expected.slice(1).map((e, i) => expectedTx(NAME, e.tx, lsns[i + 1])),
    'without a context message: actor null, meta.source alone')

  const versionLists = await Promise.all(captured.map(async (tx) => await api('GET', `/transactions/${tx.id as number}`)))
  t.strictSame(versionLists.map((a) => (a.body.versions as any[]).map((v) => `${v.type as string}:${v.id as string}:${v.operation as string}`).sort()),
    expected.map((e) => e.versions), 'each transaction has the versions of its source transaction (several types in one)')

  const article1 = await versionsOf(env, 'b_article', '1')
  const row1 = {
    id: 1, title: 'hello', n: 42, flag: true, doc: { a: [1, 2.5], b: { c: null } }, at: '2024-05-06 07:08:09.123456+00',
    price: '12.50', uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', big: 5000000000, ratio: 0.25
  }
  const row1b = { ...row1, title: 'hello again', n: 43 }
  t.strictSame(article1, [
    { operation: 'insert', data: row1, changeset: Object.fromEntries(Object.entries(row1).map(([k, v]) => [k, [null, v]])), transactionId: captured[0].id },
    { operation: 'update', data: row1b, changeset: { title: ['hello', 'hello again'], n: [42, 43] }, transactionId: captured[1].id },
    { operation: 'delete', data: row1b, changeset: Object.fromEntries(Object.entries(row1b).map(([k, v]) => [k, [v, null]])), transactionId: captured[3].id }
  ], 'article 1: insert with the full row (typed values, excluded column left out), update with the difference, delete')
  t.strictSame(await versionsOf(env, 'b_article', '2'), [
    { operation: 'insert', data: { id: 2, title: 'two', n: null, flag: null, doc: null, at: null, price: null, uid: null, big: null, ratio: null }, changeset: { id: [null, 2], title: [null, 'two'] }, transactionId: captured[2].id },
    { operation: 'delete', data: { id: 2, title: 'two', n: null, flag: null, doc: null, at: null, price: null, uid: null, big: null, ratio: null }, changeset: { id: [2, null], title: ['two', null] }, transactionId: captured[6].id }
  ], 'article 2: inserted, deleted by the TRUNCATE')
  t.strictSame(await versionsOf(env, 'b_tag', '1'), [
    { operation: 'insert', data: { id: 1, label: 'news' }, changeset: { id: [null, 1], label: [null, 'news'] }, transactionId: captured[0].id }
  ], 'tag 1: untouched by the TRUNCATE of another table')
  t.strictSame(await versionsOf(env, 'b_item', 'k1'), [
    { operation: 'insert', data: { code: 'k1', v: 1 }, changeset: { code: [null, 'k1'], v: [null, 1] }, transactionId: captured[4].id },
    { operation: 'update', data: { code: 'k1', v: 2 }, changeset: { v: [1, 2] }, transactionId: captured[5].id }
  ], 'a table without a primary key, keyed by idFields')
  t.equal((await api('GET', '/entities/b_other/1')).status, 404, 'the unmapped table has no entity type or versions')

  // The source's state: position, last commit, lag 0 once caught up.
  const caughtUp = async (): Promise<any> => {
    let view: any
    await waitUntil('lag 0', 30_000, async () => {
      view = (await api('GET', `/capture/sources/${NAME}`)).body
      return view?.lag?.bytes === 0
    }, 200)
    return view
  }
  const view = await caughtUp()
  t.strictSame({ state: view.state, reason: view.reason, lastCommitAt: view.lastCommitAt, lag: view.lag, slotStatus: view.slotStatus },
    { state: 'streaming', reason: null, lastCommitAt: new Date(tx8.commitMs).toISOString(), lag: { bytes: 0, seconds: 0 }, slotStatus: { exists: true, active: true, retainedBytes: view.slotStatus?.retainedBytes } },
    'GET: streaming, lastCommitAt = the last source commit, lag 0 bytes and 0 s, slot active')
  t.equal(lsnValue(view.confirmedLsn) >= lsnValue(lsns[lsns.length - 1]!), true, `confirmedLsn ${String(view.confirmedLsn)} is at or after the last recorded one`)
  // The lag is in /metrics too (labelled by source, never by tenant).
  let lagLines: string[] = []
  await waitUntil('capture lag in /metrics', 15_000, async () => {
    const metrics = await api('GET', '/metrics')
    lagLines = String(metrics.body).split('\n').filter((line) => /^\w*capture\w*lag\w*\{[^}]*source="basic"[^}]*\} /.test(line))
    return metrics.status === 200 && lagLines.length > 0
  }, 500).catch(() => undefined)
  t.equal(lagLines.length > 0, true, `GET /metrics has the source's capture lag: ${lagLines.join('; ')}`)
  t.equal(lagLines.some((line) => /tenant=/.test(line)), false, 'no tenant label')

  // PUT again, three times, each time mapping one more table: 200, and capture goes on from
  // where it was (nothing lost, nothing twice); a transaction committed right after the answer
  // has the newly mapped table's rows; rows written before it was mapped have no version.
  const mapped: Record<string, unknown> = { ...tables }
  const rounds: Array<{ tx: SourceTx, table: string }> = []
  for (const round of [1, 2, 3]) {
    const table = round === 1 ? 'b_other' : `b_more${round}`
    if (round > 1) await queryOnce(source.url, `create table ${table} (id int primary key, v text)`)
    mapped[`public.${table}`] = { type: table }
    // The capture of the previous configuration runs: the answer must still cover the next commit.
    await waitUntil('streaming', 10_000, async () => (await api('GET', `/capture/sources/${NAME}`)).body?.state === 'streaming')
    const again = await api('PUT', `/capture/sources/${NAME}`, { connection: withPassword, tables: mapped })
    t.equal(again.status, 200, `PUT again (${round}): 200`, { body: again.body })
    t.equal(again.body?.createdAt, createdAt, `PUT again (${round}) keeps createdAt`)
    t.equal(Date.parse(String(again.body?.updatedAt)) > Date.parse(String(createdAt)), true, `PUT again (${round}) moves updatedAt on (${String(again.body?.updatedAt)})`)
    const tx = await sourceTx(source.url, [`insert into b_tag values (${10 + round}, 'round ${round}')`, `insert into ${table} values (${10 + round}, 'now mapped')`])
    rounds.push({ tx, table })
    expected.push({ tx, versions: [`b_tag:${10 + round}:insert`, `${table}:${10 + round}:insert`].sort() })
  }
  await waitCaptured(env, NAME, expected.length)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const afterPut = await capturedTransactions(env, NAME)
  t.strictSame(afterPut.map((tx) => tx.meta.source.xid), expected.map((e) => e.tx.xid),
    'after each PUT again: the next transaction once, none repeated, none from before')
  const lastThree = await Promise.all(afterPut.slice(-3).map(async (tx) => await api('GET', `/transactions/${tx.id as number}`)))
  t.strictSame(lastThree.map((a) => (a.body?.versions as any[] ?? []).map((v) => [v.type, v.id, v.data]).sort()),
    rounds.map(({ table }, i) => [['b_tag', String(11 + i), { id: 11 + i, label: `round ${i + 1}` }], [table, String(11 + i), { id: 11 + i, v: 'now mapped' }]].sort()),
    'a table mapped by PUT is captured in the transactions committed after the answer')
  t.equal((await api('GET', '/entities/b_other/1')).status, 404, 'b_other rows written before it was mapped have no version')

  // DELETE without dropSlot: capture stops, the slot stays on the source.
  const del = await api('DELETE', `/capture/sources/${NAME}`)
  t.equal(del.status, 204, 'DELETE: 204')
  t.equal((await api('GET', `/capture/sources/${NAME}`)).status, 404, 'GET after DELETE: 404')
  // (A poll that read the sources just before the DELETE may start the source once more; the next one stops it.)
  await new Promise((resolve) => setTimeout(resolve, 2500))
  await waitUntil('slot inactive', 10_000, async () => (await slotOf(source, SLOT))?.active === false)
  t.strictSame(await slotOf(source, SLOT), { plugin: 'pgoutput', active: false }, 'the slot stays on the source, no longer read')
  await sourceTx(source.url, [`insert into b_tag values (3, 'not captured')`])
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.equal((await capturedTransactions(env, NAME)).length, expected.length, 'a source transaction after DELETE is not recorded')
  t.equal((await api('GET', '/entities/b_tag/3')).status, 404, 'tag 3 has no version')
  isProblem(t, await api('DELETE', `/capture/sources/${NAME}`), 404, 'DELETE again')
  await queryOnce(source.url, 'select pg_drop_replication_slot($1)', [SLOT]) // it would keep WAL for nothing
}

// ------------------------------------------------------------------------------------------

async function schemaAndToast (t: Test, env: Env): Promise<void> {
  const { source, api } = env
  const NAME = 'docs'
  const SLOT = 'rewind_default_docs'
  await queryOnce(source.url, 'create table s_doc (id int primary key, title text, body text)') // REPLICA IDENTITY DEFAULT
  // 100 kB that does not compress: stored out of line (TOASTed), and not sent when unchanged.
  const big = Array.from({ length: 3125 }, (_, i) => createHash('md5').update(String(i + 1)).digest('hex')).join('')
  t.equal(big.length, 100_000, 'the big value is 100,000 characters')

  const put = await api('PUT', `/capture/sources/${NAME}`, { connection: source.url, tables: { 'public.s_doc': { type: 's_doc' } } })
  t.equal(put.status, 201, 'PUT', { body: put.body })
  const tx1 = await sourceTx(source.url, [`insert into s_doc select 1, 'v1', string_agg(md5(i::text), '' order by i) from generate_series(1, 3125) i`])
  const stored = await queryOnce(source.url, `select pg_column_size(body) as size, length(body) as len, body = $1 as same from s_doc where id = 1`, [big])
  t.strictSame(stored.rows[0], { size: stored.rows[0].size, len: 100_000, same: true }, 'the source row holds the big value')
  t.equal(stored.rows[0].size > 50_000, true, `it is stored uncompressed, out of line (${String(stored.rows[0].size)} bytes)`)
  const tx2 = await sourceTx(source.url, [`update s_doc set title = 'v2' where id = 1`])
  await sourceTx(source.url, [`alter table s_doc add column status text default 'x'`])
  const tx4 = await sourceTx(source.url, [`update s_doc set title = 'v3' where id = 1`])
  await sourceTx(source.url, ['alter table s_doc drop column status'])
  const tx6 = await sourceTx(source.url, [`update s_doc set title = 'v4' where id = 1`])
  const tx7 = await sourceTx(source.url, [`update s_doc set body = 'small now', title = 'v5' where id = 1`])
  const captured = await waitCaptured(env, NAME, 5)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const all = await capturedTransactions(env, NAME)
  t.strictSame(all.map((tx) => tx.meta.source.xid), [tx1, tx2, tx4, tx6, tx7].map((s) => s.xid),
    'the row changes were recorded; the ALTERs made no version')

  const versions = await versionsOf(env, 's_doc', '1')
  const simple = versions.map((v) => ({ ...v, data: { ...(v.data as any), body: (v.data as any).body === big ? '<big>' : (v.data as any).body } }))
  t.strictSame(simple, [
    { operation: 'insert', data: { id: 1, title: 'v1', body: '<big>' }, changeset: { id: [null, 1], title: [null, 'v1'], body: [null, big] }, transactionId: captured[0].id },
    { operation: 'update', data: { id: 1, title: 'v2', body: '<big>' }, changeset: { title: ['v1', 'v2'] }, transactionId: captured[1].id },
    { operation: 'update', data: { id: 1, title: 'v3', body: '<big>', status: 'x' }, changeset: { title: ['v2', 'v3'], status: [null, 'x'] }, transactionId: captured[2].id },
    { operation: 'update', data: { id: 1, title: 'v4', body: '<big>' }, changeset: { title: ['v3', 'v4'], status: ['x', null] }, transactionId: captured[3].id },
    { operation: 'update', data: { id: 1, title: 'v5', body: 'small now' }, changeset: { title: ['v4', 'v5'], body: [big, 'small now'] }, transactionId: captured[4].id }
  ], 'unchanged TOASTed value taken from the last version; added column appears, dropped column disappears')

  // DELETE ?dropSlot=true: the slot is gone from the source.
  t.equal((await api('DELETE', `/capture/sources/${NAME}?dropSlot=true`)).status, 204, 'DELETE ?dropSlot=true: 204')
  t.equal(await slotOf(source, SLOT), undefined, 'the slot was dropped on the source')
  t.equal((await api('GET', `/capture/sources/${NAME}`)).status, 404, 'GET after DELETE: 404')
}

// ------------------------------------------------------------------------------------------

async function relationsAndRevert (t: Test, env: Env): Promise<void> {
  const { source, api } = env
  const NAME = 'blog'
  await queryOnce(source.url, `
    create table r_article (id int primary key, title text);
    create table r_comment (id int primary key, article_id int references r_article, body text)`)
  const put = await api('PUT', `/capture/sources/${NAME}`, {
    connection: source.url, tables: { 'public.r_article': { type: 'r_article' }, 'public.r_comment': { type: 'r_comment' } }
  })
  t.equal(put.status, 201, 'PUT', { body: put.body })
  const declared = await api('PUT', '/entity-types/r_article', { relations: { comments: { kind: 'oneToMany', target: 'r_comment', foreignKey: 'article_id' } } })
  t.equal(declared.status, 200, 'the relation is declared on the type capture registered', { body: declared.body })

  await sourceTx(source.url, [
    `insert into r_article values (1, 'first')`,
    `insert into r_comment values (1, 1, 'c1'), (2, 1, 'c2')`
  ])
  await sourceTx(source.url, [
    `update r_article set title = 'second' where id = 1`,
    `update r_comment set body = 'c2 edited' where id = 2`,
    `insert into r_comment values (3, 1, 'c3')`,
    'delete from r_comment where id = 1'
  ])
  const [t1, t2] = (await waitCaptured(env, NAME, 2)).map((tx) => tx.id as number)

  const comments = async (at: number): Promise<unknown> => {
    const a = await api('GET', `/entities/r_article/1/versions/${at}?relations=comments`)
    return [a.status, (a.body?.relations?.comments as any[] | undefined)?.map((v) => [v.id, v.data])]
  }
  t.strictSame(await comments(t1!), [200, [['1', { id: 1, article_id: 1, body: 'c1' }], ['2', { id: 2, article_id: 1, body: 'c2' }]]],
    'the comments as they were at the first transaction')
  t.strictSame(await comments(t2!), [200, [['2', { id: 2, article_id: 1, body: 'c2 edited' }], ['3', { id: 3, article_id: 1, body: 'c3' }]]],
    'the comments as they were at the second transaction')

  const dry = await api('POST', '/entities/r_article/1/revert', { to: t1, relations: ['comments'], dryRun: true })
  t.equal(dry.status, 200, 'revert dry run: 200', { body: dry.body })
  t.equal(dry.body?.transaction, null, 'a dry run records no transaction')
  const byKey = (changes: any[]): any[] => [...changes].sort((a, b) => `${a.type as string}:${a.id as string}`.localeCompare(`${b.type as string}:${b.id as string}`))
  t.strictSame(byKey(dry.body?.changes ?? []), [
    { type: 'r_article', op: 'update', id: '1', data: { title: 'first' } },
    { type: 'r_comment', op: 'insert', id: '1', data: { id: 1, article_id: 1, body: 'c1' } },
    { type: 'r_comment', op: 'update', id: '2', data: { body: 'c2' } },
    { type: 'r_comment', op: 'delete', id: '3', data: null }
  ], 'revert to the first transaction with comments: the article and every comment back as they were')
  const order = (dry.body?.changes as any[] ?? []).map((c) => `${c.type as string}:${c.op as string}`)
  t.equal(order.indexOf('r_comment:delete') < order.indexOf('r_article:update'), true, `children deleted before the parent changes: ${order.join(', ')}`)

  const plain = await api('POST', '/entities/r_article/1/revert', { to: t1, dryRun: true })
  t.strictSame([plain.status, plain.body?.changes], [200, [{ type: 'r_article', op: 'update', id: '1', data: { title: 'first' } }]],
    'revert without relations: the article alone')
  t.equal((await api('DELETE', `/capture/sources/${NAME}?dropSlot=true`)).status, 204, 'DELETE ?dropSlot=true')
  t.equal((await capturedTransactions(env, NAME)).length, 2, 'two transactions captured, the dry runs recorded nothing')
}

// ------------------------------------------------------------------------------------------

async function unmappedMovesSlot (t: Test, env: Env): Promise<void> {
  const { source, api } = env
  const NAME = 'quiet'
  const SLOT = 'rewind_default_quiet'
  await queryOnce(source.url, 'create table q_mapped (id int primary key); create table q_unmapped (id int primary key, pad text)')
  t.equal((await api('PUT', `/capture/sources/${NAME}`, { connection: source.url, tables: { 'public.q_mapped': { type: 'q_mapped' } } })).status, 201, 'PUT')
  await waitUntil('streaming', 10_000, async () => (await api('GET', `/capture/sources/${NAME}`)).body?.state === 'streaming')
  // About 1 MB of WAL, none of it on a mapped table.
  await sourceTx(source.url, [`insert into q_unmapped select i, repeat(md5(i::text), 8) from generate_series(1, 3000) i`])
  const written = (await queryOnce(source.url, 'select pg_current_wal_lsn()::text as lsn')).rows[0].lsn as string
  const started = Date.now()
  let confirmed = ''
  await waitUntil('the slot moves past the unmapped writes', 30_000, async () => {
    const { rows } = await queryOnce(source.url, 'select confirmed_flush_lsn >= $2::pg_lsn as past, confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', [SLOT, written])
    confirmed = String(rows[0]?.lsn)
    return rows[0]?.past === true
  }, 500).catch(() => undefined)
  t.equal(confirmed !== '' && (await queryOnce(source.url, 'select $1::pg_lsn >= $2::pg_lsn as past', [confirmed, written])).rows[0].past, true,
    `the slot's confirmed position ${confirmed} passed ${written} (${Date.now() - started} ms)`)
  t.strictSame(await capturedTransactions(env, NAME), [], 'nothing was recorded')
  t.equal((await api('DELETE', `/capture/sources/${NAME}?dropSlot=true`)).status, 204, 'DELETE ?dropSlot=true')
}

// ------------------------------------------------------------------------------------------

const reachable = await queryOnce(SHARED_URL, 'select 1').then(() => true, () => false)
if (!reachable) {
  if (process.env.REQUIRE_POSTGRES === '1') t.fail(`PostgreSQL at ${SHARED_URL} is required`)
  else t.plan(0, `PostgreSQL at ${SHARED_URL} is not reachable`)
} else {
  await main()
}
