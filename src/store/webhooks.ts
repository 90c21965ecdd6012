import { sql } from 'kysely'
import type { Db, Trx } from './database.js'

export interface StoredWebhook {
  id: string
  tenant: string
  url: string
  types: string[] | null
  description: string | null
  secret: string
  /** The change-stream cursor up to which deliveries were created (null: from when it was created). */
  position: string | null
  disabledAt: string | null
  disabledReason: string | null
  createdAt: string
}

export interface Attempt { at: string, status: number | null, error: string | null, ms: number }

export interface StoredDelivery {
  id: string
  webhookId: string
  transactionId: number
  payload: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: Attempt[]
  nextAttemptAt: string
  createdAt: string
}

const iso = (v: Date | string | null): string | null => v === null ? null : new Date(v).toISOString()

interface WebhookRow { id: string, tenant: string, url: string, types: string[] | null, description: string | null, secret: string, position: string | null, disabled_at: Date | null, disabled_reason: string | null, created_at: Date }
const toWebhook = (r: WebhookRow): StoredWebhook => ({
  id: r.id, tenant: r.tenant, url: r.url, types: r.types, description: r.description, secret: r.secret, position: r.position,
  disabledAt: iso(r.disabled_at), disabledReason: r.disabled_reason, createdAt: iso(r.created_at)!
})

interface DeliveryRow { id: string, webhook_id: string, transaction_id: string, payload: string, status: StoredDelivery['status'], attempts: Attempt[], next_attempt_at: Date, created_at: Date }
const toDelivery = (r: DeliveryRow): StoredDelivery => ({
  id: r.id, webhookId: r.webhook_id, transactionId: Number(r.transaction_id), payload: r.payload, status: r.status, attempts: r.attempts,
  nextAttemptAt: iso(r.next_attempt_at)!, createdAt: iso(r.created_at)!
})

export async function insertWebhook (db: Db, w: Omit<StoredWebhook, 'disabledAt' | 'disabledReason' | 'createdAt'>): Promise<StoredWebhook> {
  const { rows } = await sql<WebhookRow>`
    insert into webhooks (id, tenant, url, types, description, secret, position)
    values (${w.id}, ${w.tenant}, ${w.url}, ${w.types === null ? null : JSON.stringify(w.types)}::jsonb, ${w.description}, ${w.secret}, ${w.position})
    returning *`.execute(db)
  return toWebhook(rows[0]!)
}

export async function listWebhooks (db: Db, tenant: string, after: string | undefined, limit: number): Promise<StoredWebhook[]> {
  const { rows } = await sql<WebhookRow>`select * from webhooks where tenant = ${tenant} ${after === undefined ? sql`` : sql`and id > ${after}`} order by id limit ${limit}`.execute(db)
  return rows.map(toWebhook)
}

export async function getWebhook (db: Db, tenant: string, id: string): Promise<StoredWebhook | undefined> {
  const { rows } = await sql<WebhookRow>`select * from webhooks where tenant = ${tenant} and id = ${id}`.execute(db)
  return rows[0] === undefined ? undefined : toWebhook(rows[0])
}

export async function deleteWebhook (db: Db, tenant: string, id: string): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`delete from webhooks where tenant = ${tenant} and id = ${id} returning id`.execute(db)
  return rows.length === 1
}

/** Every enabled webhook of every tenant. */
export async function enabledWebhooks (db: Db): Promise<StoredWebhook[]> {
  const { rows } = await sql<WebhookRow>`select * from webhooks where disabled_at is null order by tenant, id`.execute(db)
  return rows.map(toWebhook)
}

/** Creates deliveries and moves the webhook's position past them, in the caller's transaction (compare-and-set on the position). */
export async function enqueueDeliveries (
  trx: Trx, webhook: { tenant: string, id: string }, from: string | null, to: string, deliveries: ReadonlyArray<{ id: string, transactionId: number, payload: string }>
): Promise<boolean> {
  const webhookId = webhook.id
  const { rows } = await sql<{ id: string }>`update webhooks set position = ${to}
    where tenant = ${webhook.tenant} and id = ${webhookId} and position is not distinct from ${from} and disabled_at is null returning id`.execute(trx)
  if (rows.length !== 1) return false
  if (deliveries.length > 0) {
    await sql`insert into webhook_deliveries (id, webhook_id, transaction_id, payload)
      select d.id, ${webhookId}, d.t, d.p from jsonb_to_recordset(${JSON.stringify(deliveries.map((d) => ({ id: d.id, t: d.transactionId, p: d.payload })))}::jsonb) as d(id text, t bigint, p text)
      on conflict (id) do nothing`.execute(trx)
  }
  return true
}

/** Pending deliveries whose next attempt is due, oldest first, with their webhooks. */
export async function dueDeliveries (db: Db, limit: number): Promise<Array<{ delivery: StoredDelivery, webhook: StoredWebhook }>> {
  const { rows } = await sql<DeliveryRow & { w: WebhookRow }>`
    select d.*, row_to_json(w) as w from webhook_deliveries d join webhooks w on w.id = d.webhook_id
    where d.status = 'pending' and d.next_attempt_at <= now() and w.disabled_at is null
    order by d.next_attempt_at, d.created_at limit ${limit}`.execute(db)
  return rows.map((r) => ({ delivery: toDelivery(r), webhook: toWebhook({ ...r.w, disabled_at: r.w.disabled_at, created_at: r.w.created_at }) }))
}

/** Records an attempt: delivered, failed for good, or pending until `next`. */
export async function recordAttempt (db: Db, delivery: { webhookId: string, id: string }, attempt: Attempt, status: StoredDelivery['status'], next: Date | null): Promise<void> {
  await sql`update webhook_deliveries set attempts = attempts || ${JSON.stringify([attempt])}::jsonb, status = ${status},
    next_attempt_at = coalesce(${next}::timestamptz, next_attempt_at) where webhook_id = ${delivery.webhookId} and id = ${delivery.id}`.execute(db)
}

export async function disableWebhook (db: Db, webhook: { tenant: string, id: string }, reason: string): Promise<void> {
  await sql`update webhooks set disabled_at = now(), disabled_reason = ${reason}
    where tenant = ${webhook.tenant} and id = ${webhook.id} and disabled_at is null`.execute(db)
}

export async function listDeliveries (db: Db, webhookId: string, after: string | undefined, limit: number): Promise<StoredDelivery[]> {
  const { rows } = await sql<DeliveryRow>`select * from webhook_deliveries where webhook_id = ${webhookId}
    ${after === undefined ? sql`` : sql`and id > ${after}`} order by id limit ${limit}`.execute(db)
  return rows.map(toDelivery)
}

/** Deliveries waiting (pending) and failed for good, over every webhook (for /metrics). */
export async function deliveryBacklog (db: Db): Promise<{ pending: number, failed: number }> {
  const { rows } = await sql<{ pending: string, failed: string }>`select count(*) filter (where status = 'pending') as pending, count(*) filter (where status = 'failed') as failed from webhook_deliveries`.execute(db)
  return { pending: Number(rows[0]?.pending ?? 0), failed: Number(rows[0]?.failed ?? 0) }
}
