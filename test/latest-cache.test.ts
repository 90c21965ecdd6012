import t from 'tap'
import { LatestVersionCache } from '../src/services/latest-cache.js'
import type { LatestVersion } from '../src/versioning/version.js'

const version = (index: number, data: LatestVersion['data'] = { id: 1 }): LatestVersion => ({ transactionId: 10 + index, index, operation: 'update', data, hash: `hash-${index}` })

t.test('LatestVersionCache', async (t) => {
  const cache = new LatestVersionCache(1024 * 1024)
  cache.remember('default', 'article\u00001', version(3))
  t.equal(cache.get('default', 'article\u00001')?.index, 3, 'a remembered version is found')
  t.equal(cache.get('other', 'article\u00001'), undefined, 'per tenant')
  cache.remember('default', 'article\u00001', version(2))
  t.equal(cache.get('default', 'article\u00001')?.index, 3, 'an older version does not replace a later one')
  cache.remember('default', 'article\u00001', version(4))
  t.equal(cache.get('default', 'article\u00001')?.index, 4, 'a later one does')
  cache.forget('default', ['article\u00001'])
  t.equal(cache.get('default', 'article\u00001'), undefined, 'forgotten')

  const small = new LatestVersionCache(10_000)
  for (let i = 0; i < 100; i++) small.remember('default', `article\u0000${i}`, version(0, { id: i, body: 'x'.repeat(900) }))
  const kept = Array.from({ length: 100 }, (_, i) => small.get('default', `article\u0000${i}`)).filter((v) => v !== undefined).length
  t.ok(kept > 0 && kept <= 11, `bounded by the size of the states it holds (${kept} of 100 states of ~1 kB in 10 kB)`)
  t.not(small.get('default', 'article\u000099'), undefined, 'the most recent are kept')
})
