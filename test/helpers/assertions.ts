import type { Test } from 'tap'
import type { Harness, Reply } from './harness.js'

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

/** Follows nextCursor from the first page (or from `start`) to the end; answers every page's body. */
export async function allPages (t: Test, h: Harness, url: string, start: string | null = null): Promise<any[]> {
  const pages: any[] = []
  let cursor: string | null = start
  do {
    const sep = url.includes('?') ? '&' : '?'
    const res: Reply = await h.get(cursor === null ? url : `${url}${sep}cursor=${encodeURIComponent(cursor)}`)
    t.equal(res.status, 200, `page ${pages.length + 1} of ${url}`)
    if (res.status !== 200) break
    pages.push(res.body)
    cursor = res.body.nextCursor
    if (pages.length > 100) { t.fail('pagination does not end'); break }
  } while (cursor !== null)
  return pages
}

/** The `index` of each of an entity's versions, oldest first (throws unless the read answers 200). */
export async function indexesOf (h: Harness, type: string, id: string): Promise<number[]> {
  const res = await h.get(`/entities/${type}/${id}/versions?limit=1000`)
  if (res.status !== 200) throw new Error(`GET versions of ${type}/${id}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.items.map((v: any) => v.index)
}

/** Asserts that POST /integrity/verify finds no problem. */
export async function verifyOk (t: Test, h: Harness, what: string): Promise<void> {
  const verified = await h.post('/integrity/verify', {})
  t.equal(verified.status, 200)
  t.equal(verified.body.ok, true, `${what}: ${JSON.stringify(verified.body.problems)}`)
  t.strictSame(verified.body.problems, [])
}
