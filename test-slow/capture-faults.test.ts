import t, { type Test } from 'tap'
import pg from 'pg'
import { httpRequest, waitUntil, within, type HttpAnswer } from './helpers/http.js'
import { ownDatabase, queryOnce } from './helpers/pg.js'
import { startService, type ServiceProcess } from './helpers/service-process.js'
import { startThrowawayPostgres, type ThrowawayPostgres } from './helpers/throwaway-postgres.js'

/**
 * Capture from PostgreSQL, exactly once under faults (API.md, "Capture from PostgreSQL
 * (v2)"; issue 14, Tests): a source commits 2,000 single-row transactions while
 *   1. the service capturing it is killed (SIGKILL) and started again on the same database,
 *   2. the source itself is stopped (immediate: a crash) and started again,
 *   3. two instances share the database: the one capturing is killed, the other takes over.
 * Afterwards every transaction the source has is exactly one Rewind transaction, in commit
 * order, with its row's version: none missing, none twice. Each row records the xid of its
 * own transaction, so the source's table is the list of what must have been captured.
 */

const SHARED_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ROWS = Number(process.env.SLOW_CAPTURE_ROWS ?? 2000)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface Env {
  source: ThrowawayPostgres
  dbUrl: string
  /** The service the next subtest uses (replaced when one is killed). */
  svc: ServiceProcess
}

const api = async (svc: ServiceProcess, method: string, path: string, body?: unknown): Promise<HttpAnswer> =>
  await httpRequest(svc.baseUrl, method, path, body, { timeoutMs: 30_000 })

/** A table `name (id int primary key, xid bigint)` on the source, captured as entity type `name` by source `name`. */
async function captureTable (t: Test, env: Env, svc: ServiceProcess, name: string): Promise<void> {
  await queryOnce(env.source.url, `create table ${name} (id int primary key, xid bigint not null)`)
  const put = await api(svc, 'PUT', `/capture/sources/${name}`, { connection: env.source.url, tables: { [`public.${name}`]: { type: name } } })
  t.equal(put.status, 201, `PUT /capture/sources/${name}`, { body: put.body })
  await waitUntil(`${name} streaming`, 15_000, async () => (await api(svc, 'GET', `/capture/sources/${name}`)).body?.state === 'streaming')
}

/**
 * Inserts rows 1..total into the table, each in a transaction of its own, recording the
 * transaction's xid in the row. When the source goes away it reconnects and goes on (a row
 * whose commit may have happened is inserted only when it is not there).
 */
function startWriter (url: string, table: string, total: number, pauseMs: number): { done: Promise<void>, committed: () => number, reconnects: () => number } {
  let committed = 0
  let reconnects = 0
  const connect = async (): Promise<pg.Client> => {
    const deadline = Date.now() + 60_000
    for (;;) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
      client.on('error', () => {})
      try {
        await client.connect()
        return client
      } catch (error) {
        await client.end().catch(() => {})
        if (Date.now() > deadline) throw error
        await sleep(200)
      }
    }
  }
  const run = async (): Promise<void> => {
    let client = await connect()
    try {
      for (let id = 1; id <= total; id++) {
        for (let uncertain = false; ;) {
          try {
            if (uncertain && (await client.query(`select 1 from ${table} where id = $1`, [id])).rowCount === 1) break
            await client.query(`insert into ${table} (id, xid) values ($1, txid_current())`, [id])
            break
          } catch {
            reconnects++
            uncertain = true
            await client.end().catch(() => {})
            client = await connect()
          }
        }
        committed = id
        if (pauseMs > 0) await sleep(pauseMs)
      }
    } finally {
      await client.end().catch(() => {})
    }
  }
  return { done: run(), committed: () => committed, reconnects: () => reconnects }
}

