import { eachDatabase } from './helpers/harness.js'

// Security headers (@fastify/helmet) where HTML is served: /docs.

eachDatabase('the HTML of /docs carries security headers', async (t, h) => {
  const html = await h.app.inject({ method: 'GET', url: '/docs/' })
  t.equal(html.statusCode, 200)
  t.match(String(html.headers['content-type']), /^text\/html/)
  const csp = String(html.headers['content-security-policy'])
  t.equal(csp.includes("default-src 'self'"), true, 'a Content-Security-Policy limits the page to its own origin')
  t.equal(csp.includes("frame-ancestors 'self'"), true, 'other sites cannot frame it')
  t.equal(csp.includes('upgrade-insecure-requests'), false, 'plain HTTP keeps working (no forced upgrade)')
  t.equal(html.headers['x-content-type-options'], 'nosniff')
  t.equal(html.headers['x-frame-options'], 'SAMEORIGIN')
  t.equal(html.headers['referrer-policy'], 'no-referrer')
})
