import http from 'node:http'

/** A small HTTP/1.1 JSON client for driving a listening service over real sockets. */
export interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  /** Parsed JSON, or the text when it is not JSON. */
  body: any
  /** Milliseconds from sending to the end of the answer. */
  ms: number
  /** Date.now() when the answer was complete. */
  at: number
}

/** The admin key the service processes of these tests start with (REWIND_BOOTSTRAP_KEY); sent unless a request names another. */
export const TEST_ADMIN_KEY = 'rwd_slow-tests-admin-key-0123456789abcdefghijklmnop'

export interface HttpRequestOptions {
  agent?: http.Agent
  headers?: Record<string, string>
  /** Abort the request (rejecting) after this long; default 30 s. */
  timeoutMs?: number
}

export async function httpRequest (
  baseUrl: string, method: string, path: string, body?: unknown, options: HttpRequestOptions = {}
): Promise<HttpAnswer> {
  const url = new URL(path, baseUrl)
  if (url.hostname !== '127.0.0.1') throw new Error(`only 127.0.0.1 is used by these tests, not ${url.hostname}`)
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  const headers: Record<string, string> = {
    accept: 'application/json, application/problem+json', authorization: `Bearer ${TEST_ADMIN_KEY}`, ...options.headers
  }
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json'
    headers['content-length'] = String(payload.length)
  }
  const started = Date.now()
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try { parsed = text === '' ? undefined : JSON.parse(text) } catch { /* not JSON */ }
        const at = Date.now()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, ms: at - started, at })
      })
    })
    req.setTimeout(options.timeoutMs ?? 30_000, () => { req.destroy(new Error(`${method} ${path}: no answer within ${options.timeoutMs ?? 30_000} ms`)) })
    req.on('error', reject)
    req.end(payload)
  })
}

/** Polls until `check` is true; throws after `timeoutMs`. Returns the time it took. */
export async function waitUntil (what: string, timeoutMs: number, check: () => Promise<boolean>, everyMs = 100): Promise<number> {
  const started = Date.now()
  for (;;) {
    let ok = false
    try { ok = await check() } catch { ok = false }
    if (ok) return Date.now() - started
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Rejects when `promise` does not settle within `ms`. */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${what}: not settled within ${ms} ms`)) }, ms)
    })])
  } finally {
    clearTimeout(timer)
  }
}

/** A small seeded PRNG (mulberry32), so that a failing run can be replayed with its seed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export function seedFromEnv (name: string): number {
  const given = process.env[name]
  return given !== undefined && given !== '' ? Number(given) : Math.floor(Math.random() * 2 ** 31)
}
