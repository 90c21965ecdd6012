import { eachDatabase } from './helpers/harness.js'
import { as } from './helpers/access.js'

// API.md, "Service": GET /metrics (Prometheus text; the `metrics` scope); "Streams and export":
// /metrics is process-wide, no tenant, type or actor in its labels.

/** The value of one sample line (`name{labels} value`) of a Prometheus text answer, or undefined. */
function sample (text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `))
  return found === undefined ? undefined : Number(found.slice(line.length + 1))
}

eachDatabase('GET /metrics: requests by route, versions recorded, pool; the metrics scope; no tenant or type in labels', async (t, h) => {
  const key = async (scopes: string[]): Promise<string> => (await as(h.app, h.adminKey, 'POST', '/api-keys', { name: scopes.join('+'), scopes })).body.key as string
  const scraper = await key(['metrics'])
  const reader = await key(['read'])

  t.equal((await as(h.app, reader, 'GET', '/metrics')).status, 403, 'a read key may not scrape')
  t.equal((await as(h.app, null, 'GET', '/metrics')).status, 401)

  const before = await as(h.app, scraper, 'GET', '/metrics')
  t.equal(before.status, 200)
  t.equal(String(before.headers['content-type']).split(';')[0], 'text/plain')
  const versionsBefore = sample(before.text, 'rewind_versions_recorded_total') ?? 0
  const transactionsBefore = sample(before.text, 'rewind_transactions_recorded_total') ?? 0

  t.equal((await as(h.app, h.adminKey, 'PUT', '/entity-types/secret_type_x', {})).status, 201)
  const posted = await as(h.app, h.adminKey, 'POST', '/transactions', {
    actor: 'actor-who-must-not-show',
    changes: [{ type: 'secret_type_x', op: 'insert', data: { id: 1 } }, { type: 'secret_type_x', op: 'insert', data: { id: 2 } }]
  })
  t.equal(posted.status, 201)
  t.equal((await as(h.app, scraper, 'GET', '/entities/secret_type_x/1')).status, 403, 'a metrics key reads nothing else')

  const after = await as(h.app, scraper, 'GET', '/metrics')
  t.equal(sample(after.text, 'rewind_versions_recorded_total'), versionsBefore + 2)
  t.equal(sample(after.text, 'rewind_transactions_recorded_total'), transactionsBefore + 1)
  t.ok((sample(after.text, 'rewind_http_requests_total{method="POST",route="/transactions",status="201"}') ?? 0) >= 1, 'requests counted by route template')
  t.ok((sample(after.text, 'rewind_http_request_duration_seconds_count{method="GET",route="/entities/:type/:id"}') ?? 0) >= 1, 'latency by route template, not by path')
  t.equal(sample(after.text, 'rewind_db_pool_connections{state="waiting"}'), 0)
  t.equal(sample(after.text, 'rewind_stream_subscribers{state="open"}'), 0)
  for (const word of ['secret_type_x', 'actor-who-must-not-show', 'default']) t.notOk(after.text.includes(word), `"${word}" appears nowhere in the metrics`)
})
