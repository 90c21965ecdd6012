import type { FastifyBaseLogger } from 'fastify'
import { listTenants } from '../store/api-keys.js'
import { makeCheckpoint } from './checkpoints.js'
import { runRetention } from './retention.js'
import type { Tenants } from './tenants.js'

export interface JobOptions {
  /** How often each tenant with new history gets a checkpoint (ms; 0: never on its own). */
  checkpointIntervalMs: number
  /** How often retention rules are applied (ms; 0: never on its own). */
  retentionIntervalMs: number
  log: FastifyBaseLogger
}

/**
 * The background jobs of integrity: a signed checkpoint per tenant with new history, and
 * retention. Each run of a tenant's checkpoint takes a lock that another instance's run
 * skips on, so with several instances each tenant's checkpoint is made once; a pruning
 * run locks each entity it prunes. A run never overlaps the previous one of this process.
 */
export function startIntegrityJobs (tenants: Tenants, options: JobOptions): { stop: () => Promise<void> } {
  const running = new Set<Promise<void>>()
  const timers: NodeJS.Timeout[] = []
  const every = (ms: number, name: string, job: (tenant: string) => Promise<unknown>): void => {
    if (ms <= 0) return
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      const run = (async () => {
        for (const tenant of await listTenants(tenants.db)) await job(tenant)
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
  every(options.retentionIntervalMs, 'retention', async (tenant) => {
    const report = await runRetention(tenants.context(undefined, tenant))
    if (report.versions > 0) options.log.info({ tenant, versions: report.versions }, 'pruned versions under retention rules')
  })
  return {
    stop: async () => {
      for (const timer of timers) clearInterval(timer)
      await Promise.allSettled([...running])
    }
  }
}
