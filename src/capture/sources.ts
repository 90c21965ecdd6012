import { invalid } from '../versioning/errors.js'
import type { ServiceContext } from '../services/context.js'
import {
  captureSource, removeCaptureSource, saveCaptureSource, type SourceConfig, type SourceState, type StoredSource, type TableMapping
} from '../services/capture-sources.js'
import { lsnDistance } from './lsn.js'
import { dropSlot, maskedConnection, prepareSource, sourceLag, splitTable, type SourceLag } from './source-admin.js'

/** PUT /capture/sources/{name}. */
export interface SourceInput {
  connection: string
  tables: Record<string, TableMapping>
  publication?: string | undefined
  slot?: string | undefined
}

/** A source as answers show it: the connection without its password, position, state and lag. */
export interface SourceView {
  name: string
  connection: string
  tables: Record<string, TableMapping>
  publication: string
  slot: string
  state: SourceState
  reason: string | null
  confirmedLsn: string | null
  lastCommitAt: string | null
  lag: { bytes: number | null, seconds: number | null }
  slotStatus?: SourceLag['slot']
  createdAt: string
  updatedAt: string
}

/** `rewind_<tenant>_<name>`, in the characters slot and publication names allow. */
const defaultName = (tenant: string, name: string): string => `rewind_${tenant}_${name}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63)

/**
 * Configures a source: prepares it (publication, slot; see prepareSource), registers the
 * missing entity types, keeps the configuration. Answers once the slot exists: every
 * source transaction that commits from then on is captured.
 */
export async function putCapturedSource (ctx: ServiceContext, name: string, input: SourceInput): Promise<{ created: boolean, view: SourceView }> {
  const tables: Record<string, TableMapping> = {}
  for (const [table, mapping] of Object.entries(input.tables)) {
    const [schema, relation] = splitTable(table)
    if (schema === '' || relation === '') throw invalid(`tables.${table}: name a table as schema.table`)
    Object.defineProperty(tables, `${schema}.${relation}`, { value: mapping, enumerable: true, writable: true, configurable: true })
  }
  if (Object.keys(tables).length === 0) throw invalid('tables: map at least one table')
  const config: SourceConfig = {
    connection: input.connection,
    tables,
    publication: input.publication ?? defaultName(ctx.tenant, name),
    slot: input.slot ?? defaultName(ctx.tenant, name)
  }
  const { idFields, createdAt } = await prepareSource(config)
  // Each table's key: the mapping's idFields, else its primary key as found now (a row's
  // replica identity names every column under REPLICA IDENTITY FULL: it cannot say).
  for (const [table, mapping] of Object.entries(config.tables)) mapping.idFields ??= idFields.get(table)
  const { source, created } = await saveCaptureSource(ctx, name, config, idFields, createdAt)
  return { created, view: viewOf(source) }
}

function viewOf (source: StoredSource, lag?: SourceLag): SourceView {
  const behind = lag?.bytes ?? null
  return {
    name: source.name,
    connection: maskedConnection(source.config.connection),
    tables: source.config.tables,
    publication: source.config.publication,
    slot: source.config.slot,
    state: source.state,
    reason: source.reason,
    confirmedLsn: source.confirmedLsn,
    lastCommitAt: source.lastCommitAt,
    lag: {
      bytes: behind,
      // Behind by some bytes: as far behind in time as the last recorded source commit (0 when caught up).
      seconds: behind === null ? null : behind === 0 || source.lastCommitAt === null ? 0 : Math.max(0, (Date.now() - Date.parse(source.lastCommitAt)) / 1000)
    },
    ...(lag === undefined ? {} : { slotStatus: lag.slot }),
    createdAt: source.createdAt,
    updatedAt: source.updatedAt
  }
}

/** A source with its lag, asked of the source itself (an unreachable source: lag unknown, and said so). */
export async function capturedSourceView (ctx: ServiceContext, name: string): Promise<SourceView> {
  const source = await captureSource(ctx, name)
  try {
    return viewOf(source, await sourceLag(source.config, source.confirmedLsn))
  } catch (error) {
    const view = viewOf(source)
    return { ...view, reason: view.reason ?? `the source cannot be asked for its position: ${(error as Error).message}` }
  }
}

/** Stops capturing a source (the workers see it gone); `drop`: its slot on the source is dropped first. */
export async function deleteCapturedSource (ctx: ServiceContext, name: string, drop: boolean): Promise<void> {
  // The slot goes first: should the source refuse, nothing has changed.
  if (drop) await dropSlot((await captureSource(ctx, name)).config)
  await removeCaptureSource(ctx, name)
}

