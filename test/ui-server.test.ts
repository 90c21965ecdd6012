import t from 'tap'
import { openHarness } from './helpers/harness.js'

// How the history viewer is served (no browser: see ui-viewer.test.ts for the page itself): without
// a key, deep links answered with the page, every file it loads present, strict security headers,
// framing limited to UI_FRAME_ANCESTORS. The database plays no part here: PGlite alone.

const get = async (app: Awaited<ReturnType<typeof openHarness>>['app'], url: string): Promise<{ status: number, headers: Record<string, unknown>, body: string }> => {
  const res = await app.inject({ method: 'GET', url })
  return { status: res.statusCode, headers: res.headers, body: res.body }
}

/** The directives of a Content-Security-Policy header. */
const directives = (csp: unknown): Record<string, string[]> => Object.fromEntries(String(csp).split(';').map((d) => d.trim()).filter(Boolean)
  .map((d) => { const [name, ...values] = d.split(/\s+/); return [name!, values] }))

t.test('the page, its deep links and its files', async (t) => {
  const h = await openHarness(t, 'pglite')
  const page = await get(h.app, '/ui')
  t.equal(page.status, 200, 'no key needed')
  t.match(String(page.headers['content-type']), /^text\/html/)
  t.equal(page.headers['cache-control'], 'no-cache', 'the page is always revalidated')
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script')
  t.notMatch(page.body, /\sstyle=/i, 'no inline style')

  const csp = directives(page.headers['content-security-policy'])
  t.strictSame(csp['script-src'], ["'self'"], 'scripts from the service only: no inline script, no eval')
  t.strictSame(csp['style-src'], ["'self'"])
  t.strictSame(csp['connect-src'], ["'self'"], 'API calls to the service only')
  t.strictSame(csp['frame-ancestors'], ["'self'"], 'framed by the same origin by default (UI_FRAME_ANCESTORS)')
  t.strictSame(csp['object-src'], ["'none'"])
  t.strictSame(csp['base-uri'], ["'none'"])
  t.equal(page.headers['x-frame-options'], undefined, 'no X-Frame-Options: frame-ancestors decides')
  t.equal(page.headers['referrer-policy'], 'no-referrer')
  t.equal(page.headers['x-content-type-options'], 'nosniff')

  for (const url of ['/ui/', '/ui/entities/article/1', '/ui/entities/file/report.pdf', '/ui/entities/a/x%2Fy/versions/3', '/ui/transactions/12', '/ui/transactions?actor=bob&type=article']) {
    const deep = await get(h.app, url)
    t.equal(deep.status, 200, `${url}: the page`)
    t.equal(deep.body, page.body, `${url}: the same page (the page routes it)`)
    t.equal(deep.headers['content-security-policy'], page.headers['content-security-policy'], `${url}: the same policy`)
  }

  // Every file the page names, and every module those import, is served with its type.
  const files = [...page.body.matchAll(/(?:href|src)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!)
  t.ok(files.includes('/ui/assets/app.js') && files.includes('/ui/vendor/preact-htm.js') && files.includes('/ui/assets/style.css'))
  const seen = new Set<string>()
  const queue = [...files]
  while (queue.length > 0) {
    const url = queue.shift()!
    if (seen.has(url)) continue
    seen.add(url)
    const file = await get(h.app, url)
    t.equal(file.status, 200, `${url} is served`)
    t.equal(file.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    t.ok(file.headers['content-security-policy'] !== undefined, `${url}: with the policy`)
    if (url.endsWith('.js')) {
      t.match(String(file.headers['content-type']), /^(text|application)\/javascript/, `${url} is JavaScript`)
      t.match(String(file.headers['cache-control']), /^public, max-age=\d+$/, `${url} may be cached briefly`)
      for (const m of file.body.matchAll(/(?:^|\n)\s*import\s[^'"]*['"]([^'"]+)['"]/g)) queue.push(new URL(m[1]!, `http://x${url}`).pathname)
    }
    if (url.endsWith('.css')) t.match(String(file.headers['content-type']), /^text\/css/)
    if (url.endsWith('.svg')) t.match(String(file.headers['content-type']), /^image\/svg\+xml/)
  }
  t.ok(seen.size >= 10, `the module graph is served (${seen.size} files)`)
  const vendor = await get(h.app, '/ui/vendor/preact-htm.js')
  t.match(vendor.body, /export\s*\{[^}]*\bhtml\b[^}]*\}/, 'Preact + htm, one module exporting html, render and the hooks')
})

t.test('a missing file is a 404, never the page nor a file outside the viewer', async (t) => {
  const h = await openHarness(t, 'pglite')
  const missing = await get(h.app, '/ui/assets/nope.js')
  t.equal(missing.status, 404)
  t.match(String(missing.headers['content-type']), /^application\/problem\+json/)
  t.equal(JSON.parse(missing.body).status, 404)
  for (const url of ['/ui/assets/../index.ts', '/ui/assets/%2e%2e/%2e%2e/index.ts', '/ui/assets/..%2f..%2findex.ts', '/ui/vendor/../../package.json']) {
    const res = await get(h.app, url)
    t.notMatch(res.body, /viewerRoutes|"dependencies"/, `${url} reveals no file outside the viewer (${res.status})`)
  }
})

t.test('UI_FRAME_ANCESTORS: the origins that may embed the viewer', async (t) => {
  const h = await openHarness(t, 'pglite', { uiFrameAncestors: ["'self'", 'https://app.example.com'] })
  const page = await get(h.app, '/ui/entities/article/1')
  t.strictSame(directives(page.headers['content-security-policy'])['frame-ancestors'], ["'self'", 'https://app.example.com'])
  t.equal(page.headers['x-frame-options'], undefined)
  // The rest of the service keeps its own headers: /docs is still not frameable by others.
  const docs = await get(h.app, '/docs/')
  t.equal(docs.headers['x-frame-options'], 'SAMEORIGIN')
  t.equal(directives(docs.headers['content-security-policy'])['frame-ancestors']?.join(' '), "'self'")
})
