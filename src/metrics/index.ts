import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/*
 * The process's Prometheus metrics (GET /metrics). Process-wide: no label names a tenant,
 * a type or an actor. The other modules count into these; gauges that are cheap to read
 * are read when scraped (see `observe`).
 */
export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'rewind_process_' })

export const httpRequests = new Counter({
  name: 'rewind_http_requests_total', help: 'HTTP requests answered, by route template, method and status code.',
  labelNames: ['method', 'route', 'status'] as const, registers: [registry]
})

export const httpDuration = new Histogram({
  name: 'rewind_http_request_duration_seconds', help: 'Time to answer an HTTP request, by route template and method.',
  labelNames: ['method', 'route'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: [registry]
})

export const transactionsRecorded = new Counter({ name: 'rewind_transactions_recorded_total', help: 'Transactions recorded (posted, reverts and captured).', registers: [registry] })
export const versionsRecorded = new Counter({ name: 'rewind_versions_recorded_total', help: 'Versions recorded.', registers: [registry] })
export const appendBatches = new Histogram({
  name: 'rewind_append_batch_transactions', help: 'Transactions written by each group commit (one statement and one commit; see GROUP_COMMITS).',
  buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry]
})
export const latestHints = new Counter({
  name: 'rewind_latest_hints_total',
  help: 'Writes by what became of this process\'s latest-version hints (LATEST_CACHE_MB): appended on them; refused (another writer had appended) or unconfirmed (they led to an error or to no version), both then written again from a fresh read; or skipped (read first, as most recent hinted appends were refused).',
  labelNames: ['outcome'] as const, registers: [registry]
})
export const appendsWaiting = new Gauge({
  name: 'rewind_append_waiting', help: 'Appends waiting in this process for a group commit (GROUP_COMMITS are under way).', registers: [registry]
})

export const readsServed = new Counter({
  name: 'rewind_history_reads_total', help: 'History reads (GET) by where they were answered from: the read replica (DATABASE_READ_URL) or the primary.',
  labelNames: ['source'] as const, registers: [registry]
})

export const captureLagBytes = new Gauge({
  name: 'rewind_capture_lag_bytes', help: 'WAL written on a capture source since the position recorded (as last checked).', labelNames: ['source'] as const, registers: [registry]
})
export const captureLagSeconds = new Gauge({
  name: 'rewind_capture_lag_seconds', help: 'Seconds between a captured source transaction\'s commit and its recording (the last one).', labelNames: ['source'] as const, registers: [registry]
})
export const captureBlocked = new Gauge({
  name: 'rewind_capture_blocked', help: '1 while a capture source is blocked on a change it cannot record.', labelNames: ['source'] as const, registers: [registry]
})

export const webhookFailures = new Counter({ name: 'rewind_webhook_failed_attempts_total', help: 'Webhook delivery attempts that failed (a non-2xx answer, a timeout, a refused address).', registers: [registry] })

type Reader = () => Record<string, number> | Promise<Record<string, number>>
const readers = new Map<string, Reader>()

/**
 * A gauge read when scraped, from a function of the module that knows the value (one per
 * name: registering a name again replaces its function, as a new app of the process does).
 */
export function observe (name: string, help: string, read: Reader, label: string): void {
  if (!readers.has(name)) {
    const gauge: Gauge = new Gauge({
      name, help, labelNames: [label], registers: [registry],
      async collect () {
        for (const [value, n] of Object.entries(await readers.get(name)!())) gauge.set({ [label]: value }, n)
      }
    })
  }
  readers.set(name, read)
}
