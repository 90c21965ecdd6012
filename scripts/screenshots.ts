// `npx tsx scripts/screenshots.ts`: screenshots of the history viewer for docs/viewer.md, saved to docs/img/.
// Starts Rewind on an embedded database in a temporary folder, records a small blog's history
// (authors, tags, articles; several people; updates, a delete, a revert), then photographs the
// viewer with Debian's Chromium (CHROMIUM_PATH to use another). `--keep` leaves the service running
// (and prints its URL and admin key) to look around by hand.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import { buildApp } from '../src/http/app.js'
import { asRuntimeRole, openDatabase } from '../src/store/database.js'
import { migrateToLatest } from '../src/store/migrate.js'
import { createApiKey } from '../src/services/api-keys.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const OUT = fileURLToPath(new URL('../docs/img/', import.meta.url))
const keep = process.argv.includes('--keep')

if (!existsSync(CHROMIUM)) {
  console.error(`screenshots: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  process.exit(1)
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'rewind-screenshots-'))
const options = { dataDir }
let db = await openDatabase(options)
await migrateToLatest(db)
db = await asRuntimeRole(db, options)
const adminKey = (await createApiKey(db, { tenant: 'default', name: 'editorial backend', scopes: ['admin'] })).key
const app = await buildApp({ db })
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`

async function call (method: string, url: string, body?: unknown): Promise<any> {
  const response = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const answer = await response.json() as any
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(answer)}`)
  return answer
}

const daysAgo = (days: number, hour = 10, minute = 0): string => {
  const date = new Date(Date.now() - days * 86_400_000)
  date.setUTCHours(hour, minute, 0, 0)
  return date.toISOString()
}

// ---- a blog's history ----
await call('PUT', '/entity-types/author', {})
await call('PUT', '/entity-types/tag', {})
await call('PUT', '/entity-types/article', {
  exclude: ['updated_at'],
  relations: {
    author: { kind: 'manyToOne', target: 'author', foreignKey: 'author_id' },
    tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
  }
})
const INTRO = 'Every row in our database changes over time, and most of those changes are invisible once they happen. ' +
  'This post explains how we keep a full history of our articles and why it saved us twice last quarter.'
await call('POST', '/transactions', {
  actor: 'cms-import', meta: { job: 'initial import', batch: '2026-11-01' }, issuedAt: daysAgo(12, 8, 30),
  changes: [
    { type: 'author', op: 'insert', data: { id: 1, name: 'Maria Garcia', email: 'maria@example.com' } },
    { type: 'author', op: 'insert', data: { id: 2, name: 'Tom Becker', email: 'tom@example.com' } },
    { type: 'tag', op: 'insert', data: { id: 1, label: 'news' } },
    { type: 'tag', op: 'insert', data: { id: 2, label: 'engineering' } },
    { type: 'tag', op: 'insert', data: { id: 3, label: 'postgres' } },
    { type: 'article', op: 'insert', data: { id: 1, title: 'Why we version everything', status: 'draft', author_id: 1, body: INTRO, summary: null, seo: { keywords: ['history'] } } },
    { type: 'article', op: 'insert', data: { id: 2, title: 'Q3 roadmap', status: 'draft', author_id: 2, body: 'What we plan for the third quarter.', summary: null } },
    { type: 'article', op: 'insert', data: { id: 3, title: 'Scaling PostgreSQL reads', status: 'published', author_id: 2, body: 'Read replicas, connection pooling and a cache.', summary: null } },
    { type: 'article_tag', op: 'insert', data: { article_id: 1, tag_id: 1 } },
    { type: 'article_tag', op: 'insert', data: { article_id: 1, tag_id: 2 } },
    { type: 'article_tag', op: 'insert', data: { article_id: 3, tag_id: 2 } },
    { type: 'article_tag', op: 'insert', data: { article_id: 3, tag_id: 3 } }
  ]
})
const edited = await call('POST', '/transactions', {
  actor: 'maria.garcia', meta: { reason: 'copy edit', ticket: 'BLOG-142' }, issuedAt: daysAgo(9, 14, 12),
  changes: [{
    type: 'article', op: 'update', id: '1', data: {
      title: 'Why we version everything we store',
      status: 'published',
      body: 'Every row in our database changes over time, and most of those changes are lost once they happen. ' +
        'This post explains how we keep a complete history of our articles and why it saved us twice last quarter.',
      summary: 'How a history of every change saved us twice.'
    }
  }]
})
const handover = await call('POST', '/transactions', {
  actor: 'tom.becker', meta: { reason: 'handover while Maria is away' }, issuedAt: daysAgo(6, 9, 45),
  changes: [
    { type: 'article', op: 'update', id: '1', data: { author_id: 2, seo: { keywords: ['history', 'audit'], canonical: '/blog/version-everything' } } },
    { type: 'article_tag', op: 'delete', id: '1,1' },
    { type: 'article_tag', op: 'insert', data: { article_id: 1, tag_id: 3 } },
    { type: 'author', op: 'update', id: '2', data: { name: 'Thomas Becker' } }
  ]
})
await call('POST', '/transactions', {
  actor: 'tom.becker', issuedAt: daysAgo(4, 16, 5),
  changes: [{ type: 'article', op: 'update', id: '3', data: { body: 'Read replicas, connection pooling (PgBouncer) and a small cache in front.' } }]
})
await call('POST', '/transactions', {
  actor: 'maria.garcia', meta: { reason: 'superseded by the Q4 roadmap' }, issuedAt: daysAgo(3, 11, 20),
  changes: [{ type: 'article', op: 'delete', id: '2' }]
})
await call('POST', '/transactions', {
  actor: 'tom.becker', meta: { reason: 'shorter title for social' }, issuedAt: daysAgo(1, 17, 2),
  changes: [{ type: 'article', op: 'update', id: '1', data: { title: 'We version everything', status: 'review' } }]
})
// The title change was a mistake: back to Maria's edit (with its tags), as a revert.
const reverted = await call('POST', '/entities/article/1/revert', {
  to: edited.transaction.id, relations: ['tags'], actor: 'maria.garcia', meta: { reason: 'title change not approved' }
})
const revertTx: number = reverted.transaction.id

if (keep) {
  console.log(`Rewind is running at ${base}/ui#token=${adminKey}\n(data in ${dataDir}; Ctrl-C stops it)`)
} else {
  mkdirSync(OUT, { recursive: true })
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] })
  const problems: string[] = []
  const open = async (width: number, height: number): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: width < 500 ? 2 : 1, locale: 'en-GB', timezoneId: 'UTC' })
    const page = await context.newPage()
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(`${base}/ui#token=${adminKey}`)
    await page.locator('h1').first().waitFor()
    return page
  }
  const shot = async (page: Page, url: string, file: string, ready: string, action?: (page: Page) => Promise<void>, fullPage = false): Promise<void> => {
    await page.goto(base + url)
    await page.locator(ready).first().waitFor()
    if (action !== undefined) await action(page)
    await page.waitForLoadState('networkidle')
    await page.evaluate(async () => await document.fonts.ready)
    await page.screenshot({ path: path.join(OUT, file), fullPage })
    console.log(`wrote docs/img/${file}`)
  }
  const signin = await (await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-GB', timezoneId: 'UTC' })).newPage()
  await signin.goto(`${base}/ui`)
  await signin.locator('#credential').waitFor()
  await signin.screenshot({ path: path.join(OUT, 'signin.png') })
  console.log('wrote docs/img/signin.png')
  const desk = await open(1280, 860)
  await shot(desk, '/ui', 'types.png', '.types-list')
  await shot(desk, '/ui/types/article', 'entities.png', '.entities-list')
  await shot(desk, '/ui/entities/article/1', 'timeline.png', '.timeline .tl-meta .who', undefined, true)
  await shot(desk, '/ui/entities/article/1/compare?from=1&to=' + String(revertTx), 'compare.png', 'table.diff')
  await shot(desk, `/ui/entities/article/1/versions/${edited.transaction.id as number}`, 'relations.png', '.relations .relation', async (page) => {
    await page.locator('#relations-heading').scrollIntoViewIfNeeded()
    await page.evaluate(() => { document.getElementById('changes-heading')?.scrollIntoView() })
  })
  await shot(desk, `/ui/entities/article/1/versions/${handover.transaction.id as number}`, 'revert-preview.png', '#revert-heading', async (page) => {
    await page.getByRole('checkbox', { name: /^tags/ }).check()
    await page.getByRole('button', { name: 'Preview revert' }).click()
    await page.locator('.preview .changes').waitFor()
    await page.evaluate(() => { document.getElementById('revert-heading')?.scrollIntoView() })
  })
  await shot(desk, `/ui/transactions/${revertTx}`, 'transaction.png', '.changed-list', undefined, true)
  await shot(desk, '/ui/transactions', 'transactions.png', '.tx-list')
  const phone = await open(390, 844)
  await shot(phone, '/ui/entities/article/1', 'phone.png', '.timeline .tl-meta .who')
  await browser.close()
  if (problems.length > 0) {
    console.error(`the browser reported errors:\n${problems.join('\n')}`)
    process.exitCode = 1
  }
  await app.close()
  rmSync(dataDir, { recursive: true, force: true })
}
