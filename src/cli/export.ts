import { createReadStream } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import cliProgress from 'cli-progress'
import { Option, type Command } from 'commander'
import { leafHash, MerkleRoot } from '../integrity/merkle.js'
import { toJsonText } from '../versioning/json.js'
import {
  CliError, EXIT, exitCodesHelp, lineKind, linesOf, lostConnection, runCommand, Service, usageError, withServiceOptions, type ServiceOptions
} from './service.js'

/*
 * `rewind export`: GET /export (NDJSON) into a file, resumable.
 *
 * The file is written as the lines arrive, whole lines at a time, so that whatever an
 * interruption leaves is a prefix of the export (perhaps ending in a cut line). `--resume`
 * keeps that prefix up to its last whole transaction line and asks for the rest with
 * `?after=<that line's cursor>`. The service answers the rest as an export of its own
 * (a filtered one): its header line, and anchors for entities whose earlier versions it
 * leaves out, are dropped (the prefix has them); its records and checkpoints are kept; its
 * `end` line is replaced by one that counts the whole file; and, as a filtered export has
 * no `head` lines, the newest checkpoint's heads are worked out from the file (each
 * entity's newest version the checkpoint covers, in the checkpoint's leaf order) and
 * checked against its signed root. The joined file is then verified as `rewind verify`
 * would; should the history have changed in a way the prefix cannot show (pruned since
 * it was written), the export starts over.
 */

const TYPE_NAME = /^[a-z][a-z0-9_]{0,62}$/
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const DATE = /^\d{4}-\d{2}-\d{2}$/

interface Filter { type?: string | undefined, since?: string | undefined, until?: string | undefined }
interface ExportOptions extends ServiceOptions, Filter { out: string, resume?: boolean, force?: boolean }

/** --since/--until: an RFC 3339 time, or a date (its midnight, UTC). */
function time (value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined
  if (DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))) return `${value}T00:00:00Z`
  if (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) throw usageError(`--${name} "${value}" is not a time (RFC 3339, e.g. 2026-01-31T00:00:00Z, or a date 2026-01-31)`)
  return value
}

function filterOf (options: ExportOptions): Filter {
  if (options.type !== undefined && !TYPE_NAME.test(options.type)) throw usageError(`--type "${options.type}" is not a type name (lowercase letters, digits, _)`)
  return { type: options.type, since: time(options.since, 'since'), until: time(options.until, 'until') }
}

const reason = (error: unknown): string => {
  const code = (error as { code?: string }).code
  if (code === 'ENOENT') return 'no such folder'
  if (code === 'EISDIR') return 'it is a directory'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

async function openFile (path: string, flags: 'w' | 'r+'): Promise<FileHandle> {
  try {
    return await open(path, flags)
  } catch (error) {
    throw usageError(`cannot write "${path}": ${reason(error)}`)
  }
}

/** Lines into a file at a position, written whole in batches (an interruption leaves a prefix of them). */
class LineWriter {
  private pending: string[] = []
  private size = 0
  lines = 0
  constructor (private readonly file: FileHandle, private position: number) {}

  async line (text: string): Promise<void> {
    this.pending.push(text, '\n')
    this.size += text.length + 1
    this.lines++
    if (this.size >= 1 << 20) await this.flush()
  }

  async flush (): Promise<void> {
    if (this.pending.length === 0) return
    const bytes = Buffer.from(this.pending.join(''), 'utf8')
    this.pending = []
    this.size = 0
    await this.file.write(bytes, 0, bytes.length, this.position)
    this.position += bytes.length
  }

  /** Everything written and on disk. */
  async finish (): Promise<void> {
    await this.flush()
    await this.file.truncate(this.position)
    await this.file.sync()
  }
}

interface LatestCheckpoint { sequence: number, upToTransactionId: number, root: string }
interface Copied { transactions: number, versions: number, end: { transactions: number, versions: number } | undefined, latest: LatestCheckpoint | undefined, heads: boolean }

/** Progress on stderr, only where someone watches it (never into a pipe or a log). */
function exportBar (): cliProgress.SingleBar | undefined {
  return process.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'exporting | {value} transactions written | {duration_formatted}', clearOnComplete: true, hideCursor: true })
    : undefined
}

