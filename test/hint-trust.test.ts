import t from 'tap'
import { HintTrust } from '../src/services/hint-trust.js'

// Refusals in a row that take the refused share to HintTrust.DISTRUST, from none.
const REFUSALS_TO_DISTRUST = Math.ceil(Math.log(1 - HintTrust.DISTRUST) / Math.log(1 - HintTrust.WEIGHT))

t.test('hints are trusted until most hinted appends are refused, then one write in PROBE_EVERY tries them', async (t) => {
  t.equal(REFUSALS_TO_DISTRUST, 14)
  const trust = new HintTrust()
  t.equal(trust.useHints('default'), true, 'trusted at first')
  for (let i = 1; i < REFUSALS_TO_DISTRUST; i++) trust.record('default', true)
  t.equal(trust.useHints('default'), true, `still trusted after ${REFUSALS_TO_DISTRUST - 1} refusals`)
  trust.record('default', true)
  const next = Array.from({ length: 2 * HintTrust.PROBE_EVERY }, () => trust.useHints('default'))
  t.strictSame(next.map((use, i) => use ? i + 1 : 0).filter((n) => n > 0), [HintTrust.PROBE_EVERY, 2 * HintTrust.PROBE_EVERY],
    'distrusted: only every PROBE_EVERY-th write uses its hints')
  t.equal(trust.useHints('other'), true, 'per tenant: another tenant\'s hints are still trusted')
})

t.test('appended probes bring the trust back', async (t) => {
  const trust = new HintTrust()
  for (let i = 0; i < 50; i++) trust.record('default', true)
  t.equal(trust.useHints('default'), false)
  // Writes in turn: a probe that appends, then the writes until the next probe; until two writes in a row use their hints.
  let probes = 0
  let lastUsed = false
  for (let write = 0; write < 10_000; write++) {
    const used = trust.useHints('default')
    if (used && lastUsed) break
    if (used) { probes++; trust.record('default', false) }
    lastUsed = used
  }
  // From a share of 1 - 0.95^50 (0.92), each appended probe takes 5 % of it: 12 of them to below 0.5.
  t.equal(probes, 12, 'twelve appended probes')
  t.equal(trust.useHints('default'), true, 'trusted again: every write uses its hints')
  t.equal(trust.useHints('default'), true)
})
