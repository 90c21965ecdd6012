import { existsSync } from 'node:fs'
import { chromium, type Page } from 'playwright-core'

/*
 * The flame graph figure: a CPU profile loaded into Chromium's own DevTools (its Performance
 * panel, which opens .cpuprofile files), photographed headless. Debian's Chromium, driven by
 * playwright-core; no browser is downloaded. Given a profile whose samples are sorted by
 * stack (cpu-profile.ts, stackSortedProfile), DevTools' flame chart is a flame graph: one
 * box per call path, as wide as its CPU time, callers above callees.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Throws when there is no Chromium to render with (before a long run, rather than after it). */
export function checkChromium (): void {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`the flame graph needs Chromium at ${CHROMIUM_PATH} (Debian: apt-get install chromium; elsewhere set CHROMIUM_PATH); none is downloaded`)
}

/** Hides DevTools' sidebar and closes its first-run popover (keyboard shortcuts), when shown. */
async function tidy (page: Page): Promise<void> {
  for (const name of ['Close', 'Hide sidebar']) {
    const button = page.getByRole('button', { name, exact: true })
    if (await button.count() > 0 && await button.first().isVisible()) await button.first().click()
  }
}

/** The flame chart's box, down to its last row of boxes (the canvas is taller than the chart). */
async function chartBox (page: Page): Promise<{ x: number, y: number, width: number, height: number }> {
  const canvas = page.locator('canvas.flame-chart-canvas').first()
  const box = (await canvas.boundingBox())!
  const drawn = await canvas.evaluate((c: HTMLCanvasElement) => {
    const context = c.getContext('2d')!
    const { data, width, height } = context.getImageData(0, 0, c.width, c.height)
    // The last row with boxes on more than 2 % of its width (the ruler's grid lines run all the way down).
    let last = 0
    for (let y = 0; y < height; y++) {
      let drawnPixels = 0
      for (let x = 0; x < width; x++) {
        const i = 4 * (y * width + x)
        if (data[i]! < 235 || data[i + 1]! < 235 || data[i + 2]! < 235) drawnPixels++
      }
      if (drawnPixels > 0.02 * width) last = y
    }
    return (last + 1) / (c.height / c.getBoundingClientRect().height)
  })
  return { x: box.x, y: box.y, width: box.width, height: Math.min(box.height, Math.ceil(drawn) + 8) }
}

/** Renders `profileFile` (a .cpuprofile) as DevTools shows it and saves the flame chart as `pngFile`. */
export async function renderFlameGraph (profileFile: string, pngFile: string, size = { width: 2400, height: 1400 }): Promise<void> {
  checkChromium()
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'], headless: true })
  try {
    const page = await browser.newPage({ viewport: size })
    page.setDefaultTimeout(20_000)
    await page.goto('devtools://devtools/bundled/devtools_app.html?panel=timeline')
    // Node's own modules and node_modules are on DevTools' ignore list (folded away): show them.
    await page.getByRole('button', { name: /ignore list setting/i }).click()
    await page.getByRole('checkbox', { name: /node_modules/ }).uncheck()
    await page.locator('devtools-dialog').getByRole('button', { name: /close/i }).first().click()
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: /load (trace|profile)/i }).first().click()])
    await chooser.setFiles(profileFile)
    await page.getByText('Bottom-up', { exact: true }).first().waitFor({ timeout: 60_000 })
    await page.waitForTimeout(1500)
    await tidy(page)
    await page.waitForTimeout(1000)
    await page.screenshot({ path: pngFile, clip: await chartBox(page) })
  } finally {
    await browser.close()
  }
}