async function requestExport (service: Service, filter: Filter & { after?: string }): Promise<Response> {
  const res = await service.request('GET', 'export', { query: { ...filter }, headers: { accept: 'application/x-ndjson, application/problem+json' } })
  if (!res.ok) throw await service.failure(res)
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
  if (type !== 'application/x-ndjson' || res.body === null) {
    await res.body?.cancel()
    throw new CliError(`${service.shown}export answered ${type === '' ? 'no content type' : type}, not an export (application/x-ndjson): is --url the service?`, EXIT.failed)
  }
  return res
}

/**
 * Copies an export's lines into the file. For a continuation (`seen` given: the entities
 * the prefix has), its header, its anchors of entities in the prefix and its end line are
 * left out.
 */
async function copyExport (service: Service, res: Response, writer: LineWriter, bar: cliProgress.SingleBar | undefined, seen?: Set<string>): Promise<Copied> {
  const copied: Copied = { transactions: 0, versions: 0, end: undefined, latest: undefined, heads: false }
  let first = true
  try {
    for await (const { text, complete } of linesOf(res.body as unknown as AsyncIterable<Uint8Array>)) {
      if (!complete || copied.end !== undefined) break
      const kind = lineKind(text)
      if (first) {
        first = false
        if (kind !== 'export') throw new CliError(`${service.shown}export did not answer an export (its first line is not the export's header)`, EXIT.failed)
        if (seen !== undefined) continue
      }
      if (kind === 'anchor' && seen !== undefined) {
        const anchor = JSON.parse(text) as { type: string, id: string }
        const key = `${anchor.type}\u0000${anchor.id}`
        if (seen.has(key)) continue
        seen.add(key)
      } else if (kind === 'transaction') {
        copied.transactions++
        if (seen !== undefined) copied.versions += (JSON.parse(text) as { versions: unknown[] }).versions.length
        bar?.increment()
      } else if (kind === 'checkpoint') {
        const { checkpoint } = JSON.parse(text) as { checkpoint: LatestCheckpoint }
        copied.latest = { sequence: checkpoint.sequence, upToTransactionId: checkpoint.upToTransactionId, root: checkpoint.root }
      } else if (kind === 'head') {
        copied.heads = true
      } else if (kind === 'end') {
        copied.end = JSON.parse(text) as Copied['end']
        if (seen !== undefined) continue
      }
      await writer.line(text)
    }
  } catch (error) {
    await writer.flush()
    if (error instanceof CliError) throw error
    throw lostConnection(service, error, `after ${copied.transactions} transactions: run the same command with --resume to continue`)
  }
  if (copied.end === undefined) {
    await writer.flush()
    throw lostConnection(service, new Error('the export stopped before its end'), `after ${copied.transactions} transactions: run the same command with --resume to continue`)
  }
  return copied
}

/** A whole export into `path` (created or replaced). */
async function fullExport (service: Service, path: string, filter: Filter): Promise<{ transactions: number, versions: number }> {
  const res = await requestExport(service, filter)
  const file = await openFile(path, 'w')
  const bar = exportBar()
  bar?.start(0, 0)
  try {
    const writer = new LineWriter(file, 0)
    const copied = await copyExport(service, res, writer, bar)
    await writer.finish()
    return copied.end!
  } finally {
    bar?.stop()
    await file.close()
  }
}

