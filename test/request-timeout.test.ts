import { sql } from 'kysely'
import { eachDatabase, TEST_DATABASE_URL } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { buildApp } from '../src/http/app.js'
import { openDatabase } from '../src/store/database.js'

// A read that runs past REQUEST_TIMEOUT_MS answers 503; a write answers its outcome (it may commit late).
// The database is made slow by holding the app's only connection.

eachDatabase('a read past the request timeout is 503; a write past it still answers what it committed', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  t.equal((await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 1, v: 0 } }] })).status, 201)
  const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(h.db)).rows[0]!.s
  const db = h.kind === 'postgres'
    ? await openDatabase({ databaseUrl: TEST_DATABASE_URL, searchPath: schema, poolSize: 1 }) // the database the harness made the schema in
    : h.db // PGlite has one connection anyway
  const app = await buildApp({ db, closeDatabase: h.kind === 'postgres', limits: { requestTimeoutMs: 300 } })
  t.teardown(async () => { await app.close() })
  const auth = { authorization: `Bearer ${h.adminKey}` }
  t.equal((await app.inject({ method: 'GET', url: '/entities/article/1', headers: auth })).statusCode, 200, 'the key is known before the database is held')

  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let holding!: () => void
  const isHolding = new Promise<void>((resolve) => { holding = resolve })
  const holder = db.transaction().execute(async (trx) => {
    await sql`select 1`.execute(trx)
    holding()
    await held
  })
  await isHolding

  const read = app.inject({ method: 'GET', url: '/entities/article/1', headers: auth })
  const write = app.inject({
    method: 'POST', url: '/transactions', headers: { ...auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ changes: [{ type: 'article', op: 'update', id: '1', data: { v: 1 } }] })
  })
  const readAnswer = await read
  const res = { status: readAnswer.statusCode, headers: readAnswer.headers, body: JSON.parse(readAnswer.body) }
  assertProblem(t, res, 503, 'the read past the timeout')
  t.equal(res.headers['retry-after'], '5')
  await new Promise((resolve) => setTimeout(resolve, 200))
  release()
  await holder
  const writeAnswer = await write
  t.equal(writeAnswer.statusCode, 201, 'the write that waited past the timeout answers what it recorded')
  const now = await app.inject({ method: 'GET', url: '/entities/article/1', headers: auth })
  t.strictSame(JSON.parse(now.body).data, { id: 1, v: 1 }, 'and it is recorded')
})

