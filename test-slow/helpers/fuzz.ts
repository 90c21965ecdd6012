import type { Test } from 'tap'
import fc from 'fast-check'
import { openHarness, type Harness } from '../../test/helpers/harness.js'
import { seedFromEnv } from './http.js'

// The machinery of the fuzz tests (fuzz.test.ts, fuzz-named-cases.test.ts): requests as
// cases, the checks of a rejection, the fixture, and the runner of one property.

export const SEED = seedFromEnv('FUZZ_SEED')
export const SCALE = Number(process.env.FUZZ_SCALE ?? 1)
export const runs = (n: number): number => Math.max(1, Math.round(n * SCALE))
export const MAX_SAFE = Number.MAX_SAFE_INTEGER
export const TYPE_RE = /^[a-z][a-z0-9_]{0,62}$/
export const RELATION_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** The generated cases of every property run so far in this process, in total and by property. */
export const totals: { cases: number, perProperty: Record<string, number> } = { cases: 0, perProperty: {} }

// ---------------------------------------------------------------- requests and checks

export interface Case {
  note: string
  method: 'GET' | 'PUT' | 'POST'
  url: string
  /** Raw body text; sent as application/json unless contentType says otherwise. */
  body?: string
  contentType?: string | null
  headers?: Record<string, string>
  /** The statuses the contract allows for this request (all 4xx). */
  expect: readonly number[]
}

export interface Answer { status: number, headers: Record<string, unknown>, body: any, text: string }

