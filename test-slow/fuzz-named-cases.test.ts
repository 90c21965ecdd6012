import t from 'tap'
import { openHarness } from '../test/helpers/harness.js'
import { b64, expectRejected, rowCounts, send, setUp, type Answer, type Case } from './helpers/fuzz.js'

/**
 * Named cases of malformed (and borderline valid) requests, in process on PGlite: content
 * types, nesting depth, sizes near the limits, ids, `__proto__`/`constructor`, cursors,
 * unknown members, strings PostgreSQL cannot store. Each rejection must be a 4xx
 * application/problem+json and change no row (see fuzz.test.ts for the generated ones).
 */

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
  t.strictSame(JSON.parse(JSON.stringify(state.body?.data?.['__proto__'] ?? null)), { polluted: 'data' }, 'GET returns __proto__ as data')
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
  t.strictSame(JSON.parse(JSON.stringify(revert.body?.changes?.[0]?.data ?? null)), { __proto__: { polluted: 'data' } }, 'the revert brings __proto__ back as data')
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
    t.equal(big.status, 400, '1e400 is rejected with 400')
  }
  t.strictSame(problems, [], 'no 5xx, and what is accepted is stored faithfully')
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

t.test('no prototype was polluted by the named cases', async (t) => {
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
