import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'

// Requests as a given API key, with the raw answer text (to compare bodies byte for byte),
// and strict checks of the 401/403 problems of API.md "Access: keys, tenants, scopes (v2)".

export interface RawReply {
  status: number
  /** The body exactly as sent. */
  text: string
  /** The body parsed as JSON (undefined when empty or not JSON). */
  body: any
  headers: Record<string, string | string[] | number | undefined>
}

/** `Bearer <key>`; `null` sends no Authorization header at all. */
export const bearer = (key: string | null): Record<string, string> => key === null ? {} : { authorization: `Bearer ${key}` }

/** One request on `app` as `key` (null: without any Authorization header). */
export async function as (
  app: FastifyInstance, key: string | null, method: string, url: string, body?: unknown, headers: Record<string, string> = {}
): Promise<RawReply> {
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) })
  })
  let parsed: unknown
  try { parsed = res.body === '' ? undefined : JSON.parse(res.body) } catch { parsed = undefined }
  return { status: res.statusCode, text: res.body, body: parsed, headers: res.headers }
}

/** The media type of an answer, without parameters. */
export const mediaType = (res: { headers: RawReply['headers'] }): string =>
  String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()

/** A problem+json answer with this status and the four members every problem has. */
export function problemIs (t: Test, res: { status: number, body: any, headers: RawReply['headers'] }, status: number, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.equal(mediaType(res), 'application/problem+json', `${what}: application/problem+json`)
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<string, unknown>
  t.equal(typeof body.type === 'string' && body.type !== '', true, `${what}: problem has a type`)
  t.equal(typeof body.title === 'string' && body.title !== '', true, `${what}: problem has a title`)
  t.equal(body.status, status, `${what}: problem status matches the HTTP status`)
  t.equal(typeof body.detail === 'string' && body.detail !== '', true, `${what}: problem has a detail`)
}

/** 401 problem+json with a `WWW-Authenticate: Bearer …` challenge. */
export function isUnauthorized (t: Test, res: RawReply, what: string): void {
  problemIs(t, res, 401, what)
  const challenge = String(res.headers['www-authenticate'] ?? '')
  t.equal(/^Bearer(\s|$)/.test(challenge), true, `${what}: WWW-Authenticate: Bearer (got "${challenge}")`)
}

/** 403 problem+json. */
export function isForbidden (t: Test, res: RawReply, what: string): void {
  problemIs(t, res, 403, what)
}
