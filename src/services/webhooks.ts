import { randomBytes } from 'node:crypto'
import { notFound } from '../versioning/errors.js'
import { unmarkExactIntegers } from '../versioning/json.js'
import { inTransaction, type Db } from '../store/database.js'
import {
  deleteWebhook, deliveryBacklog, disableWebhook, dueDeliveries, enabledWebhooks, enqueueDeliveries, getWebhook, insertWebhook, listDeliveries,
  listWebhooks, recordAttempt, type Attempt, type StoredDelivery, type StoredWebhook
} from '../store/webhooks.js'
import { transactionsAfter } from '../store/feed.js'
import type { ServiceContext } from './context.js'
import { decodeFeedCursor, encodeFeedCursor, feedPage } from './feed.js'
import { readPage, type Page } from './page.js'

export type { Attempt, StoredDelivery, StoredWebhook } from '../store/webhooks.js'

/** A webhook as answers show it (the secret only once, when it is created). */
export interface WebhookView { id: string, url: string, types: string[] | null, description: string | null, disabled: { at: string, reason: string } | null, createdAt: string }

export const webhookView = (w: StoredWebhook): WebhookView => ({
  id: w.id, url: w.url, types: w.types, description: w.description,
  disabled: w.disabledAt === null ? null : { at: w.disabledAt, reason: w.disabledReason ?? '' }, createdAt: w.createdAt
})

/**
 * Registers a webhook (its URL already checked): it receives every transaction recorded
 * from now on (its position starts at the change stream's end), signed with a new
 * `whsec_` secret, answered this once.
 */
export async function createWebhook (ctx: ServiceContext, input: { url: string, types?: string[] | undefined, description?: string | undefined }): Promise<WebhookView & { secret: string }> {
  const secret = `whsec_${randomBytes(24).toString('base64')}`
  const id = `wh_${randomBytes(9).toString('base64url')}`
  const position = await streamEnd(ctx)
  const stored = await insertWebhook(ctx.db, { id, tenant: ctx.tenant, url: input.url, types: input.types ?? null, description: input.description ?? null, secret, position })
  return { ...webhookView(stored), secret }
}

/** The change stream's cursor after everything delivered so far (null: nothing yet). */
async function streamEnd (ctx: ServiceContext): Promise<string | null> {
  let position: Awaited<ReturnType<typeof transactionsAfter>>[number]['position'] | undefined
  for (;;) {
    const page = await transactionsAfter(ctx.db, ctx.tenant, position, 1000)
    if (page.length === 0) return position === undefined ? null : encodeFeedCursor(position)
    position = page[page.length - 1]!.position
  }
}

export async function webhooks (ctx: ServiceContext, after: string | undefined, limit: number): Promise<Page<WebhookView>> {
  const page = await readPage(limit, async (count) => await listWebhooks(ctx.db, ctx.tenant, after, count))
  return { items: page.items.map(webhookView), next: page.next === undefined ? undefined : webhookView(page.next) }
}

export async function webhook (ctx: ServiceContext, id: string): Promise<StoredWebhook> {
  const found = await getWebhook(ctx.db, ctx.tenant, id)
  if (found === undefined) throw notFound(`no webhook "${id}"`)
  return found
}

export async function removeWebhook (ctx: ServiceContext, id: string): Promise<void> {
  if (!await deleteWebhook(ctx.db, ctx.tenant, id)) throw notFound(`no webhook "${id}"`)
}

export async function webhookDeliveries (ctx: ServiceContext, id: string, after: string | undefined, limit: number): Promise<Page<StoredDelivery>> {
  await webhook(ctx, id)
  return await readPage(limit, async (count) => await listDeliveries(ctx.db, id, after, count))
}

/**
 * Creates the deliveries of the transactions recorded since a webhook's position (those
 * of its types), and moves its position past them, in one database transaction: the
 * outbox. Answers how many were created.
 */
export async function enqueueFor (ctx: ServiceContext, w: StoredWebhook): Promise<number> {
  const after = w.position === null ? undefined : decodeFeedCursor(w.position, 'position')
  const { events, position } = await feedPage(ctx, after, {}, 200)
  if (position === undefined || (after !== undefined && position.xid === after.xid && position.id === after.id)) return 0
  const wanted = events.filter((e) => w.types === null || e.versions.some((v) => w.types!.includes(v.type)))
  const now = new Date().toISOString()
  const deliveries = wanted.map((e) => ({
    id: `msg_${w.id.slice(3)}_${String(e.transaction.id).padStart(16, '0')}`,
    transactionId: e.transaction.id,
    payload: unmarkExactIntegers(JSON.stringify({ type: 'transaction.recorded', timestamp: now, data: { cursor: e.cursor, transaction: e.transaction, versions: e.versions } }))
  }))
  await inTransaction(ctx.db, async (trx) => { await enqueueDeliveries(trx, w, w.position, encodeFeedCursor(position), deliveries) })
  return deliveries.length
}

export const everyEnabledWebhook = async (db: Db): Promise<StoredWebhook[]> => await enabledWebhooks(db)
export const deliveriesDue = async (db: Db, limit: number): Promise<Awaited<ReturnType<typeof dueDeliveries>>> => await dueDeliveries(db, limit)
export const noteAttempt = async (db: Db, delivery: { webhookId: string, id: string }, attempt: Attempt, status: StoredDelivery['status'], next: Date | null): Promise<void> => {
  await recordAttempt(db, delivery, attempt, status, next)
}
export const stopWebhook = async (db: Db, webhook: { tenant: string, id: string }, reason: string): Promise<void> => { await disableWebhook(db, webhook, reason) }
export const webhookBacklog = async (db: Db): Promise<{ pending: number, failed: number }> => await deliveryBacklog(db)
