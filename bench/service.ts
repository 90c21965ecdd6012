import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AUTHORIZATION, BENCH_KEY } from './config.js'

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
const HOST = '127.0.0.1'

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      server.close(() => { typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')) })
    })
  })
}

export interface JsonReply { status: number, body: unknown }

/** A tiny JSON client on one keep-alive connection to the service (sequential requests), with the bench's admin key unless given another. */
export class HttpClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  constructor (readonly port: number, private readonly authorization = AUTHORIZATION) {}

  async request (method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<JsonReply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return await new Promise((resolve, reject) => {
      const req = http.request({
        host: HOST,
        port: this.port,
        method,
        path,
        agent: this.agent,
        timeout: timeoutMs,
        headers: payload === undefined ? { authorization: this.authorization } : { authorization: this.authorization, 'content-type': 'application/json', 'content-length': payload.length }
      }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = text
          try { parsed = text === '' ? undefined : JSON.parse(text) } catch { /* keep the text */ }
          resolve({ status: res.statusCode ?? 0, body: parsed })
        })
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
      req.on('error', reject)
      req.end(payload)
    })
  }

  /** Times one GET in milliseconds, reading the whole body; returns the status too. */
  async timeGet (path: string): Promise<{ ms: number, status: number }> {
    return await new Promise((resolve, reject) => {
      const start = process.hrtime.bigint()
      const req = http.request({ host: HOST, port: this.port, method: 'GET', path, agent: this.agent, timeout: 60_000, headers: { authorization: this.authorization } }, (res) => {
        res.on('data', () => {})
        res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: res.statusCode ?? 0 }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
      req.on('error', reject)
      req.end()
    })
  }

  close (): void { this.agent.destroy() }
}

export interface RunningService {
  port: number
  url: string
  child: ChildProcess
  stop: () => Promise<void>
}

/** One checkpoint signing key for every service this bench run starts (nothing is written into the checkout's data directory). */
const SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

/**
 * What every benchmarked service runs with (`env` may override it). The background
 * integrity jobs are off: a checkpoint every CHECKPOINT_INTERVAL_MS (60 s by default) would
 * land in some ingest or read runs and not in others, and would make the integrity step's
 * "first checkpoint" not the first; checkpoints are timed on their own by bench/integrity.ts.
 * (A service before integrity ignores these variables.)
 */
const SERVICE_ENV: Record<string, string> = { LOG_LEVEL: 'warn', REWIND_BOOTSTRAP_KEY: BENCH_KEY, SIGNING_KEY, CHECKPOINT_INTERVAL_MS: '0', RETENTION_INTERVAL_MS: '0' }

export interface StartOptions {
  /** The checkout whose src/server.ts runs (default: this one). */
  cwd?: string
  readyTimeoutMs?: number
  /** Node's own options, before the service's script (`--cpu-prof`, …). */
  nodeArgs?: readonly string[]
  /** Give Node the options of the checkout's `start:prod` script first (default: yes). */
  productionFlags?: boolean
}

/**
 * The options Node is given by the `start:prod` script of the checkout in `cwd` (those before
 * the script, such as the young generation's size): a benchmarked service runs as it is
 * deployed, and a baseline checkout as it was.
 */
export function productionNodeFlags (cwd: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
  const words = (pkg.scripts?.['start:prod'] ?? '').split(/\s+/).filter((w) => w !== '')
  return words[0] === 'node' ? words.slice(1).filter((w) => w.startsWith('--')) : []
}

/**
 * Starts the service as a child process (`node [the start:prod script's options] [nodeArgs]
 * --import tsx src/server.ts`, in `cwd`) on a free port of 127.0.0.1 against `databaseUrl`
 * (plus `env`), and waits until /ready answers 200.
 */
export async function startService (databaseUrl: string, env: Record<string, string> = {}, options: StartOptions = {}): Promise<RunningService> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  const port = await freePort()
  const cwd = options.cwd ?? REPO_ROOT
  const child = spawn(process.execPath, [...options.productionFlags === false ? [] : productionNodeFlags(cwd), ...options.nodeArgs ?? [], '--import', 'tsx', 'src/server.ts'], {
    cwd,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST, ...SERVICE_ENV, ...env },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  let exited = false
  // Should this process end without stopping the service (a crash), the service goes too.
  const orphanGuard = (): void => { if (!exited) child.kill('SIGKILL') }
  process.once('exit', orphanGuard)
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; process.off('exit', orphanGuard); resolve() }))
  const stop = async (): Promise<void> => {
    if (exited) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL') }, 15_000)
    await exit
    clearTimeout(timer)
  }
  const client = new HttpClient(port)
  try {
    const deadline = Date.now() + readyTimeoutMs
    for (;;) {
      if (exited) throw new Error(`the service exited during start (code ${String(child.exitCode)})`)
      const reply = await client.request('GET', '/ready', undefined, 2000).catch(() => undefined)
      if (reply?.status === 200) break
      if (Date.now() > deadline) throw new Error(`the service was not ready within ${readyTimeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  } catch (error) {
    await stop()
    throw error
  } finally {
    client.close()
  }
  return { port, url: `http://${HOST}:${port}`, child, stop }
}
