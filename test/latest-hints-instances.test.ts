import { HintTrust } from '../src/services/hint-trust.js'
import { eachDatabase } from './helpers/harness.js'
import { ins, upd } from './helpers/changes.js'
import { otherInstance } from './helpers/instances.js'

// Refusals in a row that take an instance's refused share to HintTrust.DISTRUST (14).
const REFUSALS_TO_DISTRUST = Math.ceil(Math.log(1 - HintTrust.DISTRUST) / Math.log(1 - HintTrust.WEIGHT))

eachDatabase('two instances writing the same entity: once its hints are mostly refused, an instance reads first instead of appending on them', async (t, h) => {
  const { post: viaOther } = await otherInstance(t, h)
  // The statements of one write through this instance: appends (refused or not) and reads of the
  // latest versions. Others are left out: the instance's timers (the archive horizon each second,
  // webhook delivery, partitions ahead) run their statements on the same database, and one may
  // land during the write (CI: a second "read").
  const viaThis = async (changes: unknown[]): Promise<string[]> => {
    h.resetQueries()
    const res = await h.post('/transactions', { changes })
    t.equal(res.status, 201)
    return h.queries.map((q) => q.trimStart()).flatMap((q) => /^with locked as/.test(q) ? ['append'] : /^select e\.type, e\.key as entity_key,/.test(q) ? ['read'] : [])
  }
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await viaThis([ins('article', { id: 1, n: 0 })])

  // Each instance appends after the other: every hint this instance holds is stale.
  let n = 0
  const rounds: string[][] = []
  for (let i = 0; i < REFUSALS_TO_DISTRUST; i++) {
    await viaOther([upd('article', '1', { n: ++n })])
    rounds.push(await viaThis([upd('article', '1', { n: ++n })]))
  }
  t.strictSame(rounds.at(-1), ['append', 'read', 'append'], 'a stale hint: the append planned on it is refused, then read and appended')
  await viaOther([upd('article', '1', { n: ++n })])
  t.strictSame(await viaThis([upd('article', '1', { n: ++n })]), ['read', 'append'], `after ${REFUSALS_TO_DISTRUST} refusals: read first, nothing refused`)

  const versions = await h.get('/entities/article/1/versions?limit=100')
  t.strictSame(versions.body.items.map((v: { index: number, data: { n: number } }) => [v.index, v.data.n]),
    Array.from({ length: n + 1 }, (_, i) => [i, i]), 'one chain: every write recorded once, in order')
  const metrics = String((await h.get('/metrics')).body)
  t.match(metrics, /rewind_latest_hints_total\{outcome="skipped"\} [1-9]/, 'skipped hints are counted')
})