export async function send (h: Harness, c: Case): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${h.adminKey}`, ...c.headers }
  if (c.body !== undefined && c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json'
  const res = await h.app.inject({ method: c.method, url: c.url, headers, ...(c.body === undefined ? {} : { payload: c.body }) })
  let body: unknown
  try { body = res.body === '' ? undefined : JSON.parse(res.body) } catch { body = undefined }
  return { status: res.statusCode, headers: res.headers, body, text: res.body }
}

/** What is wrong with a rejection, or undefined. */
export function rejectionProblem (c: Case, a: Answer): string | undefined {
  if (a.status >= 500) return `got ${a.status} (server error): ${a.text.slice(0, 300)}`
  if (a.status < 400) return `accepted with ${a.status}: ${a.text.slice(0, 300)}`
  if (!c.expect.includes(a.status)) return `got ${a.status}, expected ${c.expect.join(' or ')}: ${a.text.slice(0, 300)}`
  if (!/^application\/problem\+json/.test(String(a.headers['content-type']))) return `content-type ${String(a.headers['content-type'])} is not application/problem+json`
  const b = a.body
  if (typeof b !== 'object' || b === null) return `the problem body is not a JSON object: ${a.text.slice(0, 200)}`
  for (const member of ['type', 'title', 'detail']) if (typeof b[member] !== 'string' || b[member] === '') return `problem member ${member} missing: ${a.text.slice(0, 200)}`
  if (b.status !== a.status) return `problem status ${String(b.status)} differs from the HTTP status ${a.status}`
  return undefined
}

const TABLES = ['versions', 'transactions', 'entity_types', 'idempotency_keys'] as const
/** The row counts of the tables a rejected request must not change, read in one statement (it runs after every case). */
export async function rowCounts (h: Harness): Promise<string> {
  const row = await h.db.selectNoFrom((eb) => TABLES.map((table) => eb.selectFrom(table).select(eb.fn.countAll<string>().as('n')).as(table)))
    .executeTakeFirstOrThrow() as Record<(typeof TABLES)[number], string | number | bigint>
  return TABLES.map((table) => `${table}=${Number(row[table])}`).join(' ')
}

export const describe = (c: Case): string =>
  `${c.note}: ${c.method} ${c.url.slice(0, 200)}${c.contentType === undefined ? '' : ` [content-type ${String(c.contentType)}]`}` +
  `${c.headers === undefined ? '' : ` headers ${JSON.stringify(c.headers).slice(0, 120)}`}${c.body === undefined ? '' : ` body ${c.body.slice(0, 400)}`}`

/** Sends one named case that must be rejected, asserting shape and unchanged rows. */
export async function expectRejected (t: Test, h: Harness, c: Case): Promise<Answer> {
  const before = await rowCounts(h)
  const a = await send(h, c)
  const problem = rejectionProblem(c, a)
  t.notOk(problem, `${c.note} → ${c.expect.join('/')}`, problem === undefined ? {} : { problem, request: describe(c) })
  t.equal(await rowCounts(h), before, `${c.note}: no row changed`)
  return a
}

// ---------------------------------------------------------------- fixture

export interface Fixture {
  /** The transaction that inserted item "1" (its latest version). */
  itemTx: number
  articleTx: number
  pairTx: number
  /** A transaction id no transaction has. */
  unknownTx: number
}

export async function setUp (h: Harness): Promise<Fixture> {
  const ok = (status: number, what: string): void => { if (status >= 300) throw new Error(`fixture: ${what} answered ${status}`) }
  ok((await h.put('/entity-types/item', {})).status, 'item')
  ok((await h.put('/entity-types/user', {})).status, 'user')
  ok((await h.put('/entity-types/pair', { idFields: ['a', 'b'] })).status, 'pair')
  ok((await h.put('/entity-types/article', {
    relations: {
      author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' },
      tags: { kind: 'manyToMany', target: 'user', through: 'article_user', localKey: 'article_id', remoteKey: 'user_id' }
    }
  })).status, 'article')
  const item = await h.post('/transactions', { changes: [{ type: 'item', op: 'insert', data: { id: 1, name: 'one' } }] })
  ok(item.status, 'item 1')
  const user = await h.post('/transactions', { changes: [{ type: 'user', op: 'insert', data: { id: 7, name: 'u' } }] })
  ok(user.status, 'user 7')
  const article = await h.post('/transactions', { changes: [{ type: 'article', op: 'insert', data: { id: 1, title: 't', author_id: 7 } }] })
  ok(article.status, 'article 1')
  const pair = await h.post('/transactions', { changes: [{ type: 'pair', op: 'insert', data: { a: 1, b: 'x', v: 0 } }] })
  ok(pair.status, 'pair 1,x')
  return { itemTx: item.body.transaction.id, articleTx: article.body.transaction.id, pairTx: pair.body.transaction.id, unknownTx: 987_654_321 }
}

/**
 * Runs one property on one fresh harness (PGlite) and counts its cases. A failing case does
 * not stop the run: failures are grouped by what went wrong (the case kind and the status)
 * and each group is reported once with its first request, so that one discrepancy does not
 * hide the others and every property runs all of its cases.
 */
export async function property (t: Test, name: string, numRuns: number, build: (fx: Fixture) => fc.Arbitrary<Case>): Promise<void> {
  await t.test(name, async (t) => {
    const h = await openHarness(t, 'pglite')
    const fx = await setUp(h)
    let baseline = await rowCounts(h)
    let cases = 0
    const statuses = new Map<number, number>()
    const failures = new Map<string, { count: number, example: string }>()
    const fail = (signature: string, example: string): void => {
      const known = failures.get(signature)
      if (known === undefined) failures.set(signature, { count: 1, example })
      else known.count++
    }
    const started = Date.now()
    await fc.assert(fc.asyncProperty(build(fx), async (c) => {
      cases++
      const a = await send(h, c)
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
      const problem = rejectionProblem(c, a)
      const now = await rowCounts(h)
      if (now !== baseline) {
        fail(`${c.note}: rows changed (status ${a.status})`, `${baseline} → ${now}; ${describe(c)} → ${a.text.slice(0, 300)}`)
        baseline = now
      }
      if (problem !== undefined) {
        const kind = a.status >= 500 ? '5xx' : a.status < 400 ? 'accepted' : c.expect.includes(a.status) ? 'not a problem document' : 'unexpected status'
        fail(`${c.note}: ${kind} ${a.status}`, `${problem}\n  request: ${describe(c)}`)
      }
    }), { numRuns, seed: SEED })
    for (const [signature, { count, example }] of failures) t.fail(`${signature} (${count} of ${cases} cases)`, { example })
    t.equal(failures.size, 0, `${cases} generated requests rejected with a 4xx problem, no row changed`)
    totals.cases += cases
    totals.perProperty[name] = cases
    t.comment(`${cases} cases in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  })
}

/** base64url of a value's JSON, as cursors are made. */
export const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value) ?? 'undefined').toString('base64url')