/** What an interrupted export holds: its header, and its whole transaction lines up to `prefixEnd` (bytes). */
interface PartialExport {
  header: { filtered: boolean, filter: Record<string, unknown> } | undefined
  /** The cursor of its last whole transaction line. */
  cursor: string | undefined
  prefixEnd: number
  prefixLines: number
  transactions: number
  versions: number
  /** The entities the prefix has a version or an anchor of. */
  seen: Set<string>
  complete: boolean
}

/** Reads an export that may have been interrupted; undefined when there is no file. */
async function scanPartial (path: string): Promise<PartialExport | undefined> {
  try {
    const s = await stat(path)
    if (s.isDirectory()) throw usageError(`cannot resume "${path}": it is a directory`)
  } catch (error) {
    if (error instanceof CliError) throw error
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw usageError(`cannot read "${path}": ${reason(error)}`)
  }
  const scan: PartialExport = { header: undefined, cursor: undefined, prefixEnd: 0, prefixLines: 0, transactions: 0, versions: 0, seen: new Set(), complete: false }
  let pending: string[] = [] // anchors after the last transaction line: kept only if one follows
  let offset = 0
  let number = 0
  let rest: Buffer[] = []
  const onLine = (bytes: Buffer, end: number): void => {
    number++
    const text = bytes.toString('utf8')
    const kind = lineKind(text)
    const corrupt = (): CliError => usageError(`cannot resume "${path}": its line ${number} is not a line of an export (export again with --force)`)
    if (number === 1) {
      if (kind !== 'export') throw usageError(`cannot resume "${path}": it is not an export of rewind (its first line is not an export header)`)
      const header = JSON.parse(text) as { filtered?: unknown, filter?: unknown }
      scan.header = { filtered: header.filtered === true, filter: typeof header.filter === 'object' && header.filter !== null ? header.filter as Record<string, unknown> : {} }
      scan.prefixEnd = end
      scan.prefixLines = 1
      return
    }
    if (kind === undefined) throw corrupt()
    if (kind === 'anchor') {
      const anchor = JSON.parse(text) as { type: string, id: string }
      pending.push(`${anchor.type}\u0000${anchor.id}`)
    } else if (kind === 'transaction') {
      const line = JSON.parse(text) as { cursor?: unknown, versions?: Array<{ type: string, id: string }> }
      if (typeof line.cursor !== 'string' || !Array.isArray(line.versions)) throw corrupt()
      for (const key of pending) scan.seen.add(key)
      pending = []
      for (const v of line.versions) scan.seen.add(`${v.type}\u0000${v.id}`)
      scan.cursor = line.cursor
      scan.transactions++
      scan.versions += line.versions.length
      scan.prefixEnd = end
      scan.prefixLines = number
    } else if (kind === 'end') {
      scan.complete = true
    }
  }
  const input = createReadStream(path)
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      rest.push(chunk.subarray(start, nl))
      onLine(Buffer.concat(rest), offset + nl + 1)
      rest = []
      start = nl + 1
    }
    if (start < chunk.length) rest.push(chunk.subarray(start))
    offset += chunk.length
  }
  return scan
}

/** The filter an export was made with (its header's), which its continuation must have too. */
function headerFilter (path: string, header: { filter: Record<string, unknown> }, given: Filter): Filter {
  const kept: Filter = {}
  for (const name of ['type', 'since', 'until'] as const) {
    const value = header.filter[name]
    if (typeof value === 'string') kept[name] = value
  }
  for (const name of ['type', 'since', 'until'] as const) {
    if (given[name] !== undefined && given[name] !== kept[name]) {
      const was = Object.entries(kept).map(([k, v]) => `--${k} ${v}`).join(' ')
      throw usageError(`"${path}" is an export ${was === '' ? 'without filters' : `of ${was}`}: resume it with the same filters (or none)`)
    }
  }
  return kept
}

interface Head { type: string, id: string, hash: string, transactionId: number }

/** Entity names in the checkpoint's leaf order (the database's "C" collation: UTF-8 bytes). */
const byName = (a: Head, b: Head): number =>
  Buffer.compare(Buffer.from(a.type), Buffer.from(b.type)) || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id))

