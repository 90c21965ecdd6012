import type { FastifyBaseLogger } from 'fastify'
import { randomUUID } from 'node:crypto'
import { releaseJobLease, takeJobLease } from '../services/leases.js'
import { poller } from '../services/polling.js'
import type { Tenants } from '../services/tenants.js'
import { deliveriesDue, enqueueFor, everyEnabledWebhook, noteAttempt, stopWebhook } from '../services/webhooks.js'
import { webhookFailures } from '../metrics/index.js'
import type { AllowedHosts } from './address.js'
import { deliver } from './deliver.js'

export { parseAllowedHosts, refusedTarget, type AllowedHosts } from './address.js'

export interface WebhookOptions {
  allowedHosts: AllowedHosts
  /** The wait before each retry (ms), in order; after the last a delivery has failed for good and its endpoint is disabled. */
  retryDelaysMs?: readonly number[]
  pollMs?: number
  timeoutMs?: number
  concurrency?: number
  log: FastifyBaseLogger
}

/** The first retry within 5 s (4 s, plus at most a poll), then backing off over about a day. */
export const DEFAULT_RETRY_DELAYS_MS = [4_000, 30_000, 120_000, 600_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000]

const LEASE = 'webhooks'
const LEASE_MS = 30_000

/**
 * Delivers webhooks on one instance at a time (a lease): every `pollMs` it turns the
 * transactions recorded since each endpoint's position into deliveries (the outbox, see
 * enqueueFor), then attempts the deliveries that are due: each endpoint's in cursor order,
 * one at a time, `concurrency` endpoints side by side. A failed
 * attempt is retried after the next delay, without holding back the endpoint's other
 * messages; one that fails after the last is failed for good, and its endpoint is disabled,
 * with the reason (GET /webhooks/{id}). A crash loses nothing: a delivery exists before
 * its first attempt, and an attempt is noted only after it ended (so it may be repeated:
 * at least once).
 */
export function startWebhookDelivery (tenants: Tenants, options: WebhookOptions): { stop: () => Promise<void> } {
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS
  const holder = randomUUID()
  let stopping = false

  const attempt = async (item: Awaited<ReturnType<typeof deliveriesDue>>[number]): Promise<void> => {
    const { delivery, webhook } = item
    const result = await deliver(webhook.url, webhook.secret, delivery.id, delivery.payload, options.allowedHosts, options.timeoutMs ?? 10_000)
    const ok = result.status !== null && result.status >= 200 && result.status < 300
    const attempts = delivery.attempts.length + 1
    const record = { at: new Date().toISOString(), status: result.status, error: result.error, ms: result.ms }
    if (ok) { await noteAttempt(tenants.db, delivery, record, 'delivered', null); return }
    webhookFailures.inc()
    const delay = delays[attempts - 1]
    if (delay !== undefined) { await noteAttempt(tenants.db, delivery, record, 'pending', new Date(Date.now() + delay)); return }
    await noteAttempt(tenants.db, delivery, record, 'failed', null)
    const reason = `delivery ${delivery.id} failed ${attempts} times (last: ${result.status ?? result.error ?? 'no answer'})`
    options.log.error({ webhook: webhook.id, reason }, 'a webhook endpoint is disabled after persistent failure')
    await stopWebhook(tenants.db, webhook, reason)
  }

  // The lease is renewed as the work goes on (an attempt may take the whole timeout): while it
  // holds, no other instance delivers; when it is lost, this one stops before its next attempt.
  let renewedAt = 0
  const holdLease = async (): Promise<boolean> => {
    if (Date.now() - renewedAt < LEASE_MS / 3) return true
    const held = await takeJobLease(tenants.db, LEASE, holder, LEASE_MS)
    if (held) renewedAt = Date.now()
    return held
  }

  const poll = async (): Promise<void> => {
    renewedAt = 0
    if (!await holdLease()) return
    for (const w of await everyEnabledWebhook(tenants.db)) {
      if (stopping) return
      await enqueueFor(tenants.context(undefined, w.tenant), w).catch((error: unknown) => { options.log.warn({ err: error, webhook: w.id }, 'webhook deliveries could not be created') })
    }
    // Each endpoint's due messages in cursor order, one at a time; endpoints side by side.
    const byWebhook = new Map<string, Array<Awaited<ReturnType<typeof deliveriesDue>>[number]>>()
    for (const item of await deliveriesDue(tenants.db, 100)) byWebhook.set(item.webhook.id, [...(byWebhook.get(item.webhook.id) ?? []), item])
    const queues = [...byWebhook.values()].map((items) => items.sort((a, b) => a.delivery.id < b.delivery.id ? -1 : 1))
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, queues.length) }, async () => {
      for (let queue = queues.shift(); queue !== undefined && !stopping; queue = queues.shift()) {
        for (const item of queue) {
          if (stopping || !await holdLease()) return
          await attempt(item).catch((error: unknown) => { options.log.warn({ err: error, delivery: item.delivery.id }, 'a webhook attempt could not be noted') })
        }
      }
    }))
  }

  const polling = poller(options.pollMs ?? 500, poll, options.log, 'webhook delivery poll')
  return {
    stop: async () => {
      stopping = true
      await polling.stop()
      await releaseJobLease(tenants.db, LEASE, holder).catch(() => undefined)
    }
  }
}
