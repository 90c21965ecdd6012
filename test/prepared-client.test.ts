import t, { type Test } from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import pg from 'pg'
import { PreparingClient } from '../src/store/prepared-client.js'
import { databaseKinds } from './helpers/harness.js'

// The service's connections to PostgreSQL (src/store/prepared-client.ts): statements with values
// run as named prepared statements, and a query asked for as a promise resolves with its result
// without keeping it alive after the caller is done with it.

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Rows like a page of versions: 50 JSON documents of about 1 KB. */
const PAGE = `select g as seq, jsonb_build_object('id', g, 'title', repeat('x', 900), 'tags', jsonb_build_array(g, g + 1)) as data
  from generate_series($1::int, $1::int + 49) g`

async function connected (t: Test): Promise<PreparingClient> {
  const client = new PreparingClient({ connectionString: DATABASE_URL })
  await client.connect()
  t.teardown(async () => { await client.end() })
  return client
}

if (!(await databaseKinds()).includes('postgres')) {
  t.comment('PostgreSQL is not reachable (or TEST_DB excludes it): PreparingClient is only used with PostgreSQL')
} else {
  t.test('a statement with values runs as a prepared statement named after its text, prepared once', async (t) => {
    const client = await connected(t)
    t.strictSame((await client.query('select $1::int + 1 as n', [1])).rows, [{ n: 2 }])
    t.strictSame((await client.query('select $1::int + 1 as n', [41])).rows, [{ n: 42 }])
    const { rows } = await client.query('select name, statement from pg_prepared_statements order by name') as pg.QueryResult<{ name: string, statement: string }>
    t.equal(rows.length, 1)
    t.match(rows[0]?.name, /^rw_[0-9a-f]{20}$/)
    t.equal(rows[0]?.statement, 'select $1::int + 1 as n')
  })

  t.test('a statement PostgreSQL refuses rejects with its error, and the connection goes on', async (t) => {
    const client = await connected(t)
    const error = await client.query('select $1::int as n', ['not a number']).then(() => undefined, (e: unknown) => e)
    t.ok(error instanceof Error)
    t.equal((error as { code?: string }).code, '22P02')
    t.strictSame((await client.query('select $1::int as n', [7])).rows, [{ n: 7 }])
    t.strictSame((await client.query('select 1 as one')).rows, [{ one: 1 }])
  })

  t.test('callbacks and query objects reach pg as they are', async (t) => {
    const client = await connected(t)
    const viaCallback = await new Promise<unknown>((resolve, reject) => {
      client.query('select $1::text as word', ['callback'], (error: Error | null, result: pg.QueryResult) => { if (error !== null) reject(error); else resolve(result.rows) })
    })
    t.strictSame(viaCallback, [{ word: 'callback' }])
    const rows: unknown[] = []
    const submitted = new pg.Query('select 1 as one union all select 2')
    t.equal(client.query(submitted), submitted)
    await new Promise<void>((resolve, reject) => {
      submitted.on('row', (row: unknown) => rows.push(row))
      submitted.on('end', () => resolve())
      submitted.on('error', reject)
    })
    t.strictSame(rows, [{ one: 1 }, { one: 2 }])
  })

  t.test("a finished read's rows do not outlive it", async (t) => {
    // With pg's own promise (client.query without a callback), the rows of finished reads were
    // promoted to V8's old generation: old space grew by 16 MB over these 300 reads (about all of
    // the rows), and in the service the young generation's collections that copied them paused
    // it for 10–30 ms. Now it grows by about 0.4 MB.
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void
    const client = await connected(t)
    for (let i = 0; i < 100; i++) await client.query(PAGE, [i])
    gc(); gc()
    const oldSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0
    const before = oldSpace()
    let read = 0
    for (let i = 0; i < 300; i++) {
      read += (await client.query(PAGE, [i])).rows.length
      if (i % 10 === 9) {
        await new Promise((resolve) => setImmediate(resolve))
        gc({ type: 'minor' })
      }
    }
    t.equal(read, 300 * 50)
    const grownKb = Math.round((oldSpace() - before) / 1024)
    t.ok(grownKb < 4096, `old space grew by ${grownKb} KB over 300 reads of 50 rows of 1 KB (at most 4 MB)`)
  })
}
