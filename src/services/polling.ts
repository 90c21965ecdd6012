import type { FastifyBaseLogger } from 'fastify'

/**
 * Runs `poll` every `ms`, never two at once (a run that takes longer skips the ticks it
 * spans); a failed run is logged and the next one comes on time. `stop` ends the ticks and
 * waits for the run in progress; `stopping` tells a run to finish early.
 */
export function poller (ms: number, poll: () => Promise<void>, log: FastifyBaseLogger, what: string): { stop: () => Promise<void>, readonly stopping: boolean } {
  let busy: Promise<void> | undefined
  let stopping = false
  const timer = setInterval(() => {
    if (busy !== undefined || stopping) return
    busy = poll().catch((error: unknown) => { log.warn({ err: error }, `${what} failed`) }).finally(() => { busy = undefined })
  }, ms)
  timer.unref()
  return {
    get stopping () { return stopping },
    stop: async () => {
      stopping = true
      clearInterval(timer)
      await busy
    }
  }
}
