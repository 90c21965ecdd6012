import { createHash } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import cliProgress from 'cli-progress'
import { InvalidArgumentError, type Command } from 'commander'
import { CliError, EXIT, exitCodesHelp, runCommand, Service, usageError, withServiceOptions, type ServiceOptions } from './service.js'

/*
 * `rewind import`: backfills a history from NDJSON, one transaction per line in the body
 * form of POST /transactions, posted one after the other in file order (a line may change
 * what an earlier one recorded). Each line is sent as it is written (integers of any size
 * kept) with the Idempotency-Key `import:<SHA-256 of the line>:<line number>`: run again,
 * the same file records nothing twice (the service answers the lines it has already
 * recorded from its idempotency keys, kept at least 24 hours, per API key).
 */

interface ImportOptions extends ServiceOptions { dryRun?: boolean, batch: number }

interface Line { number: number, text: string }
interface Counts { read: number, recorded: number, replayed: number, empty: number }

/** How often a line refused for a while (429, 503) is tried, and the longest wait between tries. */
const TRIES = 6
const LONGEST_WAIT_MS = 30_000

function positive (value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer')
  return n
}

function fileSize (path: string): number {
  try {
    const s = statSync(path)
    if (s.isDirectory()) throw usageError(`cannot read "${path}": it is a directory`)
    return s.size
  } catch (error) {
    if (error instanceof CliError) throw error
    const code = (error as { code?: string }).code
    throw usageError(`cannot read "${path}": ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(error)}`)
  }
}

/** A line must be a JSON object with a `changes` array (the service checks the rest). */
function check (line: Line): void {
  let value: unknown
  try {
    value = JSON.parse(line.text)
  } catch {
    throw new CliError(`line ${line.number}: not JSON`, EXIT.failed)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Array.isArray((value as { changes?: unknown }).changes)) {
    throw new CliError(`line ${line.number}: not a transaction (a JSON object with a "changes" array, as POST /transactions takes it)`, EXIT.failed)
  }
}

/** The Idempotency-Key of a line: its content and its place in the file. */
export const idempotencyKey = (line: Line): string => `import:${createHash('sha256').update(line.text, 'utf8').digest('hex')}:${line.number}`

/** Seconds (or an HTTP date) of Retry-After, as milliseconds; a backoff when there is none. */
function waitOf (res: Response, attempt: number): number {
  const header = res.headers.get('retry-after')
  const seconds = header === null ? NaN : Number(header)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : header !== null && !Number.isNaN(Date.parse(header)) ? Date.parse(header) - Date.now() : 500 * 2 ** attempt
  return Math.min(Math.max(ms, 100), LONGEST_WAIT_MS)
}

/** Posts one line; answers how the service took it. Refused for good (or an error): a CliError naming the line. */
async function send (service: Service, line: Line, afterFirst: boolean): Promise<'recorded' | 'replayed' | 'empty'> {
  const key = idempotencyKey(line)
  for (let attempt = 1; ; attempt++) {
    let res: Response
    try {
      res = await service.request('POST', 'transactions', { body: line.text, headers: { 'idempotency-key': key } })
    } catch (error) {
      // A connection lost mid-import is tried again (the key makes it safe); a service never reached is not.
      if (!(error instanceof CliError) || !afterFirst || attempt >= 3) {
        if (error instanceof CliError) throw new CliError(`line ${line.number}: ${error.message}; run the same import again: what was recorded is not recorded twice`, error.exitCode)
        throw error
      }
      await sleep(250 * attempt)
      continue
    }
    if ((res.status === 429 || res.status === 503) && attempt < TRIES) {
      await res.body?.cancel()
      await sleep(waitOf(res, attempt))
      continue
    }
    if (res.status !== 200 && res.status !== 201) throw await service.failure(res, `line ${line.number}: `)
    const body = await res.json().catch(() => undefined) as { transaction?: unknown } | undefined
    if (res.headers.get('idempotent-replayed') === 'true') return 'replayed'
    if (body === undefined || !('transaction' in body)) throw new CliError(`line ${line.number}: the service's answer is not that of POST /transactions: is --url the service?`, EXIT.failed)
    return body.transaction === null ? 'empty' : 'recorded'
  }
}

