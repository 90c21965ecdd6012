import { execFile, execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONNECTIONS } from './config.js'

/*
 * wrk (Debian's `wrk`, a C HTTP load generator: one thread, an epoll loop) drives the service the
 * way pgbench, the C client, drives PostgreSQL in the ceiling comparison. autocannon runs in the
 * bench's own Node process and took about 475 µs of CPU per 10-change transaction in the profile
 * (docs/profile.md): on two cores, CPU the service and PostgreSQL then do not get. The bodies are
 * made before the run (a file, one per line) and each is sent once, in order.
 */

const SCRIPT = fileURLToPath(new URL('wrk-post.lua', import.meta.url))


let available: boolean | undefined

/** Whether `wrk` is installed (`apt-get install wrk`); BENCH_HTTP_CLIENT=autocannon turns it off. */
export function wrkAvailable (): boolean {
  if (process.env.BENCH_HTTP_CLIENT === 'autocannon') return false
  if (available === undefined) {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' })
      available = true
    } catch (error) {
      // wrk --version prints its usage and exits 1: it is there when it ran at all.
      available = (error as { code?: string }).code !== 'ENOENT'
    }
  }
  return available
}

export interface WrkResult {
  seconds: number
  /** Answers 201 Created. */
  created: number
  /** Answers other than 201. */
  other: number
  /** Connect, read and write errors. */
  errors: number
  timeouts: number
  latencyP50Ms: number
  latencyP99Ms: number
}

/**
 * POSTs `seconds` of requests to `url` + `path` on `connections` keep-alive connections, each body a
 * fresh one from `nextBody`, made beforehand: `maxPerSecond` per second, far above what the service
 * answers (a run that sends them all is an error).
 */
export async function postWithWrk (
  url: string, path: string, authorization: string, seconds: number, maxPerSecond: number, nextBody: () => string,
  connections = CONNECTIONS
): Promise<WrkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'rewind-bench-wrk-'))
  try {
    const file = join(dir, 'bodies.ndjson')
    const bodies: string[] = []
    for (let i = 0; i < Math.ceil(seconds * maxPerSecond); i++) bodies.push(nextBody())
    await writeFile(file, bodies.join('\n') + '\n')
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '30s', '-s', SCRIPT, url, '--', path, authorization, file],
        { maxBuffer: 1 << 20, timeout: (seconds + 60) * 1000 }, (error, out, err) => {
          error === null ? resolve(out) : reject(new Error(`wrk: ${error.message}\n${err}`))
        })
    })
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '))
    if (line === undefined) throw new Error(`wrk printed no result:\n${stdout}`)
    const r = JSON.parse(line.slice('WRK_RESULT '.length)) as {
      durationMicros: number, created: number, other: number, exhausted: number, errors: number, timeouts: number, p50Micros: number, p99Micros: number
    }
    if (r.exhausted !== 0) throw new Error(`wrk sent all ${bodies.length} bodies made for ${seconds} s: raise maxPerSecond`)
    return {
      seconds: r.durationMicros / 1e6,
      created: r.created,
      other: r.other,
      errors: r.errors,
      timeouts: r.timeouts,
      latencyP50Ms: r.p50Micros / 1000,
      latencyP99Ms: r.p99Micros / 1000
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
