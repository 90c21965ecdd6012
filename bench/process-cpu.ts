import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

/*
 * CPU time from Linux's /proc, to split a window of load between the processes that did the
 * work: the service (all its threads), the PostgreSQL backends serving it, this process (the
 * load generator), and what is left of the machine's busy time (everything else running).
 */

const TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User + system CPU of a process, all its threads (µs, to the kernel's clock tick); 0 when it has ended. */
export function processCpuMicros (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (2nd field) may hold spaces: the fields after its last ')'; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / TICKS_PER_SECOND
  } catch {
    return 0
  }
}

/**
 * A thread's time on a CPU and waiting for one (runnable, not running), in µs, from the
 * scheduler's own nanosecond counters (/proc/<pid>/task/<tid>/schedstat; the main thread's
 * tid is the pid); zeros when it has ended.
 */
export function threadSchedule (pid: number, tid = pid): { cpuMicros: number, waitMicros: number } {
  try {
    const [cpu = '0', wait = '0'] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ')
    return { cpuMicros: Number(cpu) / 1000, waitMicros: Number(wait) / 1000 }
  } catch {
    return { cpuMicros: 0, waitMicros: 0 }
  }
}

/**
 * The machine's busy CPU time so far, all cores (µs): everything but idle and I/O wait.
 * Steal (a virtual machine's cores, ready to run, given to others by the hypervisor) counts as busy.
 */
export function machineBusyMicros (): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
  return (user + nice + system + irq + softirq + steal) * 1e6 / TICKS_PER_SECOND
}

/** This process's CPU so far (µs). */
export const ownCpuMicros = (): number => { const u = process.cpuUsage(); return u.user + u.system }

export interface CpuWindow {
  seconds: number
  cores: number
  /** 1-minute load average at the start and the end of the window. */
  loadAverage: { start: number, end: number }
  /** CPU µs in the window, by who used it. */
  serviceMicros: number
  /** Of it, its main thread's (JavaScript, the event loop); the rest is V8's and libuv's helper threads (and the profiler's). */
  serviceMainThreadMicros: number
  /** How long the main thread was ready to run but waited for a core. */
  serviceMainThreadWaitMicros: number
  postgresBackendsMicros: number
  loadGeneratorMicros: number
  machineBusyMicros: number
}

/** Starts measuring the CPU of the service (`servicePid`) and of `backendPids`; `stop` answers the window's figures. */
export function startCpuWindow (servicePid: number, backendPids: readonly number[]): { stop: () => CpuWindow } {
  const t0 = performance.now()
  const load0 = os.loadavg()[0] ?? 0
  const service0 = processCpuMicros(servicePid)
  const main0 = threadSchedule(servicePid)
  const backends0 = backendPids.map(processCpuMicros)
  const own0 = ownCpuMicros()
  const machine0 = machineBusyMicros()
  return {
    stop: () => ({
      seconds: (performance.now() - t0) / 1000,
      cores: os.cpus().length,
      loadAverage: { start: load0, end: os.loadavg()[0] ?? 0 },
      serviceMicros: processCpuMicros(servicePid) - service0,
      serviceMainThreadMicros: threadSchedule(servicePid).cpuMicros - main0.cpuMicros,
      serviceMainThreadWaitMicros: threadSchedule(servicePid).waitMicros - main0.waitMicros,
      postgresBackendsMicros: backendPids.reduce((sum, pid, i) => sum + Math.max(0, processCpuMicros(pid) - backends0[i]!), 0),
      loadGeneratorMicros: ownCpuMicros() - own0,
      machineBusyMicros: machineBusyMicros() - machine0
    })
  }
}
