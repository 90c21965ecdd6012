import t, { type Test } from 'tap'
import fc from 'fast-check'
import { openHarness, type Harness } from '../test/helpers/harness.js'
import { seedFromEnv } from './helpers/http.js'

/**
 * Property-based tests of malformed requests (fast-check), in process on PGlite: every
 * write endpoint's bodies, params and headers and the read endpoints' queries and
 * cursors. Each generated request must be rejected with a 4xx (never 5xx)
 * application/problem+json carrying type/title/status/detail, and must change no row.
 * Named cases follow: content types, nesting depth, sizes near the limits, ids,
 * `__proto__`/`constructor`, cursors, unknown members, strings PostgreSQL cannot store.
 *
 * FUZZ_SEED replays a run; FUZZ_SCALE multiplies the number of runs (default 1 ≈ 10,500).
 */

const SEED = seedFromEnv('FUZZ_SEED')
const SCALE = Number(process.env.FUZZ_SCALE ?? 1)
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE))
const MAX_SAFE = Number.MAX_SAFE_INTEGER
const TYPE_RE = /^[a-z][a-z0-9_]{0,62}$/
const RELATION_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

let totalCases = 0
const perProperty: Record<string, number> = {}

// ---------------------------------------------------------------- requests and checks

interface Case {
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

interface Answer { status: number, headers: Record<string, unknown>, body: any, text: string }

async function send (h: Harness, c: Case): Promise<Answer> {
  const headers: Record<string, string> = { ...c.headers }
  if (c.body !== undefined && c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json'
  const res = await h.app.inject({ method: c.method, url: c.url, headers, ...(c.body === undefined ? {} : { payload: c.body }) })
  let body: unknown
  try { body = res.body === '' ? undefined : JSON.parse(res.body) } catch { body = undefined }
  return { status: res.statusCode, headers: res.headers, body, text: res.body }
}

/** What is wrong with a rejection, or undefined. */
function rejectionProblem (c: Case, a: Answer): string | undefined {
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
async function rowCounts (h: Harness): Promise<string> {
  const counts: string[] = []
  for (const table of TABLES) counts.push(`${table}=${await h.count(table)}`)
  return counts.join(' ')
}

const describe = (c: Case): string =>
  `${c.note}: ${c.method} ${c.url.slice(0, 200)}${c.contentType === undefined ? '' : ` [content-type ${String(c.contentType)}]`}` +
  `${c.headers === undefined ? '' : ` headers ${JSON.stringify(c.headers).slice(0, 120)}`}${c.body === undefined ? '' : ` body ${c.body.slice(0, 400)}`}`

/** Sends one named case that must be rejected, asserting shape and unchanged rows. */
async function expectRejected (t: Test, h: Harness, c: Case): Promise<Answer> {
  const before = await rowCounts(h)
  const a = await send(h, c)
  const problem = rejectionProblem(c, a)
  t.notOk(problem, `${c.note} → ${c.expect.join('/')}`, problem === undefined ? {} : { problem, request: describe(c) })
  t.equal(await rowCounts(h), before, `${c.note}: no row changed`)
  return a
}

// ---------------------------------------------------------------- fixture

interface Fixture {
  /** The transaction that inserted item "1" (its latest version). */
  itemTx: number
  articleTx: number
  pairTx: number
  /** A transaction id no transaction has. */
  unknownTx: number
}

async function setUp (h: Harness): Promise<Fixture> {
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
async function property (t: Test, name: string, numRuns: number, build: (fx: Fixture) => fc.Arbitrary<Case>): Promise<void> {
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
    if (failures.size === 0) t.pass(`${cases} generated requests rejected with a 4xx problem, no row changed`)
    totalCases += cases
    perProperty[name] = cases
    t.comment(`${cases} cases in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  })
}

// ---------------------------------------------------------------- generators

/** Printable strings (NUL and lone surrogates have their own named cases below). */
const str = (maxLength = 20, minLength = 0): fc.Arbitrary<string> => fc.string({ minLength, maxLength, unit: 'grapheme' })
const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' })
const smallObject = fc.dictionary(str(8), anyJson, { maxKeys: 3 })

/** An object with the given own members (`__proto__` stays an own member). */
function obj (entries: Array<[string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  return out
}
const withMember = (base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> =>
  obj([...Object.entries(base), [key, value]])
const without = (base: Record<string, unknown>, key: string): Record<string, unknown> => obj(Object.entries(base).filter(([k]) => k !== key))

const notObject = fc.oneof(fc.array(anyJson, { maxLength: 3 }), str(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null))
const notObjectOrNull = fc.oneof(fc.array(anyJson, { maxLength: 3 }), str(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean())
const notString = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(anyJson, { maxLength: 2 }), smallObject)
/** Not an actor: actors are strings or null. */
const notActor = notString.filter((v) => v !== null)
const notArray = fc.oneof(str(), fc.integer(), fc.boolean(), fc.constant(null), smallObject)
const notBoolean = fc.oneof(str(), fc.integer(), fc.constant(null), fc.array(anyJson, { maxLength: 2 }), smallObject, fc.constantFrom('true', 'false', 0, 1))
const notPositiveInt = fc.oneof(
  fc.integer({ max: 0 }), fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
  fc.constant(MAX_SAFE + 2), str(), fc.constantFrom('1', '12', '0x1'), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 })
)
const tooLong = (min: number): fc.Arbitrary<string> => fc.integer({ min, max: min + 300 }).map((n) => 'x'.repeat(n))
const badTypeName = fc.oneof(
  str(70, 1).filter((s) => !TYPE_RE.test(s) && !s.includes('/') && s.trim() === s && s !== '.' && s !== '..'),
  fc.constantFrom('A', '1abc', 'a-b', 'a'.repeat(64), 'Ärger', 'a b', 'a.b', '_x', 'x%', 'ab;drop')
)
const unknownTypeName = fc.stringMatching(/^zz[a-z0-9_]{0,20}$/)
const fieldName = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/)

/** A query-string value that does not coerce to an integer within [min, max]. */
const badIntParam = (min: number, max: number): fc.Arbitrary<string> => fc.oneof(
  fc.integer({ min: -1_000_000, max: min - 1 }).map(String),
  fc.integer({ min: max + 1, max: max + 1_000_000 }).map(String),
  fc.constantFrom('', 'abc', '1.5', '-1', '0', '9007199254740993', '1e400', 'NaN', 'Infinity', 'true', 'null', '[]', '1,2', '--1', '1 2'),
  str(12).filter((s) => { const n = Number(s); return !(s.trim() !== '' && Number.isInteger(n) && n >= min && n <= max) })
).filter((s) => { const n = Number(s); return !(s.trim() !== '' && Number.isInteger(n) && n >= min && n <= max) })

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value) ?? 'undefined').toString('base64url')
function isValidCursor (list: string, kind: 'number' | 'string', cursor: string): boolean {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    return Array.isArray(v) && v.length === 2 && v[0] === list && typeof v[1] === kind && (kind === 'string' || Number.isSafeInteger(v[1]))
  } catch { return false }
}
const LISTS = ['transactions', 'entity-types', 'versions:asc', 'versions:desc', 'revisions:item', 'revisions:user', 'other', '']
const badCursor = (list: string, kind: 'number' | 'string'): fc.Arbitrary<string> => fc.oneof(
  str(40),
  anyJson.map(b64),
  fc.tuple(fc.constantFrom(...LISTS), fc.oneof(fc.integer(), str(8), fc.double(), fc.constant(null))).map(b64),
  fc.tuple(fc.constantFrom(list), fc.oneof(fc.double({ noInteger: true }), fc.constant(MAX_SAFE + 2), str(5), fc.constant(null)), fc.option(fc.integer())).map(([l, v, extra]) => b64(extra === null ? [l, v] : [l, v, extra])),
  tooLong(201),
  fc.constantFrom('', '%', '====', 'WyJ0cmFuc2FjdGlvbnMiXQ', 'bnVsbA')
).filter((c) => !isValidCursor(list, kind, c))

const badDateTime = fc.oneof(
  str(25).filter((s) => !/^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d/.test(s)),
  fc.constantFrom('2024-13-01T00:00:00Z', '2024-01-01', '2024-01-01T00:00:00', 'yesterday', '1700000000', '2024-02-30T00:00:00Z',
    '2024-01-01T25:00:00Z', '2024-01-01T00:00:00+25:00', '')
)

// ---- PUT /entity-types/{type}

const validRelation = fc.constantFrom<Record<string, unknown>>(
  { kind: 'manyToOne', target: 'user', foreignKey: 'user_id' },
  { kind: 'oneToMany', target: 'item', foreignKey: 'parent_id' },
  { kind: 'manyToMany', target: 'user', through: 'fz_link', localKey: 'a_id', remoteKey: 'b_id' }
)
const badRelation: fc.Arbitrary<unknown> = fc.oneof(
  notObject,
  fc.tuple(validRelation, str(15).filter((k) => !['manyToOne', 'oneToMany', 'manyToMany'].includes(k))).map(([r, kind]) => ({ ...r, kind })),
  fc.tuple(validRelation, fc.nat(10)).map(([r, i]) => { const keys = Object.keys(r); return without(r, keys[i % keys.length]!) }),
  fc.tuple(validRelation, str(10).filter((k) => !['kind', 'target', 'foreignKey', 'through', 'localKey', 'remoteKey'].includes(k)), anyJson)
    .map(([r, k, v]) => withMember(r, k, v)),
  fc.tuple(validRelation, badTypeName).map(([r, target]) => ({ ...r, target })),
  fc.tuple(fc.constantFrom<Record<string, unknown>>({ kind: 'manyToOne', target: 'user' }, { kind: 'oneToMany', target: 'item' }),
    fc.oneof(notString, fc.constant(''), tooLong(256))).map(([r, foreignKey]) => ({ ...r, foreignKey })),
  fieldName.map((k) => ({ kind: 'manyToMany', target: 'user', through: 'fz_link', localKey: k, remoteKey: k })),
  badTypeName.map((through) => ({ kind: 'manyToMany', target: 'user', through, localKey: 'a_id', remoteKey: 'b_id' })),
  fc.constant({ kind: 'manyToOne', target: 'user', foreignKey: 'x', through: 'y' })
)
const badRelations: fc.Arbitrary<unknown> = fc.oneof(
  fc.oneof(fc.array(anyJson, { maxLength: 2 }), str(), fc.integer(), fc.boolean(), fc.constant(null)),
  fc.tuple(str(70).filter((k) => !RELATION_NAME_RE.test(k)), validRelation).map(([k, r]) => obj([[k, r]])),
  fc.tuple(fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/), badRelation).map(([k, r]) => obj([[k, r]]))
)
const badIdFields: fc.Arbitrary<unknown> = fc.oneof(
  notArray,
  fc.constant([]),
  fc.tuple(fc.array(fieldName, { maxLength: 2 }), fc.oneof(notString, fc.constant(''), tooLong(256)), fc.array(fieldName, { maxLength: 2 }))
    .map(([a, bad, b]) => [...a, bad, ...b]),
  fc.uniqueArray(fieldName, { minLength: 17, maxLength: 20 }),
  fieldName.map((f) => [f, f])
)
const badExclude: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  notArray.map((exclude) => ({ exclude })),
  fc.tuple(fc.array(fieldName, { maxLength: 2 }), fc.oneof(notString, fc.constant(''), tooLong(256))).map(([a, bad]) => ({ exclude: [...a, bad] })),
  fc.constant({ exclude: ['id'] }),
  fieldName.map((f) => ({ idFields: [f], exclude: [f, 'other'] })),
  fc.constant({ exclude: Array.from({ length: 1001 }, (_, i) => `f${i}`) })
)
const badDefinitionBody: fc.Arbitrary<unknown> = fc.oneof(
  notObject,
  fc.tuple(str(12).filter((k) => !['idFields', 'exclude', 'relations'].includes(k)), anyJson).map(([k, v]) => obj([[k, v]])),
  badIdFields.map((idFields) => ({ idFields })),
  badExclude,
  badRelations.map((relations) => ({ relations })),
  fc.tuple(badRelations, validRelation).map(([bad, good]) => ({ idFields: ['id'], relations: { ...(typeof bad === 'object' && bad !== null && !Array.isArray(bad) ? bad : {}), good_one: good, ...(typeof bad === 'object' && bad !== null && !Array.isArray(bad) ? {} : { broken: 5 }) } }))
)

/** Malformed JSON text: a valid text cut short or with a stray character. */
const malformedJson = (valid: string): fc.Arbitrary<string> => fc.oneof(
  fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
  fc.tuple(fc.nat(valid.length), fc.constantFrom('}', ']', ',', ':', '"', '{', 'x', '\'', '\\')).map(([i, ch]) => valid.slice(0, i) + ch + valid.slice(i)),
  fc.constantFrom(`${valid}}`, `${valid},`, `[${valid}`, valid.replace(/"/g, '\''), valid.replace(':', '='), 'undefined', 'NaN', '{a:1}')
).filter((text) => {
  try { JSON.parse(text); return false } catch { return text.trim() !== '' }
})

const NOT_JSON_TYPES = ['text/plain', 'application/xml', 'text/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/octet-stream', 'application/jsonx', 'text/json', 'application/ld+json', 'application/problem+json', 'text/html', 'image/png']

function entityTypeCases (): fc.Arbitrary<Case> {
  const url = (type: string): string => `/entity-types/${encodeURIComponent(type)}`
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom('fuzzed', 'item', 'another_type'), badDefinitionBody).map(([type, body]): Case => ({
      note: 'PUT entity type, schema-invalid definition', method: 'PUT', url: url(type), body: JSON.stringify(body), expect: [400]
    })) },
    { weight: 2, arbitrary: badTypeName.map((type): Case => ({ note: 'PUT entity type, invalid name', method: 'PUT', url: url(type), body: '{}', expect: [400, 404] })) },
    { weight: 1, arbitrary: malformedJson('{"idFields":["id"],"exclude":["x"],"relations":{"r":{"kind":"manyToOne","target":"user","foreignKey":"u"}}}')
      .map((body): Case => ({ note: 'PUT entity type, malformed JSON', method: 'PUT', url: url('fuzzed'), body, expect: [400] })) },
    { weight: 1, arbitrary: fc.constantFrom(...NOT_JSON_TYPES).map((contentType): Case => ({
      note: 'PUT entity type, not JSON', method: 'PUT', url: url('fuzzed'), body: '{}', contentType, expect: [415]
    })) },
    { weight: 1, arbitrary: fc.constantFrom<Record<string, unknown>>({ idFields: ['other'] }, { idFields: ['id', 'other'] }).map((body): Case => ({
      note: 'PUT entity type, idFields of a type with versions', method: 'PUT', url: url('item'), body: JSON.stringify(body), expect: [409]
    })) }
  )
}

// ---- POST /transactions

function transactionCases (fx: Fixture): fc.Arbitrary<Case> {
  const fillers = fc.tuple(
    fc.uniqueArray(fc.integer({ min: 1000, max: 1_000_000_000 }), { maxLength: 3 }),
    fc.boolean(), str(10)
  ).map(([ids, touchItem, name]) => [
    ...ids.map((id) => ({ type: 'item', op: 'insert', data: { id, name } })),
    ...(touchItem ? [{ type: 'item', op: 'update', id: '1', data: { name: `n${name}` } }] : [])
  ])
  const validChange = fc.constantFrom<Record<string, unknown>>(
    { type: 'item', op: 'insert', data: { id: 'fresh', x: 1 } },
    { type: 'item', op: 'update', id: '1', data: { x: 2 } },
    { type: 'pair', op: 'update', id: '1,x', data: { v: 3 } }
  )
  const wrongExpected = fc.integer({ min: 1, max: 1_000_000 }).filter((n) => n !== fx.itemTx)
  const badChange: fc.Arbitrary<{ change: unknown, status: number }> = fc.oneof(
    notObject.map((change) => ({ change, status: 400 })),
    fc.tuple(validChange, str(10).filter((k) => !['type', 'op', 'id', 'data', 'expectedTransactionId'].includes(k)), anyJson)
      .map(([c, k, v]) => ({ change: withMember(c, k, v), status: 400 })),
    fc.tuple(validChange, fc.oneof(badTypeName, notString, fc.constant(''))).map(([c, type]) => ({ change: { ...c, type }, status: 400 })),
    fc.tuple(validChange, fc.oneof(str(10).filter((op) => !['insert', 'update', 'delete'].includes(op)), notString)).map(([c, op]) => ({ change: { ...c, op }, status: 400 })),
    fc.tuple(validChange, fc.constantFrom('type', 'op')).map(([c, k]) => ({ change: without(c, k), status: 400 })),
    fc.oneof(notString, fc.constant(''), tooLong(1025)).map((id) => ({ change: { type: 'item', op: 'update', id, data: { x: 1 } }, status: 400 })),
    notObject.map((data) => ({ change: { type: 'item', op: 'update', id: '1', data }, status: 400 })),
    notObject.map((data) => ({ change: { type: 'item', op: 'insert', data }, status: 400 })),
    notPositiveInt.map((e) => ({ change: { type: 'item', op: 'update', id: '1', data: { x: 1 }, expectedTransactionId: e }, status: 400 })),
    fc.constant({ change: { type: 'item', op: 'insert' }, status: 400 }),
    smallObject.filter((d) => !Object.hasOwn(d, 'id')).map((data) => ({ change: { type: 'item', op: 'insert', data }, status: 400 })),
    fc.oneof(smallObject, fc.array(anyJson, { maxLength: 2 }), fc.boolean(), fc.constant(null), fc.double({ noInteger: true, noNaN: true }),
      fc.constantFrom(MAX_SAFE + 2, -(MAX_SAFE + 2), ''))
      .map((id) => ({ change: { type: 'item', op: 'insert', data: { id, x: 1 } }, status: 400 })),
    fc.tuple(fc.integer({ min: 2000, max: 9999 }), fc.integer({ min: 10_000, max: 99_999 }))
      .map(([a, b]) => ({ change: { type: 'item', op: 'insert', id: String(a), data: { id: b } }, status: 400 })),
    fc.integer({ min: 1, max: 1000 }).map((e) => ({ change: { type: 'item', op: 'insert', data: { id: 'fresh-e' }, expectedTransactionId: e }, status: 400 })),
    fc.tuple(str(5), str(5)).map(([x, y]) => ({ change: { type: 'pair', op: 'insert', data: { a: `${x},${y}`, b: 'q' } }, status: 400 })),
    fc.constant({ change: { type: 'pair', op: 'insert', data: { a: 5 } }, status: 400 }),
    fc.constantFrom('update', 'delete').map((op) => ({ change: { type: 'item', op, ...(op === 'update' ? { data: { x: 1 } } : {}) }, status: 400 })),
    fc.constant({ change: { type: 'item', op: 'update', id: '1' }, status: 400 }),
    fc.integer({ min: 2, max: 1000 }).map((id) => ({ change: { type: 'item', op: 'update', id: '1', data: { id } }, status: 400 })),
    smallObject.map((data) => ({ change: { type: 'item', op: 'delete', id: '1', data }, status: 400 })),
    unknownTypeName.map((type) => ({ change: { type, op: 'insert', data: { id: 1 } }, status: 404 })),
    fc.constant({ change: { type: 'item', op: 'insert', data: { id: 1, again: true } }, status: 409 }),
    fc.constant({ change: { type: 'item', op: 'insert', data: { id: '1' } }, status: 409 }),
    fc.tuple(fc.constantFrom('update', 'delete'), str(10)).map(([op, s]) => ({
      change: { type: 'item', op, id: `nope-${s}`, ...(op === 'update' ? { data: { x: 1 } } : {}) }, status: 409
    })),
    fc.tuple(fc.constantFrom('update', 'delete'), wrongExpected).map(([op, e]) => ({
      change: { type: 'item', op, id: '1', expectedTransactionId: e, ...(op === 'update' ? { data: { x: 9 } } : {}) }, status: 409
    }))
  )
  const validBody = (changes: unknown[]): Record<string, unknown> => ({ actor: 'fuzz', meta: { k: 1 }, changes })
  const topLevel: fc.Arbitrary<{ body: unknown, status: number, headers?: Record<string, string> }> = fc.oneof(
    notObject.map((body) => ({ body, status: 400 })),
    fc.tuple(fillers, str(10).filter((k) => !['actor', 'meta', 'issuedAt', 'changes'].includes(k)), anyJson)
      .map(([f, k, v]) => ({ body: withMember(validBody([...f, { type: 'item', op: 'insert', data: { id: 'top' } }]), k, v), status: 400 })),
    fc.tuple(fillers, fc.oneof(notActor, tooLong(256))).map(([f, actor]) => ({ body: { ...validBody([...f, { type: 'item', op: 'insert', data: { id: 'a' } }]), actor }, status: 400 })),
    fc.tuple(fillers, notObject).map(([f, meta]) => ({ body: { ...validBody([...f, { type: 'item', op: 'insert', data: { id: 'm' } }]), meta }, status: 400 })),
    fc.tuple(fillers, fc.oneof(badDateTime, notString)).map(([f, issuedAt]) => ({ body: { ...validBody([...f, { type: 'item', op: 'insert', data: { id: 'i' } }]), issuedAt }, status: 400 })),
    notArray.map((changes) => ({ body: { actor: 'x', changes }, status: 400 })),
    fc.constant({ body: { actor: 'x' }, status: 400 }),
    fc.tuple(fillers, tooLong(256)).map(([f, key]) => ({
      body: validBody([...f, { type: 'item', op: 'insert', data: { id: 'idem' } }]), status: 400, headers: { 'idempotency-key': key }
    }))
  )
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fillers, badChange, fc.nat()).map(([f, bad, at]): Case => {
      const changes: unknown[] = [...f]
      changes.splice(at % (changes.length + 1), 0, bad.change)
      return { note: 'POST /transactions, one bad change', method: 'POST', url: '/transactions', body: JSON.stringify(validBody(changes)), expect: [bad.status] }
    }) },
    { weight: 3, arbitrary: topLevel.map((c): Case => ({
      note: 'POST /transactions, bad top level', method: 'POST', url: '/transactions', body: JSON.stringify(c.body), expect: [c.status],
      ...(c.headers === undefined ? {} : { headers: c.headers })
    })) },
    { weight: 1, arbitrary: malformedJson('{"actor":"a","changes":[{"type":"item","op":"insert","data":{"id":"mj","v":[1,2,{"k":"v"}]}}]}')
      .map((body): Case => ({ note: 'POST /transactions, malformed JSON', method: 'POST', url: '/transactions', body, expect: [400] })) },
    { weight: 1, arbitrary: fc.constantFrom(...NOT_JSON_TYPES, null).map((contentType): Case => ({
      note: 'POST /transactions, not JSON', method: 'POST', url: '/transactions', contentType,
      body: '{"changes":[{"type":"item","op":"insert","data":{"id":"ct"}}]}', expect: [415]
    })) }
  )
}

// ---- POST /entities/{type}/{id}/revert

function entityRevertCases (fx: Fixture): fc.Arbitrary<Case> {
  const targets = fc.constantFrom(
    { type: 'item', id: '1', relations: [] as string[], to: fx.itemTx },
    { type: 'article', id: '1', relations: ['author', 'tags'] as string[], to: fx.articleTx },
    { type: 'pair', id: '1,x', relations: [] as string[], to: fx.pairTx }
  )
  const url = (type: string, id: string): string => `/entities/${encodeURIComponent(type)}/${encodeURIComponent(id)}/revert`
  const badBody = (relations: string[], to: number): fc.Arbitrary<unknown> => fc.oneof(
    notObject,
    fc.constant({ dryRun: true }),
    notPositiveInt.map((bad) => ({ to: bad })),
    notArray.map((r) => ({ to, relations: r })),
    fc.tuple(fc.array(fc.constantFrom(...relations, ...(relations.length === 0 ? ['x'] : [])), { maxLength: 2 }), fc.oneof(notString, fc.constant(''), fc.constantFrom(' ', '  ', '\t'), tooLong(501)))
      .map(([good, bad]) => ({ to, relations: relations.length === 0 ? [bad] : [...good, bad] })),
    fc.stringMatching(/^[a-z][a-z_]{0,12}$/).filter((n) => !relations.includes(n)).map((n) => ({ to, relations: [n] })),
    // (for a type with an author relation) a dotted path into a relation the target type lacks
    fc.stringMatching(/^[a-z][a-z_]{0,8}$/).map((n) => ({ to, relations: [relations.includes('author') ? `author.${n}` : n] })),
    fc.constant({ to, relations: Array.from({ length: 101 }, () => relations[0] ?? 'x') }),
    notBoolean.map((dryRun) => ({ to, dryRun })),
    fc.oneof(notActor, tooLong(256)).map((actor) => ({ to, actor, dryRun: true })),
    notObject.map((meta) => ({ to, meta, dryRun: true })),
    fc.tuple(str(10).filter((k) => !['to', 'relations', 'dryRun', 'actor', 'meta'].includes(k)), anyJson).map(([k, v]) => withMember({ to, dryRun: false }, k, v))
  )
  return fc.oneof(
    { weight: 6, arbitrary: targets.chain((tg) => badBody(tg.relations, tg.to).map((body): Case => ({
      note: 'POST entity revert, bad body', method: 'POST', url: url(tg.type, tg.id), body: JSON.stringify(body), expect: [400]
    }))) },
    { weight: 1, arbitrary: fc.tuple(badTypeName, targets).map(([type, tg]): Case => ({
      note: 'POST entity revert, invalid type name', method: 'POST', url: url(type, tg.id), body: JSON.stringify({ to: tg.to }), expect: [400, 404]
    })) },
    { weight: 1, arbitrary: fc.tuple(unknownTypeName, targets).map(([type, tg]): Case => ({
      note: 'POST entity revert, unknown type', method: 'POST', url: url(type, tg.id), body: JSON.stringify({ to: tg.to }), expect: [404]
    })) },
    { weight: 1, arbitrary: fc.tuple(str(30, 1).filter((s) => s !== '1' && s !== '1,x' && s !== '.' && s !== '..'), targets).map(([id, tg]): Case => ({
      note: 'POST entity revert, unknown entity', method: 'POST', url: url(tg.type, id), body: JSON.stringify({ to: tg.to }), expect: [404]
    })) },
    { weight: 1, arbitrary: fc.tuple(tooLong(1025), targets).map(([id, tg]): Case => ({
      note: 'POST entity revert, id too long', method: 'POST', url: url(tg.type, id), body: JSON.stringify({ to: tg.to }), expect: [400, 414]
    })) },
    { weight: 1, arbitrary: fc.tuple(targets, fc.constantFrom(...NOT_JSON_TYPES)).map(([tg, contentType]): Case => ({
      note: 'POST entity revert, not JSON', method: 'POST', url: url(tg.type, tg.id), body: JSON.stringify({ to: tg.to }), contentType, expect: [415]
    })) },
    { weight: 1, arbitrary: targets.chain((tg) => malformedJson(JSON.stringify({ to: tg.to, relations: tg.relations, dryRun: false })).map((body): Case => ({
      note: 'POST entity revert, malformed JSON', method: 'POST', url: url(tg.type, tg.id), body, expect: [400]
    }))) }
  )
}

// ---- POST /transactions/{id}/revert

function transactionRevertCases (fx: Fixture): fc.Arbitrary<Case> {
  const badBody: fc.Arbitrary<unknown> = fc.oneof(
    notObjectOrNull, // a JSON null body has its own named case
    notBoolean.map((force) => ({ force })),
    notBoolean.map((dryRun) => ({ dryRun })),
    fc.oneof(notActor, tooLong(256)).map((actor) => ({ actor })),
    notObject.map((meta) => ({ meta })),
    fc.tuple(str(10).filter((k) => !['force', 'dryRun', 'actor', 'meta'].includes(k)), anyJson).map(([k, v]) => obj([['dryRun', true], [k, v]]))
  )
  const validTx = fc.constantFrom(fx.itemTx, fx.articleTx, fx.pairTx)
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(validTx, badBody).map(([id, body]): Case => ({
      note: 'POST transaction revert, bad body', method: 'POST', url: `/transactions/${id}/revert`, body: JSON.stringify(body), expect: [400]
    })) },
    { weight: 2, arbitrary: badIntParam(1, MAX_SAFE).filter((s) => s !== '').map((id): Case => ({
      note: 'POST transaction revert, invalid id', method: 'POST', url: `/transactions/${encodeURIComponent(id)}/revert`, body: '{"dryRun":true}', expect: [400]
    })) },
    { weight: 1, arbitrary: fc.integer({ min: 100_000, max: MAX_SAFE }).map((id): Case => ({
      note: 'POST transaction revert, unknown transaction', method: 'POST', url: `/transactions/${id}/revert`, body: '{"force":true}', expect: [404]
    })) },
    { weight: 1, arbitrary: fc.tuple(validTx, fc.constantFrom(...NOT_JSON_TYPES)).map(([id, contentType]): Case => ({
      note: 'POST transaction revert, not JSON', method: 'POST', url: `/transactions/${id}/revert`, body: '{"force":true}', contentType, expect: [415]
    })) },
    { weight: 1, arbitrary: fc.tuple(validTx, malformedJson('{"force":true,"dryRun":false,"actor":"a","meta":{"k":[1]}}')).map(([id, body]): Case => ({
      note: 'POST transaction revert, malformed JSON', method: 'POST', url: `/transactions/${id}/revert`, body, expect: [400]
    })) }
  )
}

// ---- read endpoints: queries, cursors, params

function readCases (fx: Fixture): fc.Arbitrary<Case> {
  const q = (s: string): string => encodeURIComponent(s)
  const get = (note: string, url: string, expect: number[] = [400]): Case => ({ note, method: 'GET', url, expect })
  return fc.oneof(
    badIntParam(1, 1000).map((v) => get('GET /entity-types limit', `/entity-types?limit=${q(v)}`)),
    badCursor('entity-types', 'string').map((v) => get('GET /entity-types cursor', `/entity-types?cursor=${q(v)}`)),
    badIntParam(1, 1000).map((v) => get('GET revisions limit', `/entity-types/item/revisions?limit=${q(v)}`)),
    badCursor('revisions:item', 'number').map((v) => get('GET revisions cursor', `/entity-types/item/revisions?cursor=${q(v)}`)),
    badTypeName.map((v) => get('GET entity type, invalid name', `/entity-types/${q(v)}`, [400, 404])),
    badIntParam(1, 1000).map((v) => get('GET /transactions limit', `/transactions?limit=${q(v)}`)),
    badCursor('transactions', 'number').map((v) => get('GET /transactions cursor', `/transactions?cursor=${q(v)}`)),
    badDateTime.map((v) => get('GET /transactions since', `/transactions?since=${q(v)}`)),
    badDateTime.map((v) => get('GET /transactions until', `/transactions?until=${q(v)}&actor=fuzz`)),
    fc.oneof(badTypeName, fc.constant('')).map((v) => get('GET /transactions type', `/transactions?type=${q(v)}`)),
    badIntParam(1, MAX_SAFE).map((v) => get('GET /transactions/{id}', `/transactions/${q(v)}`, [400, 404])),
    badIntParam(1, 1000).map((v) => get('GET versions limit', `/entities/item/1/versions?limit=${q(v)}`)),
    fc.constantFrom('asc', 'desc').chain((order) => badCursor(`versions:${order}`, 'number').map((v) =>
      get('GET versions cursor', `/entities/item/1/versions?order=${order}&cursor=${q(v)}`))),
    str(10).filter((v) => v !== 'asc' && v !== 'desc').map((v) => get('GET versions order', `/entities/item/1/versions?order=${q(v)}`)),
    fc.tuple(badTypeName, fc.constantFrom('', '/versions', '/changeset?from=1&to=2')).map(([v, rest]) =>
      get('GET entity, invalid type', `/entities/${q(v)}/1${rest}`, [400, 404])),
    fc.tuple(unknownTypeName, fc.constantFrom('', '/versions', `/versions/${fx.itemTx}`)).map(([v, rest]) => get('GET entity, unknown type', `/entities/${v}/1${rest}`, [404])),
    fc.tuple(str(20, 1).filter((s) => s !== '1' && s !== '.' && s !== '..'), fc.constantFrom('', '/versions', `/versions/${fx.itemTx}`)).map(([id, rest]) =>
      get('GET entity, unknown id', `/entities/item/${q(id)}${rest}`, [404])),
    tooLong(1025).map((id) => get('GET entity, id too long', `/entities/item/${id}/versions`, [400, 414])),
    badIntParam(1, MAX_SAFE).map((v) => get('GET entity at', `/entities/item/1?at=${q(v)}`)),
    fc.stringMatching(/^[a-z][a-z_]{0,12}$/).map((v) => get('GET entity, unknown relation', `/entities/item/1?relations=${q(v)}`)),
    fc.stringMatching(/^[a-z][a-z_]{0,12}$/).filter((v) => v !== 'author' && v !== 'tags').map((v) =>
      get('GET version, unknown relation', `/entities/article/1/versions/${fx.articleTx}?relations=author,${q(v)}`)),
    badIntParam(1, MAX_SAFE).filter((v) => v !== '').map((v) => get('GET version, invalid transaction id', `/entities/item/1/versions/${q(v)}`)),
    fc.tuple(badIntParam(1, MAX_SAFE), fc.boolean()).map(([v, first]) => get('GET changeset from/to',
      first ? `/entities/item/1/changeset?from=${q(v)}&to=${fx.itemTx}` : `/entities/item/1/changeset?from=${fx.itemTx}&to=${q(v)}`)),
    fc.constantFrom('from', 'to').map((k) => get('GET changeset, missing parameter', `/entities/item/1/changeset?${k}=${fx.itemTx}`))
  )
}

// ---------------------------------------------------------------- the properties

t.comment(`fast-check seed ${SEED} (FUZZ_SEED=${SEED} replays it)`)
const fileStarted = Date.now()

await property(t, 'PUT /entity-types/{type}: malformed definitions, names, JSON, content types', runs(2000), () => entityTypeCases())
await property(t, 'POST /transactions: malformed bodies, changes, headers, JSON, content types', runs(3000), (fx) => transactionCases(fx))
await property(t, 'POST /entities/{type}/{id}/revert: malformed bodies and params', runs(1500), (fx) => entityRevertCases(fx))
await property(t, 'POST /transactions/{id}/revert: malformed bodies and params', runs(1500), (fx) => transactionRevertCases(fx))
await property(t, 'GET endpoints: malformed queries, cursors and params', runs(2500), (fx) => readCases(fx))

// ---------------------------------------------------------------- named cases

t.test('wrong content type is 415 on every write endpoint', async (t) => {
  const h = await openHarness(t, 'pglite')
  const fx = await setUp(h)
  const writes: Array<[Case['method'], string, string]> = [
    ['PUT', '/entity-types/ct_type', '{}'],
    ['POST', '/transactions', '{"changes":[{"type":"item","op":"insert","data":{"id":"ct"}}]}'],
    ['POST', '/entities/item/1/revert', `{"to":${fx.itemTx}}`],
    ['POST', `/transactions/${fx.itemTx}/revert`, '{"force":true}']
  ]
  for (const [method, url, body] of writes) {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=zz', 'application/xml', null]) {
      await expectRejected(t, h, { note: `${method} ${url} as ${String(contentType)}`, method, url, body, contentType, expect: [415] })
    }
  }
  // Positive controls: JSON with parameters and in upper case is JSON.
  const ok = await send(h, { note: '', method: 'POST', url: '/transactions', contentType: 'application/json; charset=utf-8', body: '{"changes":[{"type":"item","op":"insert","data":{"id":"cs"}}]}', expect: [] })
  t.equal(ok.status, 201, 'application/json; charset=utf-8 is accepted')
  const upper = await send(h, { note: '', method: 'POST', url: '/transactions', contentType: 'Application/JSON', body: '{"changes":[{"type":"item","op":"insert","data":{"id":"up"}}]}', expect: [] })
  t.equal(upper.status, 201, 'media type names are case-insensitive')
})

t.test('nesting: 64 levels are accepted, 65 and far deeper are 400', async (t) => {
  const h = await openHarness(t, 'pglite')
  const fx = await setUp(h)
  const nest = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels)
  // {changes:[{data:{deep: …}}]}: the body, changes, the change and data are 4 levels.
  const at = (id: string, levels: number): string => `{"changes":[{"type":"item","op":"insert","data":{"id":"${id}","deep":${nest(levels)}}}]}`
  const ok = await send(h, { note: '', method: 'POST', url: '/transactions', body: at('d64', 60), expect: [] })
  t.equal(ok.status, 201, 'a body 64 levels deep is recorded')
  await expectRejected(t, h, { note: 'a body 65 levels deep', method: 'POST', url: '/transactions', body: at('d65', 61), expect: [400] })
  await expectRejected(t, h, { note: 'a body 100,000 levels deep', method: 'POST', url: '/transactions', body: at('dx', 100_000), expect: [400] })
  await expectRejected(t, h, { note: 'objects 1,000 levels deep', method: 'POST', url: '/transactions', body: `{"changes":${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}}`, expect: [400] })
  await expectRejected(t, h, { note: 'entity type definition 65 levels deep', method: 'PUT', url: '/entity-types/deep', body: `{"exclude":${nest(64)}}`, expect: [400] })
  await expectRejected(t, h, { note: 'entity revert meta 65 levels deep', method: 'POST', url: '/entities/item/1/revert', body: `{"to":${fx.itemTx},"meta":{"m":${nest(63)}}}`, expect: [400] })
  await expectRejected(t, h, { note: 'transaction revert meta 65 levels deep', method: 'POST', url: `/transactions/${fx.itemTx}/revert`, body: `{"meta":{"m":${nest(63)}}}`, expect: [400] })
  const text = await send(h, { note: '', method: 'POST', url: '/transactions', expect: [], body: JSON.stringify({ changes: [{ type: 'item', op: 'insert', data: { id: 'brackets', s: `${'['.repeat(200)}"\\${'{'.repeat(200)}` } }] }) })
  t.equal(text.status, 201, 'brackets and escaped quotes inside strings do not count as nesting')
})

t.test('sizes near the limits', async (t) => {
  const h = await openHarness(t, 'pglite')
  const fx = await setUp(h)
  const LIMIT = 5 * 1024 * 1024 // the default BODY_LIMIT
  const bodyOfBytes = (id: string, bytes: number, unit = 'x'): string => {
    const head = `{"changes":[{"type":"item","op":"insert","data":{"id":"${id}","s":"`
    const tail = '"}}]}'
    const room = bytes - Buffer.byteLength(head + tail)
    const unitBytes = Buffer.byteLength(unit)
    return head + unit.repeat(Math.floor(room / unitBytes)) + 'x'.repeat(room % unitBytes) + tail
  }
  const exact = bodyOfBytes('big', LIMIT)
  t.equal(Buffer.byteLength(exact), LIMIT)
  const atLimit = await send(h, { note: '', method: 'POST', url: '/transactions', body: exact, expect: [] })
  t.equal(atLimit.status, 201, 'a body of exactly BODY_LIMIT bytes is recorded')
  const stored = await h.get('/entities/item/big')
  t.equal(stored.body?.data?.s?.length, Buffer.byteLength(exact) - Buffer.byteLength('{"changes":[{"type":"item","op":"insert","data":{"id":"big","s":""}}]}'), 'the huge string is stored whole')
  await expectRejected(t, h, { note: 'a body one byte over BODY_LIMIT', method: 'POST', url: '/transactions', body: bodyOfBytes('big2', LIMIT + 1), expect: [413] })
  const multibyte = bodyOfBytes('big3', LIMIT + 2, 'é')
  t.ok(multibyte.length < LIMIT, 'fewer characters than the limit')
  await expectRejected(t, h, { note: 'a body over the limit in bytes, under it in characters', method: 'POST', url: '/transactions', body: multibyte, expect: [413] })
  await expectRejected(t, h, { note: 'PUT entity type over the limit', method: 'PUT', url: '/entity-types/huge', body: `{"exclude":["${'x'.repeat(LIMIT)}"]}`, expect: [413] })

  const post = async (body: unknown, headers?: Record<string, string>): Promise<Answer> =>
    await send(h, { note: '', method: 'POST', url: '/transactions', body: JSON.stringify(body), expect: [], ...(headers === undefined ? {} : { headers }) })
  t.equal((await post({ actor: 'a'.repeat(255), changes: [{ type: 'item', op: 'insert', data: { id: 'actor255' } }] })).status, 201, 'actor of 255 characters')
  await expectRejected(t, h, { note: 'actor of 256 characters', method: 'POST', url: '/transactions', expect: [400], body: JSON.stringify({ actor: 'a'.repeat(256), changes: [{ type: 'item', op: 'insert', data: { id: 'actor256' } }] }) })
  t.equal((await post({ changes: [{ type: 'item', op: 'insert', data: { id: 'k'.repeat(1024) } }] })).status, 201, 'id of 1,024 characters')
  t.equal((await post({ changes: [{ type: 'item', op: 'insert', data: { id: 'k'.repeat(101) } }] })).status, 201, 'id of 101 characters')
  // An entity whose key the API accepts (up to 1,024 characters) must be reachable by its path.
  for (const length of [101, 1024]) {
    const id = 'k'.repeat(length)
    for (const [method, url, body] of [['GET', `/entities/item/${id}`, undefined], ['GET', `/entities/item/${id}/versions`, undefined],
      ['POST', `/entities/item/${id}/revert`, JSON.stringify({ to: 1, dryRun: true })]] as Array<['GET' | 'POST', string, string | undefined]>) {
      const a = await send(h, { note: '', method, url, expect: [], ...(body === undefined ? {} : { body }) })
      t.equal(a.status, 200, `${method} ${url.replace(id, `<id of ${length} characters>`)} → 200`, a.status === 200 ? {} : { answer: a.text.slice(0, 300) })
    }
  }
  await expectRejected(t, h, { note: 'insert with an id of 1,025 characters', method: 'POST', url: '/transactions', expect: [400], body: JSON.stringify({ changes: [{ type: 'item', op: 'insert', data: { id: 'k'.repeat(1025) } }] }) })
  await expectRejected(t, h, { note: 'update id of 1,025 characters', method: 'POST', url: '/transactions', expect: [400], body: JSON.stringify({ changes: [{ type: 'item', op: 'update', id: 'k'.repeat(1025), data: { a: 1 } }] }) })
  t.equal((await post({ changes: [{ type: 'item', op: 'insert', data: { id: 'idem255' } }] }, { 'idempotency-key': 'i'.repeat(255) })).status, 201, 'Idempotency-Key of 255 characters')
  await expectRejected(t, h, { note: 'Idempotency-Key of 256 characters', method: 'POST', url: '/transactions', expect: [400], headers: { 'idempotency-key': 'i'.repeat(256) }, body: JSON.stringify({ changes: [{ type: 'item', op: 'insert', data: { id: 'idem256' } }] }) })
  t.equal((await h.put(`/entity-types/${'t'.repeat(63)}`, {})).status, 201, 'type name of 63 characters')
  await expectRejected(t, h, { note: 'type name of 64 characters', method: 'PUT', url: `/entity-types/${'t'.repeat(64)}`, body: '{}', expect: [400] })
  t.equal((await h.put('/entity-types/longrel', { relations: { [`r${'x'.repeat(62)}`]: { kind: 'manyToOne', target: 'user', foreignKey: 'f'.repeat(255) } } })).status, 201, 'relation name of 63 and foreign key of 255 characters')
  await expectRejected(t, h, { note: 'relation name of 64 characters', method: 'PUT', url: '/entity-types/longrel2', expect: [400], body: JSON.stringify({ relations: { [`r${'x'.repeat(63)}`]: { kind: 'manyToOne', target: 'user', foreignKey: 'f' } } }) })
  await expectRejected(t, h, { note: 'foreign key of 256 characters', method: 'PUT', url: '/entity-types/longrel3', expect: [400], body: JSON.stringify({ relations: { r: { kind: 'manyToOne', target: 'user', foreignKey: 'f'.repeat(256) } } }) })
  await expectRejected(t, h, { note: 'cursor of 201 characters', method: 'GET', url: `/transactions?cursor=${'A'.repeat(201)}`, expect: [400] })
  await expectRejected(t, h, { note: 'relations query of 2,001 characters', method: 'GET', url: `/entities/item/1?relations=${'r'.repeat(2001)}`, expect: [400] })
  await expectRejected(t, h, { note: '10,001 changes', method: 'POST', url: '/transactions', expect: [400], body: JSON.stringify({ changes: Array.from({ length: 10_001 }, (_, i) => ({ type: 'item', op: 'insert', data: { id: `m${i}` } })) }) })
  t.equal((await send(h, { note: '', method: 'POST', url: `/transactions/${fx.itemTx}/revert`, body: JSON.stringify({ dryRun: true, actor: 'a'.repeat(255) }), expect: [] })).status, 200, 'a dry run with a 255-character actor')
})

t.test('non-scalar, missing and malformed ids', async (t) => {
  const h = await openHarness(t, 'pglite')
  await setUp(h)
  const insert = (data: unknown, type = 'item'): string => JSON.stringify({ changes: [{ type, op: 'insert', data }] })
  const cases: Array<[string, string]> = [
    ['id is an object', insert({ id: { n: 1 } })],
    ['id is an array', insert({ id: [1] })],
    ['id is true', insert({ id: true })],
    ['id is null', insert({ id: null })],
    ['id is a fraction', insert({ id: 1.5 })],
    ['id is an unsafe integer', '{"changes":[{"type":"item","op":"insert","data":{"id":9007199254740993}}]}'],
    ['id is 1e400', '{"changes":[{"type":"item","op":"insert","data":{"id":1e400}}]}'],
    ['id is empty', insert({ id: '' })],
    ['id is missing', insert({ name: 'no id' })],
    ['composite key part missing', insert({ a: 1 }, 'pair')],
    ['composite key part holds ","', insert({ a: '1,2', b: 'x' }, 'pair')],
    ['composite key part is an object', insert({ a: {}, b: 'x' }, 'pair')],
    ['update id is a number', JSON.stringify({ changes: [{ type: 'item', op: 'update', id: 1, data: { a: 1 } }] })],
    ['update id is null', JSON.stringify({ changes: [{ type: 'item', op: 'update', id: null, data: { a: 1 } }] })],
    ['update id is missing', JSON.stringify({ changes: [{ type: 'item', op: 'update', data: { a: 1 } }] })],
    ['delete id is an array', JSON.stringify({ changes: [{ type: 'item', op: 'delete', id: ['1'] }] })],
    ['insert id does not match data', JSON.stringify({ changes: [{ type: 'item', op: 'insert', id: '2', data: { id: 3 } }] })],
    ['update changes the id field', JSON.stringify({ changes: [{ type: 'item', op: 'update', id: '1', data: { id: 2 } }] })]
  ]
  for (const [note, body] of cases) await expectRejected(t, h, { note, method: 'POST', url: '/transactions', body, expect: [400] })
  await expectRejected(t, h, { note: 'transaction id path 0', method: 'GET', url: '/transactions/0', expect: [400] })
  await expectRejected(t, h, { note: 'transaction id path 2^53', method: 'GET', url: '/transactions/9007199254740993', expect: [400] })
  await expectRejected(t, h, { note: 'transaction id path 1.0e0x', method: 'GET', url: '/transactions/1.0e0x', expect: [400] })
  await expectRejected(t, h, { note: 'malformed percent-encoding in an id', method: 'GET', url: '/entities/item/%E0%A4%A', expect: [400] })
  await expectRejected(t, h, { note: 'malformed percent-encoding in a transaction id', method: 'GET', url: '/transactions/%zz', expect: [400] })
})

t.test('__proto__ and constructor are plain data, never prototypes', async (t) => {
  const h = await openHarness(t, 'pglite')
  await setUp(h)
  const body = '{"actor":"p","meta":{"__proto__":{"polluted":"meta"},"constructor":{"prototype":{"polluted":"meta"}}},' +
    '"changes":[{"type":"item","op":"insert","data":{"id":"proto","__proto__":{"polluted":"data"},"constructor":{"prototype":{"polluted":"data"}},"toString":"x"}}]}'
  const created = await send(h, { note: '', method: 'POST', url: '/transactions', body, expect: [] })
  t.equal(created.status, 201, 'recorded')
  const own = (value: unknown, key: string): boolean => typeof value === 'object' && value !== null && Object.hasOwn(value, key)
  t.ok(own(created.body?.versions?.[0]?.data, '__proto__'), 'the answer has __proto__ as a field')
  t.ok(own(created.body?.transaction?.meta, '__proto__'), 'meta keeps __proto__ as a member')
  const state = await send(h, { note: '', method: 'GET', url: '/entities/item/proto', expect: [] })
  t.same(JSON.parse(JSON.stringify(state.body?.data?.['__proto__'] ?? null)), { polluted: 'data' }, 'GET returns __proto__ as data')
  t.ok(own(state.body?.data, '__proto__') && own(state.body?.data, 'constructor') && own(state.body?.data, 'toString'), 'every such key is an own field')
  const update = await send(h, { note: '', method: 'POST', url: '/transactions', expect: [], body: '{"changes":[{"type":"item","op":"update","id":"proto","data":{"__proto__":{"polluted":"again"}}}]}' })
  t.equal(update.status, 201, 'updating __proto__ is an ordinary update')
  t.ok(own(update.body?.versions?.[0]?.changeset, '__proto__'), 'the changeset names __proto__')
  const rel = await send(h, { note: '', method: 'PUT', url: '/entity-types/protorel', expect: [], body: '{"relations":{"__proto__":{"kind":"manyToOne","target":"user","foreignKey":"uid"},"constructor":{"kind":"oneToMany","target":"item","foreignKey":"pid"}}}' })
  t.equal(rel.status, 201, 'relations named __proto__ and constructor are registered')
  t.ok(own(rel.body?.definition?.relations, '__proto__') && own(rel.body?.definition?.relations, 'constructor'), 'and kept as own members')
  const keyed = await send(h, { note: '', method: 'PUT', url: '/entity-types/protokey', expect: [], body: '{"idFields":["__proto__"]}' })
  t.equal(keyed.status, 201, 'an id field named __proto__')
  const keyedInsert = await send(h, { note: '', method: 'POST', url: '/transactions', expect: [], body: '{"changes":[{"type":"protokey","op":"insert","data":{"__proto__":5,"v":1}}]}' })
  t.equal(keyedInsert.status, 201, 'an entity keyed by its __proto__ field')
  t.equal(keyedInsert.body?.versions?.[0]?.id, '5', 'its key is the field\'s value')
  const revert = await send(h, { note: '', method: 'POST', url: '/entities/item/proto/revert', expect: [], body: `{"to":${String(created.body?.transaction?.id)},"meta":{"__proto__":{"polluted":"revert"}}}` })
  t.equal(revert.status, 201, 'revert with __proto__ in meta')
  t.same(JSON.parse(JSON.stringify(revert.body?.changes?.[0]?.data ?? null)), { __proto__: { polluted: 'data' } }, 'the revert brings __proto__ back as data')
  t.equal(({} as Record<string, unknown>).polluted, undefined, '({}).polluted is undefined')
  t.equal((Object.prototype as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
})

t.test('invalid cursors are 400 on every list', async (t) => {
  const h = await openHarness(t, 'pglite')
  await setUp(h)
  for (let i = 0; i < 3; i++) await h.post('/transactions', { changes: [{ type: 'item', op: 'update', id: '1', data: { n: i } }] })
  const page = await h.get('/entities/item/1/versions?limit=1')
  const realVersionsCursor = String(page.body.nextCursor)
  const tx = await h.get('/transactions?limit=1')
  const realTxCursor = String(tx.body.nextCursor)
  t.equal((await h.get(`/entities/item/1/versions?limit=1&cursor=${encodeURIComponent(realVersionsCursor)}`)).status, 200, 'a real cursor works')
  const bad = ['', 'abc', '%25', b64(['transactions', 1.5]), b64(['transactions', '1']), b64(['transactions', 2 ** 60]), b64(['transactions', -1, 2]),
    b64(null), b64([]), b64({ list: 'transactions', at: 1 }), Buffer.from('not json').toString('base64url'), '🙂', 'A'.repeat(201)]
  const lists: Array<[string, string]> = [
    ['/transactions', realVersionsCursor],
    ['/entity-types', realTxCursor],
    ['/entity-types/item/revisions', realTxCursor],
    ['/entities/item/1/versions', realTxCursor],
    ['/entities/item/1/versions?order=desc', realVersionsCursor]
  ]
  for (const [list, foreign] of lists) {
    const sep = list.includes('?') ? '&' : '?'
    for (const cursor of [...bad, foreign]) {
      await expectRejected(t, h, { note: `${list} cursor ${cursor.slice(0, 30)}`, method: 'GET', url: `${list}${sep}cursor=${encodeURIComponent(cursor)}`, expect: [400] })
    }
  }
  await expectRejected(t, h, { note: 'two limits', method: 'GET', url: '/transactions?limit=1&limit=2', expect: [400] })
})

t.test('unknown members in entity-type definitions are 400', async (t) => {
  const h = await openHarness(t, 'pglite')
  await setUp(h)
  const bodies: Array<[string, unknown]> = [
    ['top-level member', { idFields: ['id'], versioned: true }],
    ['typo idField', { idField: ['id'] }],
    ['manyToOne extra member', { relations: { r: { kind: 'manyToOne', target: 'user', foreignKey: 'u', cascade: true } } }],
    ['oneToMany extra member', { relations: { r: { kind: 'oneToMany', target: 'item', foreignKey: 'p', orderBy: 'id' } } }],
    ['manyToMany extra member', { relations: { r: { kind: 'manyToMany', target: 'user', through: 'l', localKey: 'a', remoteKey: 'b', foreignKey: 'x' } } }],
    ['manyToOne with through', { relations: { r: { kind: 'manyToOne', target: 'user', foreignKey: 'u', through: 'l' } } }],
    ['unknown kind', { relations: { r: { kind: 'oneToOne', target: 'user', foreignKey: 'u' } } }],
    ['__proto__ member at top level', JSON.parse('{"idFields":["id"],"__proto__":{"idFields":["x"]}}')]
  ]
  for (const [note, body] of bodies) {
    await expectRejected(t, h, { note, method: 'PUT', url: '/entity-types/strict', body: JSON.stringify(body), expect: [400] })
  }
  t.equal((await h.get('/entity-types/strict')).status, 404, 'nothing was registered')
  t.equal((await h.get('/entity-types/l')).status, 404, 'no association type was registered by a rejected definition')
})

t.test('a JSON null body is not an empty body', async (t) => {
  const h = await openHarness(t, 'pglite')
  const fx = await setUp(h)
  await expectRejected(t, h, { note: 'POST /transactions with null', method: 'POST', url: '/transactions', body: 'null', expect: [400] })
  await expectRejected(t, h, { note: 'PUT /entity-types with null', method: 'PUT', url: '/entity-types/nullbody', body: 'null', expect: [400] })
  await expectRejected(t, h, { note: 'POST entity revert with null', method: 'POST', url: '/entities/item/1/revert', body: 'null', expect: [400] })
  // The body of a transaction revert is optional, but `null` is not an object: it must not act as {}.
  await expectRejected(t, h, { note: 'POST /transactions/{id}/revert with a JSON null body', method: 'POST', url: `/transactions/${fx.itemTx}/revert`, body: 'null', expect: [400] })
})

t.test('strings PostgreSQL cannot store (NUL, lone surrogates) and out-of-range numbers are rejected or kept, never 5xx', async (t) => {
  const h = await openHarness(t, 'pglite')
  await setUp(h)
  const insert = (extra: string, id = '"s1"'): string => `{"changes":[{"type":"item","op":"insert","data":{"id":${id}${extra}}}]}`
  const writes: Array<[string, Case['method'], string, string]> = [
    ['NUL in a field value', 'POST', '/transactions', insert(',"s":"a\\u0000b"')],
    ['NUL in a field name', 'POST', '/transactions', insert(',"a\\u0000b":1')],
    ['NUL in an id', 'POST', '/transactions', insert('', '"n\\u0000l"')],
    ['NUL in the actor', 'POST', '/transactions', `{"actor":"a\\u0000","changes":[{"type":"item","op":"insert","data":{"id":"s2"}}]}`],
    ['NUL in meta', 'POST', '/transactions', `{"meta":{"m":"\\u0000"},"changes":[{"type":"item","op":"insert","data":{"id":"s3"}}]}`],
    ['NUL in an update id', 'POST', '/transactions', '{"changes":[{"type":"item","op":"update","id":"\\u0000","data":{"a":1}}]}'],
    ['lone high surrogate in a value', 'POST', '/transactions', insert(',"s":"\\ud800"')],
    ['lone low surrogate in a field name', 'POST', '/transactions', insert(',"\\udfff":1')],
    ['NUL in an excluded field name', 'PUT', '/entity-types/nul_type', '{"exclude":["a\\u0000"]}'],
    ['NUL in an idFields name', 'PUT', '/entity-types/nul_type2', '{"idFields":["i\\u0000d"]}']
  ]
  const problems: string[] = []
  for (const [note, method, url, body] of writes) {
    const before = await rowCounts(h)
    const a = await send(h, { note, method, url, body, expect: [] })
    const after = await rowCounts(h)
    if (a.status >= 500) problems.push(`${note}: ${method} ${url} ${body} → ${a.status}`)
    else if (a.status >= 400 && after !== before) problems.push(`${note}: rejected but rows changed`)
    else if (a.status < 400 && method === 'POST' && url === '/transactions') {
      const parsed = JSON.parse(body) as { changes: Array<{ data?: Record<string, unknown>, id?: string }> }
      const data = parsed.changes[0]?.data
      if (data !== undefined) {
        const key = String(data.id)
        const got = await h.get(`/entities/item/${encodeURIComponent(key)}`)
        if (JSON.stringify(got.body?.data) !== JSON.stringify(data)) problems.push(`${note}: accepted but stored ${JSON.stringify(got.body?.data)}`)
      }
    }
    t.ok(a.status < 500, `${note} → ${a.status}`, a.status >= 500 ? { request: `${method} ${url} ${body}`, answer: a.text } : {})
  }
  for (const [note, url] of [['NUL in a path id', '/entities/item/%00'], ['NUL in the actor filter', '/transactions?actor=%00'],
    ['NUL in a versions path id', '/entities/item/a%00b/versions'], ['lone surrogate in a path id', '/entities/item/%ED%A0%80']] as Array<[string, string]>) {
    const a = await send(h, { note, method: 'GET', url, expect: [] })
    t.ok(a.status < 500, `${note} → ${a.status}`, a.status >= 500 ? { request: `GET ${url}`, answer: a.text } : {})
  }
  const big = await send(h, { note: '', method: 'POST', url: '/transactions', body: insert(',"n":1e400', '"big"'), expect: [] })
  if (big.status < 400) {
    t.not(big.body?.versions?.[0]?.data?.n, null, '1e400 is not silently stored as null (reject it with 400 or keep it)')
  } else {
    t.ok(big.status === 400, `1e400 is rejected with 400 (got ${big.status})`)
  }
  t.same(problems, [], 'no 5xx, and what is accepted is stored faithfully')
})

t.test('Idempotency-Key reused with another body is 422 and records nothing', async (t) => {
  const h = await openHarness(t, 'pglite')
  await setUp(h)
  const headers = { 'idempotency-key': 'reuse-me' }
  const first = await send(h, { note: '', method: 'POST', url: '/transactions', headers, expect: [], body: '{"actor":"a","changes":[{"type":"item","op":"insert","data":{"id":"ik","v":1}}]}' })
  t.equal(first.status, 201, 'first use')
  const reordered = await send(h, { note: '', method: 'POST', url: '/transactions', headers, expect: [], body: '{"changes":[{"data":{"v":1,"id":"ik"},"op":"insert","type":"item"}],"actor":"a"}' })
  t.equal(reordered.status, 201, 'the same body with its keys in another order replays')
  t.equal(reordered.headers['idempotent-replayed'], 'true', 'and says so')
  for (const [note, body] of [
    ['another value', '{"actor":"a","changes":[{"type":"item","op":"insert","data":{"id":"ik","v":2}}]}'],
    ['another actor', '{"actor":"b","changes":[{"type":"item","op":"insert","data":{"id":"ik","v":1}}]}'],
    ['another path', undefined]
  ] as Array<[string, string | undefined]>) {
    if (body === undefined) {
      await expectRejected(t, h, { note: `key reused on ${note}`, method: 'POST', url: '/entities/item/1/revert', headers, body: '{"to":1,"dryRun":true}', expect: [422] })
    } else {
      await expectRejected(t, h, { note: `key reused with ${note}`, method: 'POST', url: '/transactions', headers, body, expect: [422] })
    }
  }
})

t.test('fuzz totals', async (t) => {
  t.comment(`generated cases: ${JSON.stringify(perProperty)}`)
  t.ok(totalCases >= 10_000 * Math.min(1, SCALE), `${totalCases} generated malformed requests in total (at least 10,000)`)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted by the whole run')
  t.comment(`fuzz file ran ${Date.now() - fileStarted} ms`)
})
