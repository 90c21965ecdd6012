import { setTimeout as sleep } from 'node:timers/promises'
import { invalid } from '../versioning/errors.js'
import type { Version } from '../versioning/version.js'
import { transactionsAfter, type FeedPosition } from '../store/feed.js'
import type { Transaction } from '../store/rows.js'
import { versionsOfTransactions } from '../store/versions.js'
import { definitionsOf, type ServiceContext } from './context.js'
import { presented } from './present.js'

/** One recorded transaction in the change stream, with its versions and the cursor after it. */
export interface FeedEvent { cursor: string, transaction: Transaction, versions: Version[] }

export interface FeedFilter { type?: string | undefined, actor?: string | undefined }

/** A stream cursor as clients hold it (opaque): the writer's xid and the transaction id. */
export const encodeFeedCursor = (p: FeedPosition): string => Buffer.from(`${p.xid}.${p.id}`).toString('base64url')

export function decodeFeedCursor (cursor: string, where: string): FeedPosition {
  const match = /^(\d{1,20})\.(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  // An xid8 is at most 2^64 − 1, a transaction id a safe integer.
  if (match === null || BigInt(match[1]!) > 0xFFFFFFFFFFFFFFFFn || !Number.isSafeInteger(Number(match[2]))) {
    throw invalid(`${where}: "${cursor}" is not a stream cursor (use an event id the stream sent)`)
  }
  return { xid: BigInt(match[1]!).toString(), id: Number(match[2]) }
}

/**
 * The next transactions of the tenant's change stream after `after` (see transactionsAfter:
 * in the order their writers' database transactions ended, none skipped, none twice),
 * those that match `filter` with their versions as answers show them. `position` is where
 * the next page starts (past the transactions the filter left out too).
 */
export async function feedPage (
  ctx: ServiceContext, after: FeedPosition | undefined, filter: FeedFilter, limit = 100
): Promise<{ events: FeedEvent[], position: FeedPosition | undefined }> {
  const found = await transactionsAfter(ctx.db, ctx.tenant, after, limit)
  const position = found.at(-1)?.position ?? after
  const wanted = found.filter((f) => filter.actor === undefined || f.transaction.actor === filter.actor)
  const [versions, definitions] = await Promise.all([versionsOfTransactions(ctx.db, ctx.tenant, wanted.map((f) => f.transaction.id)), definitionsOf(ctx)])
  const events: FeedEvent[] = []
  for (const f of wanted) {
    const list = versions.get(f.transaction.id) ?? []
    if (filter.type !== undefined && !list.some((v) => v.type === filter.type)) continue
    events.push({ cursor: encodeFeedCursor(f.position), transaction: f.transaction, versions: list.map((v) => presented(definitions, v)) })
  }
  return { events, position }
}

/**
 * Follows the change stream from `after` until `signal` aborts: yields each event, and
 * `'idle'` after each empty poll (every `pollMs`), so the caller can keep its connection alive.
 */
export async function * followFeed (
  ctx: ServiceContext, after: FeedPosition | undefined, filter: FeedFilter, signal: AbortSignal, pollMs = 250
): AsyncGenerator<FeedEvent | 'idle'> {
  let position = after
  while (!signal.aborted) {
    const page = await feedPage(ctx, position, filter)
    const moved = page.position !== position
    position = page.position
    for (const event of page.events) {
      if (signal.aborted) return
      yield event
    }
    if (!moved) {
      yield 'idle'
      await sleep(pollMs, undefined, { signal }).catch(() => undefined)
    }
  }
}
