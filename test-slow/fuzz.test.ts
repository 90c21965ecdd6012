import t from 'tap'
import { property, runs, SCALE, SEED, totals } from './helpers/fuzz.js'
import { entityRevertCases, entityTypeCases, readCases, transactionCases, transactionRevertCases } from './helpers/fuzz-generators.js'

/**
 * Property-based tests of malformed requests (fast-check), in process on PGlite: every
 * write endpoint's bodies, params and headers and the read endpoints' queries and
 * cursors. Each generated request must be rejected with a 4xx (never 5xx)
 * application/problem+json carrying type/title/status/detail, and must change no row.
 * The named cases (content types, nesting depth, sizes near the limits, ids, `__proto__`/
 * `constructor`, cursors, unknown members, strings PostgreSQL cannot store) are in
 * fuzz-named-cases.test.ts; the generators in helpers/fuzz-generators.ts.
 *
 * FUZZ_SEED replays a run; FUZZ_SCALE multiplies the number of runs (default 1 ≈ 10,500).
 */

t.comment(`fast-check seed ${SEED} (FUZZ_SEED=${SEED} replays it)`)
const fileStarted = Date.now()

await property(t, 'PUT /entity-types/{type}: malformed definitions, names, JSON, content types', runs(2000), () => entityTypeCases())
await property(t, 'POST /transactions: malformed bodies, changes, headers, JSON, content types', runs(3000), (fx) => transactionCases(fx))
await property(t, 'POST /entities/{type}/{id}/revert: malformed bodies and params', runs(1500), (fx) => entityRevertCases(fx))
await property(t, 'POST /transactions/{id}/revert: malformed bodies and params', runs(1500), (fx) => transactionRevertCases(fx))
await property(t, 'GET endpoints: malformed queries, cursors and params', runs(2500), (fx) => readCases(fx))

t.test('fuzz totals', async (t) => {
  t.comment(`generated cases: ${JSON.stringify(totals.perProperty)}`)
  t.ok(totals.cases >= 10_000 * Math.min(1, SCALE), `${totals.cases} generated malformed requests in total (at least 10,000)`)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted by the whole run')
  t.comment(`fuzz file ran ${Date.now() - fileStarted} ms`)
})
