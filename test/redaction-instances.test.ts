import { eachDatabase } from './helpers/harness.js'
import { ins, upd } from './helpers/changes.js'
import { otherInstance } from './helpers/instances.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

eachDatabase('a redaction made by one instance reaches the latest state another instance holds in memory within 1 s', async (t, h) => {
  const { post } = await otherInstance(t, h)
  t.equal((await h.put('/entity-types/user', {})).status, 201)
  // The other instance writes the user: it now holds the user's latest state (email included) in memory.
  await post([ins('user', { id: 7, email: 'ada@example.com', name: 'Ada' })])
  await post([upd('user', '7', { name: 'Ada L.' })])

  const redaction = await h.post('/entities/user/7/redact', { fields: ['email'], reason: 'erasure request' })
  t.equal(redaction.status, 201)
  await sleep(1100)

  const next = await post([upd('user', '7', { name: 'Ada Lovelace' })])
  t.strictSame(next.versions[0].data, { id: 7, email: { $redacted: redaction.body.id }, name: 'Ada Lovelace' }, 'the erased value does not come back from the other instance\'s memory')
  const all = await h.get('/entities/user/7/versions')
  t.equal(JSON.stringify(all.body).includes('ada@example.com'), false, 'no version holds the erased value')
  t.equal((await h.post('/integrity/verify', {})).body.ok, true)
})
