import t from 'tap'
import { assertProblem } from './helpers/assertions.js'
import { openHarness } from './helpers/harness.js'

// With MAX_EVENT_LOOP_DELAY_MS set, an overloaded service sheds requests with 503 and
// Retry-After (@fastify/under-pressure) while /health and /ready keep answering.

t.test('an event loop blocked past the limit sheds requests; the probes answer', async (t) => {
  const h = await openHarness(t, 'pglite', { limits: { maxEventLoopDelayMs: 100 } })
  t.equal((await h.get('/entity-types')).status, 200, 'answers while the event loop is free')
  const until = Date.now() + 1500
  while (Date.now() < until) { /* the event loop is blocked for 1.5 s */ }
  await new Promise((resolve) => setTimeout(resolve, 50)) // the delay is sampled
  const shed = await h.get('/entity-types')
  assertProblem(t, shed, 503, 'a request while overloaded')
  t.equal(shed.headers['retry-after'], '5')
  t.equal((await h.get('/health')).status, 200, '/health still answers')
  t.equal((await h.get('/ready')).status, 200, '/ready still answers')
  let recovered = 0
  for (let i = 0; i < 40 && recovered !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    recovered = (await h.get('/entity-types')).status
  }
  t.equal(recovered, 200, 'answers again once the event loop is free')
})
