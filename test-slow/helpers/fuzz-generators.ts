import fc from 'fast-check'
import { b64, MAX_SAFE, RELATION_NAME_RE, TYPE_RE, type Case, type Fixture } from './fuzz.js'

// The fast-check generators of malformed requests, one family per endpoint (fuzz.test.ts).

/** Printable strings (NUL and lone surrogates have their own named cases in fuzz-named-cases.test.ts). */
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

export function entityTypeCases (): fc.Arbitrary<Case> {
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

export function transactionCases (fx: Fixture): fc.Arbitrary<Case> {
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
      fc.constant(''))  // integers past ±(2^53−1) are ids like any other: kept exact (test/exact-integers.test.ts)
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

export function entityRevertCases (fx: Fixture): fc.Arbitrary<Case> {
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

export function transactionRevertCases (fx: Fixture): fc.Arbitrary<Case> {
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
    // '.' and '..' are dot segments: the URL resolves to another path (no route, 404), not to an invalid id.
    { weight: 2, arbitrary: badIntParam(1, MAX_SAFE).filter((s) => s !== '' && s !== '.' && s !== '..').map((id): Case => ({
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

export function readCases (fx: Fixture): fc.Arbitrary<Case> {
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
    badIntParam(1, MAX_SAFE).filter((v) => v !== '' && v !== '.' && v !== '..').map((v) => get('GET version, invalid transaction id', `/entities/item/1/versions/${q(v)}`)),
    fc.tuple(badIntParam(1, MAX_SAFE), fc.boolean()).map(([v, first]) => get('GET changeset from/to',
      first ? `/entities/item/1/changeset?from=${q(v)}&to=${fx.itemTx}` : `/entities/item/1/changeset?from=${fx.itemTx}&to=${q(v)}`)),
    fc.constantFrom('from', 'to').map((k) => get('GET changeset, missing parameter', `/entities/item/1/changeset?${k}=${fx.itemTx}`))
  )
}
