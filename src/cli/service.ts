import { Option, type Command } from 'commander'

/*
 * What `rewind export` and `rewind import` share: they talk to a running service over
 * HTTP (never to its database), with the same options, the same exit codes and one-line
 * errors. The API key is sent in the Authorization header only: never printed, never in a URL.
 */

/** Exit codes: 0 done; 1 the service answered an error (or the input is wrong); 2 the command was used wrongly; 3 the service cannot be reached. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const

/** Said in one line (`rewind <command>: <message>`); the process exits with `exitCode`. */
export class CliError extends Error {
  constructor (message: string, readonly exitCode: number) {
    super(message)
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT.usage)

/** The help text's paragraph on exit codes and the environment, shared by the commands that talk to the service. */
export const exitCodesHelp = (done: string, failed = 'the service answered an error (its problem\'s detail is printed in one line)'): string => `
Exit codes:
  0  ${done}
  1  ${failed}
  2  the command was used wrongly (an option, a file)
  3  the service cannot be reached (or the connection was lost)

The service is --url (or REWIND_URL, default http://localhost:3000); the API key is
--key or, better (it stays out of the process list and the shell history), REWIND_API_KEY.
The key is never printed.`

export interface ServiceOptions { url: string, key?: string }

/** Adds --url and --key (with their environment variables) to a command. */
export function withServiceOptions (command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'the service\'s base URL').env('REWIND_URL').default('http://localhost:3000'))
    .addOption(new Option('--key <key>', 'an API key of the tenant (better: the environment variable)').env('REWIND_API_KEY'))
}

/** The text of a low-level error's cause (ECONNREFUSED, ENOTFOUND…), for a one-line message. */
function causeOf (error: unknown): string {
  let e: unknown = error
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    const { code, cause } = e as { code?: unknown, cause?: unknown }
    if (typeof code === 'string' && code !== '') return code
    if (cause === undefined) break
    e = cause
  }
  return e instanceof Error ? e.message : String(e)
}

/** A URL as it may be printed: without any user or password it holds. */
const shownUrl = (url: URL): string => {
  const copy = new URL(url.href)
  copy.username = ''
  copy.password = ''
  return copy.href
}

/** One problem+json answer, in one line: its detail, then status and title (`… (404 Not Found)`). */
export async function problemLine (res: Response): Promise<string> {
  const text = await res.text().catch(() => '')
  let detail: string | undefined
  let title: string | undefined
  try {
    const body = JSON.parse(text) as { detail?: unknown, title?: unknown }
    if (typeof body.detail === 'string' && body.detail !== '') detail = body.detail
    if (typeof body.title === 'string' && body.title !== '') title = body.title
  } catch { /* not JSON: a proxy's page, say */ }
  const status = `${res.status}${title !== undefined ? ` ${title}` : res.statusText !== '' ? ` ${res.statusText}` : ''}`
  return (detail === undefined ? `the service answered ${status}` : `${detail} (${status})`).replace(/\s*[\r\n]+\s*/g, ' ')
}

/** A service to talk to: its base URL and the key each request sends. */
export class Service {
  private constructor (readonly base: URL, private readonly key: string | undefined) {}

  /** From --url/--key; a usage error when the URL is not http(s) or (when `needsKey`) no key is given. */
  static from (options: ServiceOptions, needsKey = true): Service {
    let base: URL
    try {
      base = new URL(options.url)
    } catch {
      throw usageError(`--url "${options.url}" is not a URL (e.g. http://localhost:3000)`)
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw usageError(`--url must be an http:// or https:// URL, not ${base.protocol}`)
    if (base.username !== '' || base.password !== '') throw usageError('--url must not hold a user or password: the API key goes in --key or REWIND_API_KEY')
    if (!base.pathname.endsWith('/')) base.pathname += '/'
    const key = options.key?.trim()
    if (needsKey && (key === undefined || key === '')) throw usageError('no API key: set REWIND_API_KEY (or pass --key)')
    return new Service(base, key)
  }

  /** The URL of a path of the service (relative to the base URL, which may hold a path prefix). */
  url (path: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(path.replace(/^\//, ''), this.base)
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value)
    return url
  }

  get shown (): string { return shownUrl(this.base) }

  /** One request; a network failure (refused, no such host, reset) is a CliError with exit code 3. */
  async request (method: string, path: string, init: { query?: Record<string, string | undefined>, body?: string, headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson, application/problem+json', ...init.headers }
    if (this.key !== undefined) headers.authorization = `Bearer ${this.key}`
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await fetch(this.url(path, init.query), { method, headers, body: init.body })
    } catch (error) {
      throw new CliError(`cannot reach the service at ${this.shown} (${causeOf(error)})`, EXIT.unreachable)
    }
  }

  /** The CliError (exit code 1) for an answer that is not the one hoped for. */
  async failure (res: Response, prefix = ''): Promise<CliError> {
    return new CliError(`${prefix}${await problemLine(res)}`, EXIT.failed)
  }
}

/** A network failure while reading an answer's body (the connection was lost). */
export const lostConnection = (service: Service, error: unknown, what: string): CliError =>
  new CliError(`the connection to ${service.shown} was lost (${causeOf(error)}) ${what}`, EXIT.unreachable)

/** Runs a command's work: a CliError is said in one line and sets the exit code; anything else goes on up. */
export async function runCommand (name: string, work: () => Promise<void>): Promise<void> {
  try {
    await work()
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    console.error(`rewind ${name}: ${error.message}`)
    process.exitCode = error.exitCode
  }
}

/** Splits a byte stream into lines (without their `\n`); the last, unterminated piece comes with `complete: false`. */
export async function * linesOf (chunks: AsyncIterable<Uint8Array>): AsyncGenerator<{ text: string, complete: boolean }> {
  const decoder = new TextDecoder('utf-8')
  let rest = ''
  for await (const chunk of chunks) {
    rest += decoder.decode(chunk, { stream: true })
    let start = 0
    for (let end = rest.indexOf('\n'); end !== -1; end = rest.indexOf('\n', start)) {
      yield { text: rest.slice(start, end), complete: true }
      start = end + 1
    }
    rest = rest.slice(start)
  }
  rest += decoder.decode()
  if (rest !== '') yield { text: rest, complete: false }
}

/** The kind of an export line, read from its start (`{"kind":"…"`, as the service writes it) without parsing it all. */
export function lineKind (text: string): string | undefined {
  const match = /^\{"kind":"([a-z_]+)"/.exec(text)
  if (match !== null) return match[1]
  try {
    const value = JSON.parse(text) as { kind?: unknown }
    return typeof value === 'object' && value !== null && typeof value.kind === 'string' ? value.kind : undefined
  } catch {
    return undefined
  }
}