/** The Rewind transactions of entity type `type` (one per source here), ascending by id. */
async function capturedTransactions (svc: ServiceProcess, type: string): Promise<any[]> {
  const out: any[] = []
  let cursor: string | null = null
  do {
    const page: HttpAnswer = await api(svc, 'GET', `/transactions?type=${type}&limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    if (page.status !== 200) throw new Error(`GET /transactions: ${page.status} ${JSON.stringify(page.body)}`)
    out.push(...(page.body.items as any[]))
    cursor = page.body.nextCursor as string | null
  } while (cursor !== null)
  return out.reverse()
}

/**
 * Waits until every row the source has is captured, then checks: one Rewind transaction per
 * source transaction (by xid), in commit order, none twice, none missing, none foreign; each
 * row's entity has exactly one version, an insert of that row, in that transaction.
 */
async function checkExactlyOnce (t: Test, svc: ServiceProcess, source: ThrowawayPostgres, name: string): Promise<void> {
  const { rows } = await queryOnce(source.url, `select id, xid::text as xid from ${name} order by id`)
  const sourceRows = (rows as Array<{ id: number, xid: string }>).map((r) => ({ id: r.id, xid: Number(r.xid) }))
  t.equal(sourceRows.length, ROWS, `the source has the ${ROWS} rows`)
  // Waits until all are there; gives up once nothing more arrives for 15 s (or after 90 s).
  const started = Date.now()
  let count = -1
  let changedAt = Date.now()
  while (count < sourceRows.length && Date.now() - changedAt < 15_000 && Date.now() - started < 90_000) {
    const now = await capturedTransactions(svc, name).then((list) => list.length, () => count)
    if (now !== count) { count = now; changedAt = Date.now() }
    if (count < sourceRows.length) await sleep(500)
  }
  if (count < sourceRows.length) t.comment(`${name}: ${count} of ${sourceRows.length} captured, nothing more for ${Date.now() - changedAt} ms (service running: ${String(svc.isRunning())})`)
  else t.comment(`${name}: caught up ${Date.now() - started} ms after the writes ended`)
  await sleep(1500) // a duplicate recorded late would show now
  const captured = await capturedTransactions(svc, name)
  const xids = captured.map((tx) => tx.meta?.source?.xid as number)
  t.equal(captured.length, sourceRows.length, `${captured.length} Rewind transactions for ${sourceRows.length} source transactions`)
  t.equal(new Set(xids).size, xids.length, 'no source transaction recorded twice')
  const known = new Set(sourceRows.map((r) => r.xid))
  t.strictSame(xids.filter((x) => !known.has(x)).slice(0, 10), [], 'every Rewind transaction is one of the source\'s')
  t.strictSame(xids, sourceRows.map((r) => r.xid), 'in the source\'s commit order (transaction ids increase with it)')
  t.equal(captured.every((tx) => tx.meta?.source?.name === name && tx.recordedBy?.source === name), true, 'meta.source.name and recordedBy name the source')
  const issued = captured.map((tx) => Date.parse(tx.issuedAt as string))
  t.equal(issued.every((ms, i) => i === 0 || ms >= issued[i - 1]!), true, 'issuedAt (the source commit times) never go back')

  // Each row: exactly one version, its insert, in the transaction of its xid, holding the row.
  const txOfXid = new Map(captured.map((tx) => [tx.meta?.source?.xid as number, tx.id as number]))
  const problems: unknown[] = []
  const wrongData: unknown[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < sourceRows.length) {
      const row = sourceRows[next++]!
      const page = await api(svc, 'GET', `/entities/${name}/${row.id}/versions`)
      const items = (page.body?.items ?? []) as any[]
      const got = items.map((v) => [v.operation, v.transactionId])
      const want = [['insert', txOfXid.get(row.xid)]]
      if (page.status !== 200 || JSON.stringify(got) !== JSON.stringify(want)) problems.push({ id: row.id, status: page.status, got, want })
      else if (JSON.stringify(items[0].data) !== JSON.stringify({ id: row.id, xid: row.xid })) wrongData.push({ id: row.id, got: items[0].data, want: { id: row.id, xid: row.xid } })
    }
  }
  const checking = Date.now()
  await Promise.all(Array.from({ length: 8 }, worker))
  t.strictSame(problems.slice(0, 5), [], `each of the ${sourceRows.length} rows has exactly one version, its insert, in its transaction (${problems.length} do not)`)
  t.strictSame(wrongData.slice(0, 5), [], `each version's data is its row, bigint as a number (${wrongData.length} are not)`)
  t.comment(`${name}: per-row check took ${Date.now() - checking} ms`)

  // Caught up: streaming, lag 0 (a later heartbeat may still be on its way: wait for it).
  let view: any
  await waitUntil(`${name}: lag 0`, 30_000, async () => {
    view = (await api(svc, 'GET', `/capture/sources/${name}`)).body
    return view?.state === 'streaming' && view?.lag?.bytes === 0
  }, 250).catch(() => undefined)
  t.strictSame([view?.state, view?.reason, view?.lag], ['streaming', null, { bytes: 0, seconds: 0 }], `${name}: GET shows streaming, caught up`)
}

async function dropSource (t: Test, svc: ServiceProcess, name: string): Promise<void> {
  t.equal((await api(svc, 'DELETE', `/capture/sources/${name}?dropSlot=true`)).status, 204, `DELETE ${name} ?dropSlot=true`)
}

// ------------------------------------------------------------------------------------------

async function serviceKilled (t: Test, env: Env): Promise<void> {
  const NAME = 'k_seq'
  await captureTable(t, env, env.svc, NAME)
  const writer = startWriter(env.source.url, NAME, ROWS, 2)
  const writesStarted = Date.now()
  await waitUntil('capture under way', 30_000, async () => (await capturedTransactions(env.svc, NAME)).length >= 100, 100)
  const committedAtKill = writer.committed()
  env.svc.child.kill('SIGKILL')
  const exit = await within(10_000, 'SIGKILL', env.svc.exited)
  t.equal(exit.signal, 'SIGKILL', 'the service was killed')
  t.equal(committedAtKill < ROWS, true, `killed while the source was committing (${committedAtKill} of ${ROWS} committed, ${exit.at - writesStarted} ms in)`)
  await env.svc.dispose()
  await sleep(1000) // the source commits on with nobody capturing
  env.svc = await startService({ databaseUrl: env.dbUrl })
  t.comment(`restarted ${Date.now() - exit.at} ms after the kill; ${writer.committed()} rows committed by then`)
  await writer.done
  t.comment(`the ${ROWS} source transactions took ${Date.now() - writesStarted} ms`)
  await checkExactlyOnce(t, env.svc, env.source, NAME)
  await dropSource(t, env.svc, NAME)
}

async function sourceRestarted (t: Test, env: Env): Promise<void> {
  const NAME = 'r_seq'
  await captureTable(t, env, env.svc, NAME)
  const writer = startWriter(env.source.url, NAME, ROWS, 2)
  const writesStarted = Date.now()
  await waitUntil('capture under way', 30_000, async () => (await capturedTransactions(env.svc, NAME)).length >= 100, 100)
  const committedAtStop = writer.committed()
  await env.source.stop('immediate')
  t.equal(committedAtStop < ROWS, true, `the source crashed while committing (${committedAtStop} of ${ROWS} committed)`)
  await sleep(1000)
  await env.source.start()
  t.comment(`source back ${Date.now() - writesStarted} ms after the writes started`)
  await writer.done
  t.equal(writer.reconnects() > 0, true, `the writer had to reconnect (${writer.reconnects()} times)`)
  t.equal(env.svc.isRunning(), true, 'the service kept running')
  await checkExactlyOnce(t, env.svc, env.source, NAME)
  await dropSource(t, env.svc, NAME)
}

async function twoInstances (t: Test, env: Env): Promise<void> {
  const NAME = 's_seq'
  const a = env.svc
  await captureTable(t, env, a, NAME) // A (already running) holds the source
  const b = await startService({ databaseUrl: env.dbUrl })
  t.teardown(async () => { await b.dispose() })
  let bExit: unknown = null
  void b.exited.then((e) => { bExit = e })
  const writer = startWriter(env.source.url, NAME, ROWS, 3)
  const writesStarted = Date.now()
  await waitUntil('capture under way', 30_000, async () => (await capturedTransactions(a, NAME)).length >= 100, 100)

  // Both run capture; one holds the source: the other never competes for the slot.
  const states: string[] = []
  for (let i = 0; i < 4; i++) {
    const view = (await api(b, 'GET', `/capture/sources/${NAME}`)).body
    states.push(`${String(view?.state)}/${String(view?.reason)}`)
    await sleep(400)
  }
  t.strictSame(states, ['streaming/null', 'streaming/null', 'streaming/null', 'streaming/null'], 'while both run, the source streams with no competing reader')
  const { rows } = await queryOnce(env.source.url, "select count(*)::int as n from pg_stat_replication where application_name = 'rewind-capture-s_seq'")
  t.equal(rows[0].n, 1, 'one replication session reads the source')

  const before = (await capturedTransactions(a, NAME)).length
  const committedAtKill = writer.committed()
  a.child.kill('SIGKILL')
  const exit = await within(10_000, 'SIGKILL', a.exited)
  t.equal(committedAtKill < ROWS, true, `the capturing instance was killed while the source was committing (${committedAtKill} of ${ROWS})`)
  // A is gone and B waits for its lease to run out: the source must not have been told of
  // more than was recorded (a logical slot never sends again what was acknowledged). The
  // client library acknowledges "last byte + 1": one byte past the recorded end is the same place.
  const slotAfterKill = String((await queryOnce(env.source.url, 'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1', ['rewind_default_s_seq'])).rows[0]?.lsn)
  const storedAfterKill = String((await api(b, 'GET', `/capture/sources/${NAME}`)).body?.confirmedLsn)
  const notPast = (await queryOnce(env.source.url, 'select $1::pg_lsn <= $2::pg_lsn + 1 as ok', [slotAfterKill, storedAfterKill])).rows[0].ok
  t.equal(notPast, true, `the slot was acknowledged up to what was recorded, no further (slot ${slotAfterKill}, recorded ${storedAfterKill})`)
  // What A had committed when it died is there; from then on only B can add to it.
  await sleep(1000)
  const atKill = (await capturedTransactions(b, NAME)).length
  let takeoverMs = -1
  try {
    await waitUntil('the other instance takes over', 25_000, async () => (await capturedTransactions(b, NAME)).length > atKill, 250)
    takeoverMs = Date.now() - exit.at
  } catch (error) {
    t.fail(String(error), { exit: bExit, output: b.output().slice(-4000) })
  }
  t.equal(takeoverMs >= 0 && takeoverMs <= 20_000, true, `the other instance captured again ${takeoverMs} ms after the kill (lease 10 s)`)
  t.comment(`A killed ${exit.at - writesStarted} ms into the writes, ${atKill} transactions captured by then (${before} a moment before)`)
  await a.dispose()
  env.svc = b
  await writer.done
  await checkExactlyOnce(t, b, env.source, NAME)
  await dropSource(t, b, NAME)
}

// ------------------------------------------------------------------------------------------

async function main (): Promise<void> {
  t.setTimeout(900_000)
  const started = Date.now()
  const dbUrl = await ownDatabase(t, SHARED_URL, 'capture_faults')
  // synchronous_commit on: a commit the writer saw survives the source's crash (the cluster's default here is off).
  const source = await startThrowawayPostgres({ settings: { wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10, synchronous_commit: 'on' } })
  t.teardown(async () => { await source.destroy() })
  let first: ServiceProcess
  try {
    first = await startService({ databaseUrl: dbUrl })
  } catch (error) {
    t.fail(`the service did not start: ${String(error)}`)
    return
  }
  const env: Env = { source, dbUrl, svc: first }
  t.teardown(async () => { await env.svc.dispose() })
  t.comment(`source cluster and service up in ${Date.now() - started} ms`)

  await t.test('kill -9 of the service while the source commits 2,000 transactions: exactly once after restart', async (t) => { await serviceKilled(t, env) })
  await t.test('the source crashes (immediate stop) and restarts mid-stream: exactly once', async (t) => { await sourceRestarted(t, env) })
  await t.test('two instances: one captures; kill it; the other takes over with no gap or duplicate', async (t) => { await twoInstances(t, env) })
  t.comment(`capture-faults.test.ts took ${Date.now() - started} ms`)
}

const reachable = await queryOnce(SHARED_URL, 'select 1').then(() => true, () => false)
if (!reachable) {
  if (process.env.REQUIRE_POSTGRES === '1') t.fail(`PostgreSQL at ${SHARED_URL} is required`)
  else t.plan(0, `PostgreSQL at ${SHARED_URL} is not reachable`)
} else {
  await main()
}
