import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { httpRequest, TEST_ADMIN_KEY } from './http.js'
import { freePort } from './throwaway-postgres.js'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The real service (`node --import tsx src/server.ts`) as a child process on 127.0.0.1. */
export interface ServiceProcess {
  baseUrl: string
  port: number
  child: ChildProcess
  /** Settles when the process has exited. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  isRunning: () => boolean
  /** The last 64 KiB of its stdout and stderr. */
  output: () => string
  /** SIGKILL when it still runs; removes its temp data dir. */
  dispose: () => Promise<void>
}

export interface ServiceOptions {
  databaseUrl: string
  port?: number
  logLevel?: string
  env?: Record<string, string>
  startTimeoutMs?: number
}

export async function startService (options: ServiceOptions): Promise<ServiceProcess> {
  const port = options.port ?? await freePort()
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rewind-svc-'))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    NODE_ENV: 'production',
    DATABASE_URL: options.databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: options.logLevel ?? 'warn',
    DATA_DIR: dataDir,
    REWIND_BOOTSTRAP_KEY: TEST_ADMIN_KEY,
    ...options.env
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const keep = (chunk: Buffer): void => { out = (out + chunk.toString('utf8')).slice(-65_536) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let running = true
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>((resolve) => {
    child.once('exit', (code, signal) => { running = false; resolve({ code, signal, at: Date.now() }) })
  })
  const baseUrl = `http://127.0.0.1:${port}`
  const dispose = async (): Promise<void> => {
    if (running) {
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  for (;;) {
    if (!running) {
      await dispose()
      throw new Error(`the service exited at start\n${out}`)
    }
    const ok = await httpRequest(baseUrl, 'GET', '/health', undefined, { timeoutMs: 2000 }).then((a) => a.status === 200, () => false)
    if (ok) break
    if (Date.now() > deadline) {
      await dispose()
      throw new Error(`the service did not answer /health within ${options.startTimeoutMs ?? 60_000} ms\n${out}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { baseUrl, port, child, exited, isRunning: () => running, output: () => out, dispose }
}
