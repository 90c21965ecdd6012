import type { FastifyBaseLogger } from 'fastify'
import { randomUUID } from 'node:crypto'
import { listTenants } from '../store/api-keys.js'
import { releaseLease, takeLease } from '../store/leases.js'
import { makeCheckpoint } from './checkpoints.js'
import { dropExpiredPartitions } from './partitions.js'
import { runRetention } from './retention.js'
import type { Tenants } from './tenants.js'

/** How long a job's lease lasts at least (a run that takes longer may overlap another instance's). */
const LEASE_MS = 10 * 60 * 1000

export interface JobOptions {
  /** How often each tenant with new history gets a checkpoint (ms; 0: never on its own). */
  checkpointIntervalMs: number
  /** How often retention rules are applied (ms; 0: never on its own). */
  retentionIntervalMs: number
  log: FastifyBaseLogger
}

/**
 * The background jobs of integrity: a signed checkpoint per tenant with new history, and
 * retention (partitions of versions dropped whole where they can be, then entity by entity).
 * A run takes the job's lease in the database first, so that with several instances one
 * runs it at a time (a crashed holder's lease runs out after LEASE_MS); a run never
 * overlaps the previous one of this process.
 */
export function startIntegrityJobs (tenants: Tenants, options: JobOptions): { stop: () => Promise<void> } {
  const running = new Set<Promise<void>>()
  const holder = randomUUID()
  const timers: NodeJS.Timeout[] = []
  const every = (ms: number, name: string, job: (tenant: string) => Promise<unknown>, first?: () => Promise<unknown>): void => {
    if (ms <= 0) return
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      const run = (async () => {
        if (!await takeLease(tenants.db, name, holder, Math.max(LEASE_MS, 2 * ms))) return
        try {
          await first?.()
          for (const tenant of await listTenants(tenants.db)) await job(tenant)
        } finally {
          await releaseLease(tenants.db, name, holder)
        }
      })().catch((err: unknown) => { options.log.warn({ err }, `${name} failed; it runs again in ${ms} ms`) })
        .finally(() => { busy = false; running.delete(run) })
      running.add(run)
    }, ms)
    timer.unref()
    timers.push(timer)
  }
  every(options.checkpointIntervalMs, 'checkpoint', async (tenant) => {
    const made = await makeCheckpoint(tenants.db, tenant, tenants.signer)
    if (made !== undefined) options.log.debug({ tenant, sequence: made.sequence, upTo: made.upToTransactionId }, 'signed a checkpoint')
  })
  // Whole partitions first (process-wide: a partition holds every tenant's versions), then entity by entity.
  every(options.retentionIntervalMs, 'retention', async (tenant) => {
    const report = await runRetention(tenants.context(undefined, tenant))
    if (report.versions > 0) options.log.info({ tenant, versions: report.versions }, 'pruned versions under retention rules')
  }, async () => {
    const dropped = await dropExpiredPartitions(tenants.db, new Date(), async (tenant) => await makeCheckpoint(tenants.db, tenant, tenants.signer, true))
    if (dropped.partitions.length > 0) {
      options.log.info({ partitions: dropped.partitions, versions: dropped.versions, tenants: Object.fromEntries(dropped.tenants) }, 'dropped history partitions that retention let go whole')
    }
  })
  return {
    stop: async () => {
      for (const timer of timers) clearInterval(timer)
      await Promise.allSettled([...running])
    }
  }
}
