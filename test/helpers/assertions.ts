import type { Test } from 'tap'
import type { Reply } from './harness.js'

/** Asserts an RFC 9457 problem answer: status, media type and the four required members. */
export function assertProblem (t: Test, res: Reply, status: number, what = 'the answer'): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.match(String(res.headers['content-type'] ?? ''), /^application\/problem\+json\b/, `${what}: application/problem+json`)
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<string, unknown>
  t.ok(typeof body.type === 'string' && body.type !== '', `${what}: problem has a type`)
  t.ok(typeof body.title === 'string' && body.title !== '', `${what}: problem has a title`)
  t.equal(body.status, status, `${what}: problem status matches the HTTP status`)
  t.ok(typeof body.detail === 'string' && body.detail !== '', `${what}: problem has a detail`)
}
