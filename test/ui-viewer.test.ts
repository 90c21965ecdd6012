import t from 'tap'
import { databaseKinds, openHarness, type Harness } from './helpers/harness.js'
import { launchBrowser, listen, openTab, scrollsSideways, see, seeAll, seeAttributes, type Tab } from './helpers/browser.js'

// The history viewer (/ui) in a real browser, on each database: signing in, the timeline with
// who/when/what changed, a diff between two chosen versions, relations as of a version, reverts
// (preview, then confirm), transactions, a viewer token limited to one entity, deep links, the
// phone layout, and no console error anywhere.

const browser = await launchBrowser(t)

const TIMES = ['2026-01-15T10:00:00.000Z', '2026-02-20T14:30:00.000Z', '2026-03-05T09:15:00.000Z', '2026-04-01T08:00:00.000Z']

/** A small blog: authors, tags, articles; an update, a reassignment with retagging, a delete. */
async function seed (h: Harness): Promise<void> {
  const ok = (res: { status: number, body: unknown }, what: string): void => {
    if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`)
  }
  ok(await h.put('/entity-types/author', {}), 'author')
  ok(await h.put('/entity-types/tag', {}), 'tag')
  ok(await h.put('/entity-types/article', {
    relations: {
      author: { kind: 'manyToOne', target: 'author', foreignKey: 'author_id' },
      tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
    }
  }), 'article')
  ok(await h.post('/transactions', {
    actor: 'alice', meta: { reason: 'import' }, issuedAt: TIMES[0],
    changes: [
      { type: 'author', op: 'insert', data: { id: 1, name: 'Ada' } },
      { type: 'author', op: 'insert', data: { id: 2, name: 'Grace' } },
      { type: 'tag', op: 'insert', data: { id: 1, label: 'news' } },
      { type: 'tag', op: 'insert', data: { id: 2, label: 'tech' } },
      { type: 'article', op: 'insert', data: { id: 1, title: 'First draft', author_id: 1, summary: null } },
      { type: 'article', op: 'insert', data: { id: 2, title: 'Second article', author_id: 2 } },
      { type: 'article_tag', op: 'insert', data: { article_id: 1, tag_id: 1 } }
    ]
  }), 'tx 1')
  ok(await h.post('/transactions', {
    actor: 'bob', meta: { reason: 'copy edit' }, issuedAt: TIMES[1],
    changes: [
      { type: 'article', op: 'update', id: '1', data: { title: 'Final title', summary: 'Short' } },
      { type: 'author', op: 'update', id: '1', data: { name: 'Ada Lovelace' } }
    ]
  }), 'tx 2')
  ok(await h.post('/transactions', {
    actor: 'carol', issuedAt: TIMES[2],
    changes: [
      { type: 'article', op: 'update', id: '1', data: { author_id: 2 } },
      { type: 'article_tag', op: 'insert', data: { article_id: 1, tag_id: 2 } },
      { type: 'article_tag', op: 'delete', id: '1,1' }
    ]
  }), 'tx 3')
  ok(await h.post('/transactions', { actor: 'bob', issuedAt: TIMES[3], changes: [{ type: 'article', op: 'delete', id: '2' }] }), 'tx 4')
}

/** The rows of a diff table inside `scope`: field, before and after as shown. */
async function diffRows (tab: Tab, scope: string): Promise<Array<[string, string, string]>> {
  await tab.page.locator(`${scope} tr.diff-row`).first().waitFor()
  return await tab.page.locator(`${scope} tr.diff-row`).evaluateAll((rows) => rows.map((row) => [
    row.getAttribute('data-field') ?? '',
    (row.querySelector('td.before')?.textContent ?? '').trim(),
    (row.querySelector('td.after')?.textContent ?? '').trim()
  ] as [string, string, string]))
}

const byField = (rows: Array<[string, string, string]>): Array<[string, string, string]> => [...rows].sort((a, b) => a[0].localeCompare(b[0]))

for (const kind of await databaseKinds()) {
  t.test(`the viewer on ${kind}`, async (t) => {
    const h = await openHarness(t, kind)
    await seed(h)
    const base = await listen(h.app)
    const tab = await openTab(browser)
    const { page } = tab
    const clean = (tt: { strictSame: (a: unknown, b: unknown, m: string) => void }): void => { tt.strictSame(tab.takeProblems(), [], 'no console error, no page error') }

    try {
      await t.test('signing in: a pasted key, kept in session storage, never in the URL; signing out', async (t) => {
        await page.goto(`${base}/ui`)
        t.equal(await see(page, 'h1', 'Sign in'), 'Sign in')
        await page.getByLabel('API key or viewer token').fill('rwd_not-a-key-at-all-000000000000')
        await page.getByRole('button', { name: 'Sign in' }).click()
        t.equal(await see(page, '#credential-error', 'This key or token was not accepted: it is unknown, revoked or expired.'), 'This key or token was not accepted: it is unknown, revoked or expired.')
        t.strictSame(tab.takeProblems().map((p) => /status of 401/.test(p)), [true], 'the refused key is the only error (a 401)')
        await page.getByLabel('API key or viewer token').fill(h.adminKey)
        await page.getByRole('button', { name: 'Sign in' }).click()
        t.equal(await see(page, 'h1', 'Entity types'), 'Entity types')
        t.equal(page.url(), `${base}/ui`)
        t.equal(await page.evaluate(() => sessionStorage.getItem('rewind.viewer.credential')), h.adminKey)
        t.strictSame(await seeAttributes(page, '.types-list tbody tr', 'data-type', ['article', 'article_tag', 'author', 'tag']), ['article', 'article_tag', 'author', 'tag'])
        t.equal(await see(page, '.types-list tr[data-type="article_tag"] th .small', 'links article ↔ tag (article.tags)'), 'links article ↔ tag (article.tags)')
        await page.getByRole('button', { name: 'Sign out' }).click()
        t.equal(await see(page, 'h1', 'Sign in'), 'Sign in')
        t.equal(await see(page, '.signin .notice', 'You are signed out.'), 'You are signed out.')
        t.equal(await page.evaluate(() => sessionStorage.getItem('rewind.viewer.credential')), null)
        clean(t)
      })

      await t.test('a deep link with the key in the fragment opens directly, and the fragment is removed', async (t) => {
        await page.goto(`${base}/ui/entities/article/1#token=${encodeURIComponent(h.adminKey)}`)
        t.equal(await see(page, 'h1', 'article 1'), 'article 1')
        t.equal(page.url(), `${base}/ui/entities/article/1`, 'no key in the address bar')
        await page.goto(`${base}/ui/transactions/3`)
        t.equal(await see(page, 'h1', 'Transaction #3'), 'Transaction #3')
        t.strictSame(await seeAttributes(page, '.changed-list article', 'data-entity', ['article/1', 'article_tag/1,2', 'article_tag/1,1']), ['article/1', 'article_tag/1,2', 'article_tag/1,1'])
        clean(t)
      })

      await t.test('the entities of a type, the deleted one marked', async (t) => {
        await page.goto(`${base}/ui/types/article`)
        t.equal(await see(page, 'h1', 'Type article'), 'Type article')
        t.strictSame(await seeAttributes(page, '.entities-list tbody tr', 'data-entity', ['1', '2']), ['1', '2'])
        t.strictSame(await seeAll(page, '.entities-list tbody td[data-label="Status"]', ['Live', 'Deleted']), ['Live', 'Deleted'])
        t.strictSame(await seeAll(page, '.entities-list tbody td[data-label="Last change"]', ['Updated in #3', 'Deleted in #4']), ['Updated in #3', 'Deleted in #4'])
        await page.getByRole('link', { name: 'article 2' }).click()
        t.equal(await see(page, 'h1', 'article 2'), 'article 2')
        t.equal(page.url(), `${base}/ui/entities/article/2`)
        clean(t)
      })

      await t.test('the timeline: every version with who, when and the field-level diff', async (t) => {
        await page.goto(`${base}/ui/entities/article/1`)
        t.equal(await see(page, 'h1', 'article 1'), 'article 1')
        t.strictSame(await seeAttributes(page, '.timeline > li', 'data-transaction', ['3', '2', '1']), ['3', '2', '1'], 'newest first')
        const titles = ['Updated Version 3 current', 'Updated Version 2', 'Created Version 1']
        t.strictSame(await seeAll(page, '.timeline > li .v-title', titles), titles)
        await page.locator('.timeline > li[data-transaction="1"] .who').waitFor()
        t.strictSame(await seeAll(page, '.timeline > li .who', ['carol (key “bootstrap admin”)', 'bob (key “bootstrap admin”)', 'alice (key “bootstrap admin”)']), ['carol (key “bootstrap admin”)', 'bob (key “bootstrap admin”)', 'alice (key “bootstrap admin”)'])
        t.strictSame(await seeAll(page, '.timeline > li time', ['5 Mar 2026, 09:15:00', '20 Feb 2026, 14:30:00', '15 Jan 2026, 10:00:00']), ['5 Mar 2026, 09:15:00', '20 Feb 2026, 14:30:00', '15 Jan 2026, 10:00:00'])
        t.strictSame(await seeAttributes(page, '.timeline > li time', 'datetime', [TIMES[2]!, TIMES[1]!, TIMES[0]!]), [TIMES[2], TIMES[1], TIMES[0]])
        t.strictSame(await seeAll(page, '.timeline > li[data-transaction="2"] .meta dt', ['reason']), ['reason'])
        t.strictSame(await seeAll(page, '.timeline > li[data-transaction="2"] .meta dd', ['copy edit']), ['copy edit'])
        t.strictSame(await diffRows(tab, '.timeline > li[data-transaction="3"]'), [['author_id', '1', '2']])
        t.strictSame(byField(await diffRows(tab, '.timeline > li[data-transaction="2"]')), [['summary', 'null', 'Short'], ['title', 'First draft', 'Final title']])
        t.equal(await page.locator('.timeline > li[data-transaction="2"] tr[data-field="summary"] td.before .v-null').count(), 1, 'null is shown as null')
        t.strictSame(byField(await diffRows(tab, '.timeline > li[data-transaction="1"]')), [['author_id', '', '1'], ['id', '', '1'], ['title', '', 'First draft']],
          'an insert lists its values (summary, null, is not a change)')
        clean(t)
      })

      await t.test('a deleted entity shows its history with the delete marked', async (t) => {
        await page.goto(`${base}/ui/entities/article/2`)
        t.equal(await see(page, '.page-sub .status', 'Deleted'), 'Deleted')
        t.equal(await see(page, '.notice-deleted .notice-title', 'This article is deleted'), 'This article is deleted')
        t.strictSame(await seeAll(page, '.timeline > li .op', ['Deleted', 'Created']), ['Deleted', 'Created'])
        t.strictSame(byField(await diffRows(tab, '.timeline > li[data-transaction="4"]')), [['author_id', '2', ''], ['id', '2', ''], ['title', 'Second article', '']])
        t.equal(await see(page, '.timeline > li[data-transaction="4"] thead th:nth-child(2)', 'Value removed'), 'Value removed')
        clean(t)
      })

      await t.test('the diff between two chosen versions', async (t) => {
        await page.goto(`${base}/ui/entities/article/1`)
        await page.getByRole('link', { name: 'Compare versions' }).click()
        await page.getByLabel('From', { exact: true }).selectOption('1')
        await page.getByLabel('To', { exact: true }).selectOption('3')
        await page.getByRole('button', { name: 'Compare', exact: true }).click()
        await page.waitForURL(`${base}/ui/entities/article/1/compare?from=1&to=3`)
        t.equal(await see(page, '#diff-heading', 'From version 1 (transaction #1) to version 3 (transaction #3)'), 'From version 1 (transaction #1) to version 3 (transaction #3)')
        t.equal(await see(page, '.diff-summary', '3 fields differ.'), '3 fields differ.')
        t.strictSame(byField(await diffRows(tab, 'main')), [['author_id', '1', '2'], ['summary', 'null', 'Short'], ['title', 'First draft', 'Final title']])
        await page.getByRole('button', { name: 'Swap' }).click()
        await page.waitForURL(`${base}/ui/entities/article/1/compare?from=3&to=1`)
        t.equal(await see(page, '#diff-heading', 'From version 3 (transaction #3) to version 1 (transaction #1)'), 'From version 3 (transaction #3) to version 1 (transaction #1)')
        t.strictSame(byField(await diffRows(tab, 'main')), [['author_id', '2', '1'], ['summary', 'Short', 'null'], ['title', 'Final title', 'First draft']])
        clean(t)
      })

      await t.test('relations as they were at a version, linked to the related versions', async (t) => {
        await page.goto(`${base}/ui/entities/article/1/versions/2`)
        t.equal(await see(page, 'h1', 'Version 2 of article 1'), 'Version 2 of article 1')
        t.strictSame(await seeAll(page, '[data-relation="author"] li a', ['author 1 Ada Lovelace']), ['author 1 Ada Lovelace'])
        t.strictSame(await seeAttributes(page, '[data-relation="author"] li a', 'href', ['/ui/entities/author/1/versions/2']), ['/ui/entities/author/1/versions/2'])
        t.strictSame(await seeAll(page, '[data-relation="tags"] li a', ['tag 1 news']), ['tag 1 news'])
        await page.getByRole('link', { name: 'Next version →' }).click()
        t.equal(await see(page, 'h1', 'Version 3 of article 1'), 'Version 3 of article 1')
        t.equal(page.url(), `${base}/ui/entities/article/1/versions/3`)
        t.strictSame(await seeAll(page, '[data-relation="author"] li a', ['author 2 Grace']), ['author 2 Grace'])
        t.strictSame(await seeAll(page, '[data-relation="tags"] li a', ['tag 2 tech']), ['tag 2 tech'])
        await page.getByRole('link', { name: /^tag 2/ }).click()
        t.equal(await see(page, 'h1', 'Version 1 of tag 2'), 'Version 1 of tag 2')
        t.equal(page.url(), `${base}/ui/entities/tag/2/versions/1`)
        await page.goBack()
        t.equal(await see(page, 'h1', 'Version 3 of article 1'), 'Version 3 of article 1', 'Back returns to the previous view')
        clean(t)
      })

      await t.test('reverting an entity with a relation: the exact changes first, then a new transaction on confirm', async (t) => {
        const expected = await h.post('/entities/article/1/revert', { to: 1, relations: ['tags'], dryRun: true })
        t.equal(expected.status, 200)
        await page.goto(`${base}/ui/entities/article/1`)
        await page.locator('.timeline > li[data-transaction="1"]').getByRole('link', { name: 'Revert to this version…' }).click()
        t.equal(page.url(), `${base}/ui/entities/article/1/versions/1?action=revert`)
        await page.getByRole('checkbox', { name: /^tags/ }).check()
        await page.getByRole('button', { name: 'Preview revert' }).click()
        t.equal(await see(page, '#preview-heading', 'Preview: 3 changes would be recorded'), 'Preview: 3 changes would be recorded')
        const shown = await page.locator('.preview li.change').evaluateAll((items) => items.map((li) => [li.getAttribute('data-op'), li.getAttribute('data-entity')]))
        t.strictSame(shown, expected.body.changes.map((c: { op: string, type: string, id: string }) => [c.op, `${c.type}/${c.id}`]), 'the changes of the dry run, in its order')
        const update = expected.body.changes.find((c: { op: string }) => c.op === 'update')
        t.strictSame(update.data, { title: 'First draft', summary: null, author_id: 1 })
        t.strictSame(byField(await diffRows(tab, '.preview li.change[data-op="update"]')), [['author_id', '2', '1'], ['summary', 'Short', 'null'], ['title', 'Final title', 'First draft']],
          'each field the update writes: its value now and after the revert')
        t.equal((await h.get('/transactions?limit=1')).body.items[0].id, 4, 'the preview recorded nothing')
        await page.getByRole('button', { name: 'Confirm revert (3 changes)' }).click()
        t.equal(await see(page, '[data-result="reverted"] .notice-title', 'Reverted: transaction #5 recorded with 3 changes.'), 'Reverted: transaction #5 recorded with 3 changes.')
        const recorded = await h.get('/transactions/5')
        t.equal(recorded.status, 200)
        t.strictSame(recorded.body.revertOf, { type: 'article', id: '1', to: 1 })
        t.strictSame(recorded.body.versions.map((v: { type: string, id: string, operation: string }) => `${v.operation} ${v.type}/${v.id}`).sort(),
          ['delete article_tag/1,2', 'insert article_tag/1,1', 'update article/1'])
        await page.getByRole('link', { name: 'transaction #5' }).click()
        t.equal(await see(page, 'h1', 'Transaction #5'), 'Transaction #5')
        t.equal(await see(page, '.facts .revert-of', '↶ Reverts article 1 to its state at transaction #1'), '↶ Reverts article 1 to its state at transaction #1')
        clean(t)
      })

      await t.test('reverting a transaction: conflicts listed, then forced with a preview and a confirmation', async (t) => {
        await page.goto(`${base}/ui/transactions/2`)
        await page.getByRole('button', { name: 'Preview revert' }).click()
        t.equal(await see(page, '.conflicts .notice-title', 'Later transactions changed 1 of its entities'), 'Later transactions changed 1 of its entities')
        t.strictSame(await seeAll(page, '.conflict-list li', ['article 1: changed later by #3, #5']), ['article 1: changed later by #3, #5'])
        await page.getByLabel(/^Force/).check()
        await page.getByRole('button', { name: 'Preview revert' }).click()
        const expected = await h.post('/transactions/2/revert', { dryRun: true, force: true })
        t.strictSame(expected.body.changes, [{ type: 'author', op: 'update', id: '1', data: { name: 'Ada' } }], 'article 1 is already as it was before: author 1 alone goes back')
        t.equal(await see(page, '#tx-preview-heading', 'Preview: 1 change would be recorded'), 'Preview: 1 change would be recorded')
        const shown = await page.locator('.preview li.change').evaluateAll((items) => items.map((li) => [li.getAttribute('data-op'), li.getAttribute('data-entity')]))
        t.strictSame(shown, expected.body.changes.map((c: { op: string, type: string, id: string }) => [c.op, `${c.type}/${c.id}`]))
        await page.getByRole('button', { name: /^Confirm revert \(forced\)/ }).click()
        t.equal(await see(page, '[data-result="reverted"] .notice-title', 'Reverted: transaction #6 recorded with 1 change.'), 'Reverted: transaction #6 recorded with 1 change.')
        t.strictSame((await h.get('/transactions/6')).body.revertOf, { transaction: 2 })
        clean(t)
      })

      await t.test('transactions: filters kept in the URL', async (t) => {
        await page.goto(`${base}/ui/transactions?actor=bob`)
        t.equal(await page.getByLabel('Actor').inputValue(), 'bob')
        t.strictSame(await seeAttributes(page, '.tx-list tbody tr', 'data-transaction', ['4', '2']), ['4', '2'])
        await page.getByLabel('Actor').fill('')
        await page.getByLabel('Changed a type').selectOption('author')
        await page.getByRole('button', { name: 'Apply filters' }).click()
        await page.waitForURL(`${base}/ui/transactions?type=author`)
        const api = await h.get('/transactions?type=author')
        const ids = api.body.items.map((tx: { id: number }) => String(tx.id))
        t.strictSame(ids, ['6', '2', '1'], 'the API: the transactions that touched an author')
        t.strictSame(await seeAttributes(page, '.tx-list tbody tr', 'data-transaction', ids), ids)
        await page.getByLabel('Since').fill('2026-02-01T00:00')
        await page.getByLabel('Until').fill('2026-03-01T00:00')
        await page.getByRole('button', { name: 'Apply filters' }).click()
        await page.waitForURL(`${base}/ui/transactions?type=author&since=2026-02-01T00%3A00%3A00.000Z&until=2026-03-01T00%3A00%3A00.000Z`)
        await page.locator('.tx-list tbody tr[data-transaction="2"]').waitFor()
        t.strictSame(await seeAttributes(page, '.tx-list tbody tr', 'data-transaction', ['2']), ['2'])
        await page.reload()
        t.strictSame(await seeAttributes(page, '.tx-list tbody tr', 'data-transaction', ['2']), ['2'], 'the filtered list deep-links')
        t.equal(await page.getByLabel('Since').inputValue(), '2026-02-01T00:00')
        clean(t)
      })

      await t.test('keyboard: the first Tab reaches "Skip to content"; headings in order', async (t) => {
        await page.goto(`${base}/ui/entities/article/1/versions/2`)
        await page.locator('[data-relation="tags"]').waitFor()
        await page.keyboard.press('Tab')
        t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content')
        const levels = await page.locator('main h1, main h2, main h3').evaluateAll((hs) => hs.map((h) => Number(h.tagName.slice(1))))
        t.equal(levels[0], 1)
        t.ok(levels.every((level, i) => i === 0 || level <= levels[i - 1]! + 1), `no heading level skipped (${levels.join(',')})`)
        clean(t)
      })

      await t.test('a viewer token limited to one entity: its history, nothing else, read-only', async (t) => {
        const issued = await h.post('/viewer-tokens', { type: 'article', id: '1', ttlSeconds: 600 })
        t.equal(issued.status, 201, 'POST /viewer-tokens issues a token')
        const token: string = issued.body.token
        const viewer = await openTab(browser)
        try {
          const p = viewer.page
          await p.goto(`${base}/ui/entities/article/1#token=${encodeURIComponent(token)}`)
          t.equal(await see(p, 'h1', 'article 1'), 'article 1')
          t.equal(p.url(), `${base}/ui/entities/article/1`, 'the token left the address bar')
          t.equal(await p.evaluate(() => sessionStorage.getItem('rewind.viewer.credential')), token)
          t.equal(await see(p, '.session .pill', 'Viewer token'), 'Viewer token')
          t.strictSame(await seeAttributes(p, '.timeline > li', 'data-transaction', ['5', '3', '2', '1']), ['5', '3', '2', '1'])
          await p.goto(`${base}/ui/entities/article/1/versions/2`)
          t.equal(await see(p, '.revert-section .notice-title', 'Reverting is not available with this token'), 'Reverting is not available with this token')
          t.strictSame(viewer.takeProblems(), [], 'its own entity: no error')
          await p.goto(`${base}/ui/entities/article/2`)
          t.equal(await see(p, '.notice-error .notice-title', 'article 2 was not found'), 'article 2 was not found')
          await p.goto(`${base}/ui/entities/author/1`)
          t.equal(await see(p, '.notice-error .notice-title', 'author 1 was not found'), 'author 1 was not found')
          const problems = viewer.takeProblems()
          t.ok(problems.length > 0 && problems.every((p) => /status of 404/.test(p)), `only the expected 404s of the entities outside the token (${problems.join('; ')})`)
        } finally {
          await viewer.close()
        }
      })

      await t.test('390 px wide: no horizontal scroll on any view', async (t) => {
        const phone = await openTab(browser, { width: 390, height: 844 })
        try {
          const p = phone.page
          await p.goto(`${base}/ui#token=${encodeURIComponent(h.adminKey)}`)
          const views: Array<[string, string]> = [
            ['/ui', '.types-list'],
            ['/ui/types/article', '.entities-list'],
            ['/ui/entities/article/1', '.timeline > li[data-transaction="1"] .who'],
            ['/ui/entities/article/1/compare?from=1&to=3', 'table.diff'],
            ['/ui/entities/article/1/versions/3', '[data-relation="tags"]'],
            ['/ui/transactions', '.tx-list'],
            ['/ui/transactions/5', '.changed-list']
          ]
          for (const [path, ready] of views) {
            await p.goto(base + path)
            await p.locator(ready).first().waitFor()
            t.equal(await scrollsSideways(p), false, `${path} fits 390 px`)
          }
          await p.goto(`${base}/ui/entities/article/1/versions/1`)
          await p.getByRole('button', { name: 'Preview revert' }).click()
          await p.locator('.preview').waitFor()
          t.equal(await scrollsSideways(p), false, 'a revert preview fits 390 px')
          t.strictSame(phone.takeProblems(), [], 'no console error, no page error')
        } finally {
          await phone.close()
        }
      })
    } finally {
      await tab.close()
    }
  })
}