/**
 * The heads of a checkpoint covering transactions up to `upTo`, from an export's lines: each
 * entity's newest version up to it (or, for an entity whose covered versions were pruned, its
 * anchor), in leaf order.
 */
async function headsFromFile (path: string, upTo: number): Promise<Head[]> {
  const heads = new Map<string, Head>()
  const anchors = new Map<string, Head>()
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  for await (const text of lines) {
    const kind = lineKind(text)
    if (kind === 'anchor') {
      const a = JSON.parse(text) as { type: string, id: string, hash: string, transactionId: number | null }
      if (a.transactionId !== null && a.transactionId <= upTo) anchors.set(`${a.type}\u0000${a.id}`, { type: a.type, id: a.id, hash: a.hash, transactionId: a.transactionId })
    } else if (kind === 'transaction') {
      const line = JSON.parse(text) as { versions: Head[] }
      for (const v of line.versions) {
        if (v.transactionId <= upTo) heads.set(`${v.type}\u0000${v.id}`, { type: v.type, id: v.id, hash: v.hash, transactionId: v.transactionId })
      }
    }
  }
  for (const [key, anchor] of anchors) if (!heads.has(key)) heads.set(key, anchor)
  return [...heads.values()].sort(byName)
}

async function publicKeyOf (service: Service): Promise<string> {
  const res = await service.request('GET', 'integrity/public-key', { headers: { accept: 'application/x-pem-file, application/problem+json' } })
  if (!res.ok) throw await service.failure(res)
  return await res.text()
}

/** Verifies the joined file as `rewind verify` does; answers its first problem, if any. */
async function firstProblem (path: string, publicKey: string, lineCount: number): Promise<string | undefined> {
  const { verifyExport } = await import('../integrity/offline-verify.js')
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'checking the joined export [{bar}] {percentage}%', clearOnComplete: true, hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined
  bar?.start(Math.max(2 * lineCount, 1), 0)
  try {
    const lines = () => createInterface({ input: createReadStream(path), crlfDelay: Infinity })
    const report = await verifyExport(lines, publicKey, undefined, (n) => bar?.update(n))
    const p = report.problems[0]
    return p === undefined ? undefined : `${p.type ?? '-'} ${p.id ?? '-'} ${p.transactionId ?? '-'}: ${p.problem}`
  } finally {
    bar?.stop()
  }
}

/** Why a resume could not be joined: the export then starts over. */
class StartOver extends Error {}

/** Continues an interrupted export; answers its totals. */
async function resumeExport (service: Service, path: string, partial: PartialExport & { header: NonNullable<PartialExport['header']>, cursor: string }, filter: Filter): Promise<{ transactions: number, versions: number }> {
  const publicKey = await publicKeyOf(service)
  const res = await requestExport(service, { ...filter, after: partial.cursor })
  const file = await openFile(path, 'r+')
  const bar = exportBar()
  bar?.start(0, partial.transactions)
  let writer: LineWriter
  let totals: { transactions: number, versions: number }
  try {
    await file.truncate(partial.prefixEnd)
    writer = new LineWriter(file, partial.prefixEnd)
    const copied = await copyExport(service, res, writer, bar, partial.seen)
    totals = { transactions: partial.transactions + copied.transactions, versions: partial.versions + copied.versions }
    if (!partial.header.filtered && copied.latest !== undefined && !copied.heads) {
      await writer.flush()
      const heads = await headsFromFile(path, copied.latest.upToTransactionId)
      const root = new MerkleRoot()
      for (const h of heads) root.push(leafHash(h))
      if (root.root().toString('hex') !== copied.latest.root) throw new StartOver(`the heads of checkpoint ${copied.latest.sequence} cannot be worked out from the file (history pruned since it was written?)`)
      for (const h of heads) await writer.line(toJsonText({ kind: 'head', sequence: copied.latest.sequence, ...h }))
    }
    await writer.line(toJsonText({ kind: 'end', ...totals }))
    await writer.finish()
  } finally {
    bar?.stop()
    await file.close()
  }
  const problem = await firstProblem(path, publicKey, partial.prefixLines + writer.lines)
  if (problem !== undefined) throw new StartOver(`the joined file does not verify (${problem})`)
  return totals
}

