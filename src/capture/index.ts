import type { FastifyBaseLogger } from 'fastify'
import { randomUUID } from 'node:crypto'
import {
  everyCaptureSource, holdCaptureLease, markCaptureSource, releaseCaptureLease, type StoredSource
} from '../services/capture-sources.js'
import { poller } from '../services/polling.js'
import type { Tenants } from '../services/tenants.js'
import { captureBlocked, captureLagBytes, captureLagSeconds } from '../metrics/index.js'
import { emitHeartbeat, sourceLag } from './source-admin.js'
import { CaptureWorker } from './worker.js'

export { capturedSourceView, deleteCapturedSource, putCapturedSource, type SourceInput, type SourceView } from './sources.js'

export interface CaptureOptions {
  /** How often sources are looked up and leases renewed (ms). */
  pollMs?: number
  /** How long a lease lasts without renewal: another instance takes a source over after it (ms). */
  leaseMs?: number
  /** A heartbeat is emitted on a source idle this long (ms), so that its slot moves on. */
  heartbeatMs?: number
  /** How often the slots of the sources this instance captures are checked (ms), and how much WAL a slot may hold back before that is logged as an error. */
  slotCheckMs?: number
  slotWarnBytes?: number
  log: FastifyBaseLogger
}

interface Running { worker: CaptureWorker, updatedAt: string, restartAt: number, failures: number }

/**
 * Runs capture on this instance: every `pollMs` it reads the sources of every tenant, holds
 * the lease of each source it captures (renewed each time; one instance per source), starts
 * a worker for a source it newly holds, restarts one whose stream failed (with backoff),
 * stops one whose source changed, was deleted or whose lease was lost, and emits a
 * heartbeat on an idle source. A blocked source waits for a new configuration. Every
 * `slotCheckMs` it logs an error for a slot that holds back more than `slotWarnBytes`.
 */
export function startCapture (tenants: Tenants, options: CaptureOptions): { stop: () => Promise<void> } {
  const pollMs = options.pollMs ?? 1000
  const leaseMs = options.leaseMs ?? 10_000
  const heartbeatMs = options.heartbeatMs ?? 10_000
  const slotCheckMs = options.slotCheckMs ?? 15_000
  const slotWarnBytes = options.slotWarnBytes ?? 1024 ** 3
  let slotsCheckedAt = Date.now()
  const holder = randomUUID()
  const running = new Map<string, Running>()
  const waiting = new Map<string, { at: number, failures: number }>()
  let stopping = false
  const id = (s: { tenant: string, name: string }): string => `${s.tenant}\u0000${s.name}`

  const stopWorker = async (key: string, release: boolean): Promise<void> => {
    const entry = running.get(key)
    if (entry === undefined) return
    running.delete(key)
    await entry.worker.stop()
    if (release) await releaseCaptureLease(tenants.db, entry.worker.source.tenant, entry.worker.source.name, holder).catch(() => undefined)
  }

  const startWorker = async (source: StoredSource, failures: number): Promise<void> => {
    const key = id(source)
    const ctx = tenants.context(undefined, source.tenant)
    const worker: CaptureWorker = new CaptureWorker(ctx, source, {
      progress: (_lsn, commitAt) => {
        if (commitAt !== null) captureLagSeconds.set({ source: source.name }, Math.max(0, (Date.now() - Date.parse(commitAt)) / 1000))
      },
      blocked: (reason) => {
        options.log.error({ source: source.name, tenant: source.tenant, reason }, 'capture is blocked on a change it cannot record; fix it and PUT the source again')
        running.delete(key)
        captureBlocked.set({ source: source.name }, 1)
        void markCaptureSource(tenants.db, source.tenant, source.name, 'blocked', reason).catch(() => undefined)
        void releaseCaptureLease(tenants.db, source.tenant, source.name, holder).catch(() => undefined)
      },
      failed: (reason) => {
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6))
        options.log.warn({ source: source.name, tenant: source.tenant, reason, retryInMs: delay }, 'capture stream stopped; reconnecting')
        running.delete(key)
        waiting.set(key, { at: Date.now() + delay, failures: failures + 1 })
        void markCaptureSource(tenants.db, source.tenant, source.name, 'reconnecting', reason).catch(() => undefined)
      }
    })
    running.set(key, { worker, updatedAt: source.updatedAt, restartAt: 0, failures })
    captureBlocked.set({ source: source.name }, 0)
    await worker.start()
    await markCaptureSource(tenants.db, source.tenant, source.name, 'streaming', null)
  }

  /** A slot that holds back much WAL fills the source's disk: said loudly, with what to do. */
  const checkSlots = async (sources: readonly StoredSource[]): Promise<void> => {
    slotsCheckedAt = Date.now()
    for (const source of sources) {
      if (!running.has(id(source))) continue
      const lag = await sourceLag(source.config, source.confirmedLsn).catch(() => undefined)
      if (lag !== undefined) captureLagBytes.set({ source: source.name }, lag.bytes)
      if (lag === undefined || (lag.slot.retainedBytes ?? 0) < slotWarnBytes) continue
      options.log.error({ source: source.name, tenant: source.tenant, slot: source.config.slot, retainedBytes: lag.slot.retainedBytes, lagBytes: lag.bytes },
        'a capture slot holds back more WAL than it should: capture is not keeping up (see GET /capture/sources/{name}); set max_slot_wal_keep_size on the source to cap it')
    }
  }

  const poll = async (): Promise<void> => {
    const sources = await everyCaptureSource(tenants.db)
    if (Date.now() - slotsCheckedAt >= slotCheckMs) await checkSlots(sources)
    const seen = new Set(sources.map(id))
    for (const key of [...running.keys()]) if (!seen.has(key)) await stopWorker(key, true)
    for (const source of sources) {
      if (stopping) return
      const key = id(source)
      const entry = running.get(key)
      if (entry !== undefined && entry.updatedAt !== source.updatedAt && source.state === 'starting') {
        // Reconfigured: started again on the next poll, from the position its last batch left.
        await stopWorker(key, false)
        waiting.delete(key)
        continue
      }
      if (source.state === 'blocked' && !running.has(key)) continue
      const wait = waiting.get(key)
      if (wait !== undefined && wait.at > Date.now()) continue
      if (!await holdCaptureLease(tenants.db, source.tenant, source.name, holder, leaseMs)) {
        if (running.has(key)) await stopWorker(key, false)
        continue
      }
      const current = running.get(key)
      if (current === undefined) {
        waiting.delete(key)
        await startWorker(source, wait?.failures ?? 0).catch((error: unknown) => {
          running.delete(key)
          waiting.set(key, { at: Date.now() + 2000, failures: (wait?.failures ?? 0) + 1 })
          options.log.warn({ err: error, source: source.name }, 'capture could not start')
        })
      } else if (Date.now() - current.worker.lastActivity > heartbeatMs) {
        current.worker.lastActivity = Date.now()
        void emitHeartbeat(source.config).catch((error: unknown) => { options.log.warn({ err: error, source: source.name }, 'capture heartbeat failed') })
      }
    }
  }

  const polling = poller(pollMs, poll, options.log, 'capture poll')
  return {
    stop: async () => {
      stopping = true
      await polling.stop()
      await Promise.allSettled([...running.keys()].map(async (key) => { await stopWorker(key, true) }))
    }
  }
}
