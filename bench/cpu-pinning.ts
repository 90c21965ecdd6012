import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'

/*
 * Keeping two systems of one benchmark off each other's cores (Linux, taskset): on a small
 * machine, a source database and the service that captures from it would otherwise compete
 * for the same CPUs, and the benchmark would measure that contention instead of what
 * capture costs the source (in production they run on different machines).
 */

/** True when there are at least two CPUs to split and taskset is there to split them. */
export function canPin (): boolean {
  if (availableParallelism() < 2) return false
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Every CPU of this machine, in taskset's list form ("0-1"). */
export const allCpus = (): string => `0-${availableParallelism() - 1}`

/** The processes whose parent is `pid`. */
export function childrenOf (pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The command name (2nd field) may hold spaces and parentheses: the fields after its last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) children.push(Number(entry))
    } catch { /* ended meanwhile */ }
  }
  return children
}

/** A process's command line, as one string ('' when it has ended). */
export function commandLine (pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\u0000').join(' ')
  } catch {
    return ''
  }
}

/** The postmaster's process id of the cluster in `dataDir` (the first line of postmaster.pid). */
export const postmasterOf = (dataDir: string): number => Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])

/**
 * Pins a process, its threads and its children (a PostgreSQL cluster: the postmaster and
 * its background processes; backends forked later inherit the postmaster's CPUs) to `cpus`.
 */
export function pinTree (pid: number, cpus: string): void {
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      execFileSync('taskset', ['-a', '-cp', cpus, String(p)], { stdio: 'ignore' })
    } catch { /* ended meanwhile */ }
  }
}