const summary = (totals: { transactions: number, versions: number }, path: string, resumed?: number): string =>
  `exported ${totals.transactions} transaction${totals.transactions === 1 ? '' : 's'} (${totals.versions} version${totals.versions === 1 ? '' : 's'}) to ${path}` +
  (resumed === undefined ? '' : ` (resumed after ${resumed})`)

async function exportCommand (options: ExportOptions): Promise<void> {
  const given = filterOf(options)
  const service = Service.from(options)
  const path = options.out
  if (options.resume !== true) {
    let exists = false
    try {
      await stat(path)
      exists = true
    } catch { /* a new file */ }
    if (exists && options.force !== true) throw usageError(`"${path}" exists: add --resume to continue that export, or --force to replace it`)
    console.log(summary(await fullExport(service, path, given), path))
    return
  }
  const partial = await scanPartial(path)
  if (partial?.complete === true) {
    console.log(`${path} is a complete export (${partial.transactions} transactions): nothing to resume`)
    return
  }
  const filter = partial?.header === undefined ? given : headerFilter(path, partial.header, given)
  if (partial?.header === undefined || partial.cursor === undefined) {
    if (partial !== undefined) console.error(`rewind export: "${path}" holds no whole transaction yet: exporting from the start`)
    console.log(summary(await fullExport(service, path, filter), path))
    return
  }
  try {
    console.log(summary(await resumeExport(service, path, { ...partial, header: partial.header, cursor: partial.cursor }, filter), path, partial.transactions))
  } catch (error) {
    if (!(error instanceof StartOver)) throw error
    console.error(`rewind export: ${error.message}: exporting from the start`)
    console.log(summary(await fullExport(service, path, filter), path))
  }
}

/** `rewind export`: the tenant's history (GET /export) into a file, resumable. */
export function registerExportCommand (program: Command): void {
  withServiceOptions(program.command('export')
    .description('stream the history (GET /export, NDJSON) into a file, for `rewind verify` or an archive; resumable')
    .requiredOption('--out <file>', 'the file to write (NDJSON)')
    .option('--type <type>', 'only transactions touching this entity type (and only its versions)')
    .option('--since <time>', 'only transactions issued at or after this time (RFC 3339, or a date)')
    .option('--until <time>', 'only transactions issued before this time (RFC 3339, or a date)')
    .addOption(new Option('--resume', 'continue an interrupted export in --out where it stopped (with its filters)').conflicts('force'))
    .option('--force', 'replace --out if it exists'))
    .addHelpText('after', `
An interrupted export (network, Ctrl-C) leaves a file that --resume continues: the
result is the file one uninterrupted export would have written, and it passes
\`rewind verify\`. Without --resume, an existing file is refused unless --force.
${exitCodesHelp('the export is complete in --out')}

Examples:
  export REWIND_URL=https://rewind.example.com REWIND_API_KEY=rwd_…
  rewind export --out history.ndjson
  rewind export --out history.ndjson --resume          # after an interruption
  rewind export --out articles-2026.ndjson --type article --since 2026-01-01 --until 2027-01-01
  curl -s $REWIND_URL/integrity/public-key > public.pem
  rewind verify --export history.ndjson --public-key public.pem`)
    .exitOverride((error) => { process.exit(error.exitCode === 0 ? 0 : EXIT.usage) })
    .action(async (options: ExportOptions) => { await runCommand('export', async () => { await exportCommand(options) }) })
}
