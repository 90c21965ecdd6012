import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
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

/** A tiny JSON client on one keep-alive connection to the service (sequential requests). */
export class HttpClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  constructor (readonly port: number) {}

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
        headers: payload === undefined ? { authorization: AUTHORIZATION } : { authorization: AUTHORIZATION, 'content-type': 'application/json', 'content-length': payload.length }
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
      const req = http.request({ host: HOST, port: this.port, method: 'GET', path, agent: this.agent, timeout: 60_000, headers: { authorization: AUTHORIZATION } }, (res) => {
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

/**
 * Starts the service as a child process (`node --import tsx src/server.ts`) on a free
 * port of 127.0.0.1 against `databaseUrl` (plus `env`), and waits until /ready answers 200.
 */
export async function startService (databaseUrl: string, env: Record<string, string> = {}, readyTimeoutMs = 60_000): Promise<RunningService> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST, LOG_LEVEL: 'warn', REWIND_BOOTSTRAP_KEY: BENCH_KEY, ...env },
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
