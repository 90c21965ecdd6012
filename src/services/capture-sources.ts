import { notFound } from '../versioning/errors.js'
import {
  allSources, deleteSource, getSource, listSources, saveSource, setSourceState,
  type SourceConfig, type SourceState, type StoredSource
} from '../store/capture-sources.js'
import type { Db } from '../store/database.js'
import { getEntityType } from '../store/entity-types.js'
import { releaseLease, takeLease } from '../store/leases.js'
import type { ServiceContext } from './context.js'
import { putEntityType } from './entity-types.js'
import { readPage, type Page } from './page.js'

export type { SourceConfig, SourceState, StoredSource, TableMapping } from '../store/capture-sources.js'

/**
 * Keeps a capture source's configuration (its position too, while the slot stays the same)
 * and registers the entity types its tables map to that are missing, with the tables' id
 * fields (`idFields` of each table, found by the caller).
 */
export async function saveCaptureSource (
  ctx: ServiceContext, name: string, config: SourceConfig, idFields: ReadonlyMap<string, string[]>, startLsn: string | null
): Promise<{ source: StoredSource, created: boolean }> {
  for (const [table, mapping] of Object.entries(config.tables)) {
    if (await getEntityType(ctx.db, ctx.tenant, mapping.type) !== undefined) continue
    await putEntityType(ctx, mapping.type, { idFields: mapping.idFields ?? idFields.get(table), exclude: mapping.exclude })
  }
  return await saveSource(ctx.db, ctx.tenant, name, config, startLsn)
}

export async function captureSource (ctx: ServiceContext, name: string): Promise<StoredSource> {
  const source = await getSource(ctx.db, ctx.tenant, name)
  if (source === undefined) throw notFound(`no capture source "${name}"`)
  return source
}

export async function captureSources (ctx: ServiceContext, after: string | undefined, limit: number): Promise<Page<StoredSource>> {
  return await readPage(limit, async (count) => await listSources(ctx.db, ctx.tenant, after, count))
}

export async function removeCaptureSource (ctx: ServiceContext, name: string): Promise<StoredSource> {
  const source = await deleteSource(ctx.db, ctx.tenant, name)
  if (source === undefined) throw notFound(`no capture source "${name}"`)
  return source
}

/** Every tenant's sources (for the capture workers). */
export async function everyCaptureSource (db: Db): Promise<StoredSource[]> {
  return await allSources(db)
}

export async function markCaptureSource (db: Db, tenant: string, name: string, state: SourceState, reason: string | null): Promise<void> {
  await setSourceState(db, tenant, name, state, reason)
}

const leaseName = (tenant: string, name: string): string => `capture:${tenant}:${name}`

/** Takes or renews this instance's lease on capturing a source (one instance at a time). */
export async function holdCaptureLease (db: Db, tenant: string, name: string, holder: string, ms: number): Promise<boolean> {
  return await takeLease(db, leaseName(tenant, name), holder, ms)
}

export async function releaseCaptureLease (db: Db, tenant: string, name: string, holder: string): Promise<void> {
  await releaseLease(db, leaseName(tenant, name), holder)
}
