import t from 'tap'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { jsonEqual, parseJson, toJsonText } from '../src/versioning/json.js'
import { compareByIds, entityKey } from '../src/versioning/keys.js'

// Integers beyond ±(2^53−1) in data or ids are kept exactly: parsed, stored, read and
// written back as the digits they came with, never rounded (JSON.parse would make 2^53+1 into 2^53).

const BIG = '9007199254740993' // 2^53 + 1
const NEG = '-9007199254740995' // −2^53 − 3
const HUGE = '123456789012345678901234567890'

/** Sends raw JSON text (JSON.stringify cannot write these numbers) and answers the raw text. */
async function raw (h: Harness, method: 'GET' | 'POST', url: string, body?: string): Promise<{ status: number, text: string }> {
  const res = await h.app.inject({
    method, url, headers: { authorization: `Bearer ${h.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: body })
  })
  return { status: res.statusCode, text: res.body }
}

eachDatabase('an exact integer where an object or a number is expected is a 400, not stored', async (t, h) => {
  t.equal((await h.put('/entity-types/ledger', {})).status, 201)
  for (const body of [
    `{"meta":${BIG},"changes":[{"type":"ledger","op":"insert","data":{"id":1}}]}`,
    `{"changes":[{"type":"ledger","op":"insert","data":${BIG}}]}`,
    `{"changes":[{"type":"ledger","op":"update","id":"1","data":{"a":1},"expectedTransactionId":${BIG}}]}`,
    BIG
  ]) {
    const res = await raw(h, 'POST', '/transactions', body)
    t.equal(res.status, 400, body)
  }
  const revert = await raw(h, 'POST', '/entities/ledger/1/revert', `{"to":${BIG}}`)
  t.equal(revert.status, 400, 'a revert to an unsafe transaction id')
  t.equal(await h.count('transactions'), 0, 'nothing recorded')
})

eachDatabase('integers 2^53+1 and −2^53−3 round-trip exactly through write, versions, ?at=, changeset and revert', async (t, h) => {
  t.equal((await h.put('/entity-types/ledger', {})).status, 201)
  const insert = await raw(h, 'POST', '/transactions', `{"changes":[{"type":"ledger","op":"insert","data":{"id":${BIG},"amount":${NEG},"deep":{"list":[${HUGE}, 1.5]}}}]}`)
  t.equal(insert.status, 201)
  t.match(insert.text, `"data":{"id":${BIG},"amount":${NEG},"deep":{"list":[${HUGE},1.5]}}`, 'the write answers the exact digits')
  t.match(insert.text, `"id":"${BIG}"`, 'the entity key is the exact digits')
  const first = (JSON.parse(insert.text) as { transaction: { id: number } }).transaction.id

  const update = await raw(h, 'POST', '/transactions', `{"changes":[{"type":"ledger","op":"update","id":"${BIG}","data":{"amount":${BIG}}}]}`)
  t.equal(update.status, 201)
  t.match(update.text, `"changeset":{"amount":[${NEG},${BIG}]}`, 'the changeset compares exact values')
  const second = (JSON.parse(update.text) as { transaction: { id: number } }).transaction.id

  const versions = await raw(h, 'GET', `/entities/ledger/${BIG}/versions`)
  t.equal(versions.status, 200)
  // Stored states come back with their keys in the database's order: compare the members.
  for (const member of [`"id":${BIG}`, `"amount":${NEG}`, `"list":[${HUGE},1.5]`, `"amount":[null,${NEG}]`]) {
    t.equal(versions.text.includes(member), true, `versions list ${member}`)
  }
  const at = await raw(h, 'GET', `/entities/ledger/${BIG}?at=${first}`)
  t.equal(at.text.includes(`"amount":${NEG}`) && at.text.includes(`"id":${BIG}`), true, '?at= reads the exact digits')
  const changeset = await raw(h, 'GET', `/entities/ledger/${BIG}/changeset?from=${first}&to=${second}`)
  t.equal(changeset.text, `{"amount":[${NEG},${BIG}]}`)

  const same = await raw(h, 'POST', '/transactions', `{"changes":[{"type":"ledger","op":"update","id":"${BIG}","data":{"amount":${BIG}}}]}`)
  t.equal(same.status, 200, 'the same exact value again is no change')

  const revert = await raw(h, 'POST', `/entities/ledger/${BIG}/revert`, `{"to":${first}}`)
  t.equal(revert.status, 201)
  t.match(revert.text, `"changes":[{"type":"ledger","op":"update","id":"${BIG}","data":{"amount":${NEG}}}]`, 'the revert hands back the exact digits')
  const now = await raw(h, 'GET', `/entities/ledger/${BIG}`)
  t.match(now.text, `"amount":${NEG}`)
})

t.test('exact integers (bigint): parsed only where a number cannot be a safe integer, compared and keyed by its digits', async (t) => {
  t.strictSame(parseJson('{"a":9007199254740991,"b":1.25}'), { a: 9007199254740991, b: 1.25 }, 'safe numbers stay numbers')
  const parsed = parseJson(`{"a":${BIG},"b":12345678901234567.5,"a2":1}`) as Record<string, unknown>
  t.equal(parsed.a, BigInt(BIG))
  t.equal(typeof parsed.b, 'number', 'a long fraction is a number (only integers are kept exact)')
  t.equal(toJsonText(parsed), `{"a":${BIG},"b":12345678901234568,"a2":1}`)
  t.strictSame(parseJson('{"k":1,"k":2}'), JSON.parse('{"k":1,"k":2}'), 'duplicate keys: the last wins, as with JSON.parse')
  t.equal(jsonEqual(BigInt(BIG), BigInt(BIG)), true)
  t.equal(jsonEqual(BigInt(BIG), 9007199254740992), false)
  t.equal(entityKey(['id'], { id: BigInt(BIG) }, 'ledger'), BIG)
  t.equal(compareByIds(['id'], { id: BigInt(BIG) }, { id: 5 }) > 0, true, 'exact integers order numerically with numbers')
  t.equal(compareByIds(['id'], { id: BigInt(NEG) }, { id: BigInt(BIG) }) < 0, true)
})
