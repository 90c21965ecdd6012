import { createReadStream, readFileSync, statSync } from 'node:fs'
import { createPublicKey } from 'node:crypto'
import { createInterface } from 'node:readline'
import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import type { Checkpoint } from '../integrity/checkpoint.js'
import { verifyExport, type ExportLines } from '../integrity/offline-verify.js'
import type { VerifyReport } from '../integrity/verify.js'
import { isJsonObject, parseJson, toJsonText } from '../versioning/json.js'

/** Exit codes: 0 verified, 1 problems found, 2 the command was used wrongly (an option, a file). */
const PROBLEMS = 1
const USAGE = 2

/** A usage error: said in one line, exit code 2. */
class UsageError extends Error {}

function readText (path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read the ${what} "${path}": ${reason(error)}`)
  }
}

const reason = (error: unknown): string => {
  const code = (error as { code?: string }).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'it is a directory'
  if (code === 'EACCES') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

function readPublicKey (path: string): string {
  const pem = readText(path, 'public key file')
  try {
    createPublicKey(pem)
  } catch {
    throw new UsageError(`"${path}" is not a public key (SPKI PEM, as GET /integrity/public-key answers)`)
  }
  return pem
}

function readCheckpoint (path: string): Checkpoint {
  const text = readText(path, 'checkpoint file')
  let value: unknown
  try {
    value = parseJson(text)
  } catch {
    throw new UsageError(`"${path}" is not JSON`)
  }
  if (!isJsonObject(value) || typeof value.sequence !== 'number' || typeof value.upToTransactionId !== 'number' || typeof value.signature !== 'string') {
    throw new UsageError(`"${path}" is not a checkpoint (one item of GET /integrity/checkpoints)`)
  }
  return value as unknown as Checkpoint
}

/** The export's size in bytes (for the progress bar); a usage error when it cannot be read. */
function exportSize (path: string): number {
  try {
    const stat = statSync(path)
    if (stat.isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' })
    return stat.size
  } catch (error) {
    throw new UsageError(`cannot read the export "${path}": ${reason(error)}`)
  }
}

/** The export's lines, read anew at each call; `onBytes` is told how far into the file each line ends (about). */
const fileLines = (path: string, onBytes: (pass: number, bytes: number) => void): ExportLines => {
  let passes = 0
  return () => (async function * () {
    const pass = passes++
    const input = createReadStream(path)
    const lines = createInterface({ input, crlfDelay: Infinity })
    try {
      for await (const line of lines) {
        onBytes(pass, input.bytesRead)
        yield line
      }
    } finally {
      lines.close()
      input.destroy()
    }
  })()
}

const counted = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`
const shown = (value: string | number | null): string => value === null ? '-' : String(value)

/** The report for a person: a summary line, then each problem as `type id transactionId: problem`. */
export function reportText (report: VerifyReport): string {
  const checked = `${counted(report.versionsChecked, 'version')} and ${counted(report.checkpointsChecked, 'checkpoint')}`
  const count = report.problems.length
  const summary = report.ok
    ? `ok: ${checked} verified`
    : `${count >= 100 ? `at least ${count} problems (the first ${count} listed)` : counted(count, 'problem')} in ${checked}`
  return [summary, ...report.problems.map((p) => `${shown(p.type)} ${shown(p.id)} ${shown(p.transactionId)}: ${p.problem}`)].join('\n')
}

interface VerifyOptions { export: string, publicKey: string, checkpoint?: string, json?: boolean }

async function verifyCommand (options: VerifyOptions): Promise<void> {
  const size = exportSize(options.export)
  const publicKey = readPublicKey(options.publicKey)
  const kept = options.checkpoint === undefined ? undefined : readCheckpoint(options.checkpoint)
  // The bar (two passes over the file) only where someone watches it: never into a pipe or a log.
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'verifying [{bar}] {percentage}% | {eta_formatted} left', clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined
  bar?.start(Math.max(2 * size, 1), 0)
  let report: VerifyReport
  try {
    report = await verifyExport(fileLines(options.export, (pass, bytes) => bar?.update(pass * size + bytes)), publicKey, kept)
  } finally {
    bar?.stop()
  }
  console.log(options.json === true ? toJsonText(report) : reportText(report))
  if (!report.ok) process.exitCode = PROBLEMS
}

/** `rewind verify`: checks an export (GET /export) offline, with the service's public key alone. */
export function registerVerifyCommand (program: Command): void {
  program.command('verify')
    .description('verify an export (GET /export) offline: every value, hash chain and signed checkpoint; exits 1 on any problem')
    .requiredOption('--export <file>', 'the export (NDJSON of GET /export)')
    .requiredOption('--public-key <file>', 'the service\'s public key (PEM of GET /integrity/public-key)')
    .option('--checkpoint <file>', 'a checkpoint you kept (JSON, from GET /integrity/checkpoints): the history must still hold it unchanged')
    .option('--json', 'print the report as JSON (as POST /integrity/verify answers it)')
    .exitOverride((error) => { process.exit(error.exitCode === 0 ? 0 : USAGE) })
    .action(async (options: VerifyOptions) => {
      try {
        await verifyCommand(options)
      } catch (error) {
        if (!(error instanceof UsageError)) throw error
        console.error(`rewind verify: ${error.message}`)
        process.exitCode = USAGE
      }
    })
}
