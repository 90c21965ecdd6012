import { eachDatabase } from './helpers/harness.js'
import { registerArticle } from './helpers/changes.js'
import { canonicalJson } from './helpers/json.js'

// API.md, "Conventions": keys such as __proto__ and constructor are ordinary field names.

eachDatabase('__proto__ and constructor are ordinary field names, stored and returned as data', async (t, h) => {
  await registerArticle(t, h)
  // Written as text: an object literal's "__proto__" would set a prototype instead of a field.
  const text = '{"actor":"p","meta":{"__proto__":{"admin":true}},"changes":[{"type":"article","op":"insert","data":' +
    '{"id":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"name":"A"}}]}'
  const res = await h.post('/transactions', text)
  t.equal(res.status, 201)
  const version = res.body.versions[0]
  t.ok(Object.hasOwn(version.data, '__proto__'), '__proto__ is an own field of data')
  t.equal(canonicalJson(version.data), canonicalJson(JSON.parse('{"id":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"name":"A"}')))
  t.equal(canonicalJson(version.changeset), canonicalJson(JSON.parse(
    '{"id":[null,1],"__proto__":[null,{"polluted":true}],"constructor":[null,{"prototype":{"polluted":true}}],"name":[null,"A"]}')))
  t.ok(Object.hasOwn(res.body.transaction.meta, '__proto__'), 'meta keeps __proto__ as a field')
  t.equal(canonicalJson(res.body.transaction.meta), canonicalJson(JSON.parse('{"__proto__":{"admin":true}}')))
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')

  const now = await h.get('/entities/article/1')
  t.equal(canonicalJson(now.body.data), canonicalJson(version.data), 'read back as stored')

  const changed = await h.post('/transactions', '{"changes":[{"type":"article","op":"update","id":"1","data":{"__proto__":{"polluted":false},"constructor":null}}]}')
  t.equal(changed.status, 201)
  t.equal(canonicalJson(changed.body.versions[0].changeset), canonicalJson(JSON.parse(
    '{"__proto__":[{"polluted":true},{"polluted":false}],"constructor":[{"prototype":{"polluted":true}},null]}')), 'the changeset names them too')
  t.equal(canonicalJson(changed.body.versions[0].data), canonicalJson(JSON.parse(
    '{"id":1,"__proto__":{"polluted":false},"constructor":null,"name":"A"}')))

  const same = await h.post('/transactions', '{"changes":[{"type":"article","op":"update","id":"1","data":{"__proto__":{"polluted":false}}}]}')
  t.equal(same.status, 200, 'an equal __proto__ value is no change')

  const versions = await h.get('/entities/article/1/versions')
  t.equal(versions.body.items.length, 2)
  t.equal(canonicalJson(versions.body.items[1].changeset), canonicalJson(changed.body.versions[0].changeset))
  const tx = await h.get(`/transactions/${res.body.transaction.id as number}`)
  t.equal(canonicalJson(tx.body.meta), canonicalJson(JSON.parse('{"__proto__":{"admin":true}}')))
})
