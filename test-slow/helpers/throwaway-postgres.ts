import { execFile, execFileSync } from 'node:child_process'
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

/**
 * A throwaway PostgreSQL cluster for fault tests: initdb in a fresh temp directory (owned
 * by the `postgres` OS user), listening on a free TCP port on 127.0.0.1 only, with its
 * unix socket in that directory. It never touches the shared instance on 5432.
 */
export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string
  port: number
  /** The temp directory (data/ and the server log are inside). */
  dir: string
  /** Starts the server (again) and waits until it accepts connections. */
  start: () => Promise<void>
  /** Stops the server; `fast` (default) ends sessions and shuts down cleanly, `immediate` aborts. */
  stop: (mode?: 'fast' | 'immediate') => Promise<void>
  /** Stops the server when it runs and removes the directory. Safe to call twice. */
  destroy: () => Promise<void>
  /** The end of the server log (for failure messages). */
  logTail: (lines?: number) => string
}

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'
const PG_USER = 'postgres'

/** Runs a PostgreSQL tool as the postgres OS user (runuser when we are root). */
function pgTool (tool: string, args: string[], timeoutMs: number): Promise<{ stdout: string, stderr: string }> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const file = isRoot ? 'runuser' : path.join(BIN, tool)
  const argv = isRoot ? ['-u', PG_USER, '--', path.join(BIN, tool), ...args] : args
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: timeoutMs, killSignal: 'SIGKILL', cwd: '/' }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`${tool} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`))
      } else {
        resolve({ stdout, stderr })
      }
    })
  })
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

function ownerIds (): { uid: number, gid: number } {
  const uid = Number(execFileSync('id', ['-u', PG_USER]).toString().trim())
  const gid = Number(execFileSync('id', ['-g', PG_USER]).toString().trim())
  return { uid, gid }
}

// Clusters still running when this process exits are stopped (best effort, synchronously).
const running = new Set<string>()
let exitHookInstalled = false
function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const dataDir of running) {
      try {
        const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
        const pgCtl = path.join(BIN, 'pg_ctl')
        const args = ['-D', dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']
        if (isRoot) execFileSync('runuser', ['-u', PG_USER, '--', pgCtl, ...args], { stdio: 'ignore', timeout: 15_000 })
        else execFileSync(pgCtl, args, { stdio: 'ignore', timeout: 15_000 })
        rmSync(path.dirname(dataDir), { recursive: true, force: true })
      } catch { /* best effort */ }
    }
  })
}

/** Creates and starts a throwaway cluster. Call destroy() when done (e.g. in t.teardown). */
export async function startThrowawayPostgres (options: {
  settings?: Record<string, string | number>
  /** A hot standby of this cluster (pg_basebackup -R: it streams and replays the primary's WAL), instead of initdb. */
  standbyOf?: ThrowawayPostgres
} = {}): Promise<ThrowawayPostgres> {
  installExitHook()
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-pg-'))
  const dataDir = path.join(dir, 'data')
  const logFile = path.join(dir, 'server.log')
  const { uid, gid } = ownerIds()
  chownSync(dir, uid, gid)
  let destroyed = false
  let port = 0

  try {
    if (options.standbyOf === undefined) {
      await pgTool('initdb', ['-D', dataDir, '-U', PG_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], 120_000)
    } else {
      await pgTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(options.standbyOf.port), '-U', PG_USER, '-D', dataDir, '-R', '-X', 'stream', '--no-sync'], 120_000)
    }
    port = await freePort()
    const settings: Record<string, string | number> = {
      port,
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${dir}'`,
      max_connections: 40,
      shared_buffers: "'32MB'",
      fsync: 'off', // a throwaway: crash safety of the cluster itself is not under test
      synchronous_commit: 'off',
      full_page_writes: 'off',
      logging_collector: 'off',
      ...options.settings
    }
    appendFileSync(path.join(dataDir, 'postgresql.conf'),
      '\n# throwaway-postgres\n' + Object.entries(settings).map(([k, v]) => `${k} = ${String(v)}`).join('\n') + '\n')
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }

  const start = async (): Promise<void> => {
    if (destroyed) throw new Error('throwaway PostgreSQL was destroyed')
    await pgTool('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'], 90_000)
    running.add(dataDir)
  }
  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    await pgTool('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], 90_000)
    running.delete(dataDir)
  }
  const destroy = async (): Promise<void> => {
    if (destroyed) return
    destroyed = true
    if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
      try { await stop('immediate') } catch { /* already down */ }
    }
    running.delete(dataDir)
    rmSync(dir, { recursive: true, force: true })
  }
  const logTail = (lines = 30): string => {
    try { return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n') } catch { return '' }
  }

  try {
    await start()
  } catch (error) {
    await destroy()
    throw error
  }
  return { url: `postgres://${PG_USER}@127.0.0.1:${port}/postgres`, port, dir, start, stop, destroy, logTail }
}