/** The file's lines (for the progress bar): its newlines, and a last line without one. */
async function lineCount (path: string, size: number): Promise<number> {
  let count = 0
  let last = 10
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++
    last = chunk[chunk.length - 1] ?? last
  }
  return size > 0 && last !== 10 ? count + 1 : count
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`

function summary (counts: Counts, dryRun: boolean): string {
  if (dryRun) return `${plural(counts.read, 'line')} read: every one a transaction (--dry-run: nothing sent)`
  return `${plural(counts.read, 'line')} read: ${counts.recorded} recorded, ${counts.replayed} replayed, ${counts.empty} empty`
}

async function importCommand (path: string, options: ImportOptions): Promise<void> {
  const size = fileSize(path)
  const dryRun = options.dryRun === true
  const service = dryRun ? undefined : Service.from(options)
  const counts: Counts = { read: 0, recorded: 0, replayed: 0, empty: 0 }
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({
      stream: process.stderr, clearOnComplete: true, hideCursor: true,
      format: `${dryRun ? 'checking' : 'importing'} [{bar}] {percentage}% | {lines} lines | {eta_formatted} left`, etaBuffer: 100
    }, cliProgress.Presets.shades_classic)
    : undefined
  if (bar !== undefined) bar.start(Math.max(await lineCount(path, size), 1), 0, { lines: 0 })
  const input = createReadStream(path)
  const reader = createInterface({ input, crlfDelay: Infinity })
  let started = false
  /** Sends the lines read ahead, in order. */
  const flush = async (batch: Line[]): Promise<void> => {
    for (const line of batch) {
      if (service !== undefined) {
        counts[await send(service, line, started)]++
        started = true
      }
      counts.read++
      bar?.update(line.number, { lines: counts.read })
    }
  }
  try {
    let batch: Line[] = []
    let number = 0
    for await (let text of reader) {
      number++
      if (number === 1 && text.startsWith('\uFEFF')) text = text.slice(1)
      if (text.trim() === '') continue
      const line = { number, text }
      check(line)
      batch.push(line)
      if (batch.length >= options.batch) {
        await flush(batch)
        batch = []
      }
    }
    await flush(batch)
    bar?.update(bar.getTotal())
  } finally {
    reader.close()
    input.destroy()
    bar?.stop()
    console.log(summary(counts, dryRun))
  }
}

/** `rewind import`: backfills a history (one POST /transactions per line), resumable and safe to run again. */
export function registerImportCommand (program: Command): void {
  withServiceOptions(program.command('import')
    .description('backfill a history: post each line of an NDJSON file (a POST /transactions body) in order, keeping its issuedAt')
    .argument('<file>', 'NDJSON: one {"issuedAt", "actor"?, "meta"?, "changes": [...]} per line')
    .option('--dry-run', 'check every line (a JSON object with a "changes" array) and send nothing')
    .option('--batch <n>', 'lines read and checked ahead of sending: a line that is not a transaction stops the import before any line of its batch is sent', positive, 100))
    .addHelpText('after', `
Each line is posted as it is written, one after the other, with the Idempotency-Key
import:<SHA-256 of the line>:<line number>. Interrupted, run the same command again
(with the same API key, within 24 hours): lines already recorded are answered as
"replayed" and recorded nothing twice. The import stops at the first line the service
refuses (printed as "line N: <why>"); nothing after it is sent. The entity types must be
registered first (PUT /entity-types/{type}).
At the end it prints the lines read, and how many were recorded, replayed (recorded by an
earlier run) or empty (changing nothing: the service recorded no transaction).
${exitCodesHelp('every line was recorded (or replayed, or changed nothing)', `the service refused a line or answered an error ("line N: <its detail>"),
     or a line is not JSON ("line N: not JSON") or not an object with "changes"`)}

Examples:
  export REWIND_URL=https://rewind.example.com REWIND_API_KEY=rwd_…
  rewind import history.ndjson --dry-run
  rewind import history.ndjson
  psql -XAtf continuum-to-rewind.sql legacy > history.ndjson && rewind import history.ndjson`)
    .exitOverride((error) => { process.exit(error.exitCode === 0 ? 0 : EXIT.usage) })
    .action(async (file: string, options: ImportOptions) => { await runCommand('import', async () => { await importCommand(file, options) }) })
}
