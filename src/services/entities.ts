import { listEntities, type EntitySummary } from '../store/versions.js'
import type { ServiceContext } from './context.js'
import { definitionsWith } from './history.js'
import { readPage, type Page } from './page.js'

/**
 * GET /entities/{type}: the entities of a type that have history, deleted ones included,
 * by key, each with its latest version's operation, transaction and time. A viewer token
 * limited to one entity lists that one.
 */
export async function entitiesOfType (ctx: ServiceContext, type: string, after: string | undefined, limit: number): Promise<Page<EntitySummary>> {
  await definitionsWith(ctx, type)
  return await readPage(limit, async (count) => await listEntities(ctx.db, ctx.tenant, type, { after, limit: count, key: ctx.view?.id }))
}
