import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

// Browser tests of the history viewer: Debian's Chromium driven by playwright-core (no browser is
// ever downloaded). One browser per test file; each test opens tabs (contexts) in it.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

/** Launches Chromium once for the test file (closed when it ends). No Chromium is a failure, never a skip. */
export async function launchBrowser (t: Test): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`the viewer's browser tests need Chromium at ${CHROMIUM_PATH} (Debian: apt-get install chromium; elsewhere set CHROMIUM_PATH); none is downloaded`)
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true })
  t.teardown(async () => { await browser.close() })
  return browser
}

/** Makes the app listen on 127.0.0.1, on a port of the system's choice: its base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

export interface Tab {
  page: Page
  context: BrowserContext
  /** Console errors and page errors since the last takeProblems(). */
  problems: string[]
  /** The problems collected so far (and forgets them). */
  takeProblems: () => string[]
  close: () => Promise<void>
}

/** A new tab with its own session storage, in a fixed locale and time zone (en-GB, UTC). */
export async function openTab (browser: Browser, viewport = { width: 1280, height: 900 }): Promise<Tab> {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC', reducedMotion: 'reduce' })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  return {
    page,
    context,
    problems,
    takeProblems: () => problems.splice(0),
    close: async () => { await context.close() }
  }
}

/** The trimmed text of the first element `selector` matches, once there is one. */
export async function text (page: Page, selector: string): Promise<string> {
  const element = page.locator(selector).first()
  await element.waitFor()
  return ((await element.textContent()) ?? '').replace(/\s+/g, ' ').trim()
}

/** The trimmed texts of every element `selector` matches, once there is at least one. */
export async function texts (page: Page, selector: string): Promise<string[]> {
  await page.locator(selector).first().waitFor()
  return (await page.locator(selector).allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim())
}

/** The values of an attribute on every element `selector` matches, once there is at least one. */
export async function attributes (page: Page, selector: string, name: string): Promise<string[]> {
  await page.locator(selector).first().waitFor()
  return await page.locator(selector).evaluateAll((elements, attribute) => elements.map((e) => e.getAttribute(attribute) ?? ''), name)
}

/** Whether the page scrolls sideways (wider content than the window). */
export async function scrollsSideways (page: Page): Promise<boolean> {
  return await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth || document.body.scrollWidth > window.innerWidth)
}

/**
 * The text of `selector` once it is `expected` (a view renders in steps: loading, then data):
 * polled for up to `timeoutMs`, then whatever it is, for the assertion to report.
 */
export async function see (page: Page, selector: string, expected: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let actual = await text(page, selector)
  while (actual !== expected && Date.now() < deadline) {
    await page.waitForTimeout(25)
    actual = await text(page, selector)
  }
  return actual
}

/** The texts of every match of `selector` once they are `expected` (polled, as see()). */
export async function seeAll (page: Page, selector: string, expected: string[], timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  let actual = await texts(page, selector)
  while (JSON.stringify(actual) !== JSON.stringify(expected) && Date.now() < deadline) {
    await page.waitForTimeout(25)
    actual = await texts(page, selector)
  }
  return actual
}

/** The attribute values of every match of `selector` once they are `expected` (polled, as see()). */
export async function seeAttributes (page: Page, selector: string, name: string, expected: string[], timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  let actual = await attributes(page, selector, name)
  while (JSON.stringify(actual) !== JSON.stringify(expected) && Date.now() < deadline) {
    await page.waitForTimeout(25)
    actual = await attributes(page, selector, name)
  }
  return actual
}
