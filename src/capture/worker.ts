import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication'
import { isJsonObject, parseJson } from '../versioning/json.js'
import type { ServiceContext } from '../services/context.js'
import { recordCaptured, type CapturedTransaction } from '../services/captured.js'
import type { StoredSource } from '../services/capture-sources.js'
import { postgresTime, rowChanges, type SourceTransaction } from './decode.js'
import { lsnAtOrBefore, normalLsn } from './lsn.js'
import { columnParser } from './values.js'

/** What a worker tells its manager. */
export interface WorkerEvents {
  /** It recorded up to this source position (and the source commit time, when a transaction). */
  progress: (lsn: string, commitAt: string | null) => void
  /** It stopped on a change it cannot record: the source is blocked until reconfigured. */
  blocked: (reason: string) => void
  /** The stream ended or failed (the source went away): it may be started again. */
  failed: (reason: string) => void
}

const CONTEXT_PREFIX = 'rewind'
/** Source transactions recorded in one database transaction at most, and their row changes (entity locks). */
const MAX_BATCH = 100
const MAX_BATCH_CHANGES = 200
/** How long a committed source transaction waits for others to share its batch (ms). */
const BATCH_WAIT_MS = 2

/**
 * True when the client holds no data message for the handler (it queues them under flow
 * control, and sends keepalives on at once): only then does a keepalive come after
 * everything received.
 */
function nothingQueued (service: LogicalReplicationService): boolean {
  const internals = service as unknown as { _messageQueue?: unknown[], _processing?: boolean }
  return internals._messageQueue?.length === 0 && internals._processing !== true
}

/**
 * pgoutput with each column's values turned into JSON of their own type (see values.ts).
 * The client parses a row as it arrives, with parsers it picks when the relation message
 * arrives: they are replaced right there, before any row of the relation is read.
 */
function jsonPlugin (publication: string): PgoutputPlugin {
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: true })
  const parser = (plugin as unknown as { parser: { readRelationColumn: (reader: unknown) => Pgoutput.RelationColumn } }).parser
  const read = parser.readRelationColumn.bind(parser)
  parser.readRelationColumn = (reader) => {
    const column = read(reader)
    return { ...column, parser: columnParser(column.typeOid) }
  }
  return plugin
}

/**
 * Streams one source's slot (pgoutput, the source's own logical decoding) and records each
 * source transaction once it has committed there, as one Rewind transaction, moving the
 * source's stored position in the same database transaction; only then is the position
 * acknowledged to the source, so a crash at any point resumes with nothing lost and
 * nothing twice (a transaction at or before the stored position is skipped). Source
 * transactions that commit close together are recorded in one database transaction
 * (each still its own Rewind transaction): one commit here for many there.
 */
export class CaptureWorker {
  private service: LogicalReplicationService | undefined
  private current: SourceTransaction | undefined
  private confirmed: string | null
  private stopped = false
  /** Source transactions committed there and not recorded yet (a batch), and their changes. */
  private pending: CapturedTransaction[] = []
  private pendingEntities = 0
  private flushTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()
  private busy = false
  /** When the last transaction (or heartbeat) was recorded: the manager emits heartbeats when idle. */
  lastActivity = Date.now()

  constructor (private readonly ctx: ServiceContext, readonly source: StoredSource, private readonly events: WorkerEvents) {
    this.confirmed = source.confirmedLsn
  }

  get position (): string | null { return this.confirmed }

  async start (): Promise<void> {
    const service = new LogicalReplicationService(
      { connectionString: this.source.config.connection, application_name: `rewind-capture-${this.source.name}` },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } })
    this.service = service
    service.on('data', async (_lsn: string, message: Pgoutput.Message) => { await this.onMessage(message) })
    service.on('heartbeat', async (lsn: string, _time: number, shouldRespond: boolean) => {
      // Nothing open or waiting: everything the source sent up to its keepalive's position is
      // recorded (as PostgreSQL's own subscribers reason), so that position is confirmed; a
      // source shutting down waits for exactly that.
      const idle = this.current === undefined && this.pending.length === 0 && !this.busy && nothingQueued(service)
      const position = idle && (this.confirmed === null || !lsnAtOrBefore(lsn, this.confirmed)) ? normalLsn(lsn) : this.confirmed
      if ((shouldRespond || idle) && position !== null) await service.acknowledge(position).catch(() => false)
    })
    service.on('error', (error: Error) => { this.fail(error.message) })
    const plugin = jsonPlugin(this.source.config.publication)
    service.subscribe(plugin, this.source.config.slot, this.confirmed ?? '0/0')
      .then(() => { this.fail('the source ended the replication stream') })
      .catch((error: unknown) => { this.fail((error as Error).message) })
  }

  async stop (): Promise<void> {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer)
    await this.flushing
    this.stopped = true
    await this.service?.stop().catch(() => undefined)
  }

  private fail (reason: string): void {
    if (this.stopped) return
    this.stopped = true
    void this.service?.stop().catch(() => undefined)
    this.events.failed(reason)
  }

  private block (reason: string): void {
    if (this.stopped) return
    this.stopped = true
    void this.service?.stop().catch(() => undefined)
    this.events.blocked(reason)
  }

  private async onMessage (message: Pgoutput.Message): Promise<void> {
    if (this.stopped) return
    await this.flushing
    switch (message.tag) {
      case 'begin':
        this.current = { xid: message.xid, commitTime: postgresTime(message.commitTime as bigint), endLsn: '', changes: [] }
        return
      case 'message':
        if (message.prefix === CONTEXT_PREFIX && this.current !== undefined) this.takeContext(message.content)
        return
      case 'commit':
        await this.commit(message)
        return
      default:
        if (this.current === undefined) return
        try {
          this.current.changes.push(...rowChanges(this.source.config.tables, message))
        } catch (error) {
          this.block(`transaction ${this.current.xid}: ${(error as Error).message}`)
        }
    }
  }

  /** `pg_logical_emit_message(true, 'rewind', '{"actor": …, "meta": {…}}')`: the transaction's actor and meta. */
  private takeContext (content: Uint8Array): void {
    try {
      const context = parseJson(Buffer.from(content).toString('utf8'))
      if (!isJsonObject(context)) return
      if (typeof context.actor === 'string') this.current!.actor = context.actor
      if (isJsonObject(context.meta)) this.current!.meta = context.meta
    } catch {
      // Not JSON: the transaction is recorded without context rather than not at all.
    }
  }

  private async commit (message: Pgoutput.MessageCommit): Promise<void> {
    const tx = this.current
    this.current = undefined
    if (tx === undefined || message.commitEndLsn === null) return
    tx.endLsn = normalLsn(message.commitEndLsn)
    if (this.confirmed !== null && lsnAtOrBefore(tx.endLsn, this.confirmed)) {
      await this.acknowledge()
      return
    }
    this.pending.push({ ...tx, source: this.source.name })
    this.pendingEntities += tx.changes.length
    // Committed source transactions wait a moment for the ones right behind them: a batch is one commit here.
    if (this.pending.length >= MAX_BATCH || this.pendingEntities >= MAX_BATCH_CHANGES) await this.flush()
    else this.flushTimer ??= setTimeout(() => { this.flushTimer = undefined; void this.flush() }, BATCH_WAIT_MS)
  }

  /** Records the waiting source transactions (in one database transaction) and acknowledges their end. */
  private async flush (): Promise<void> {
    if (this.flushTimer !== undefined) { clearTimeout(this.flushTimer); this.flushTimer = undefined }
    const run = this.flushing.then(async () => {
      this.busy = true
      try {
        await this.record()
      } finally {
        this.busy = false
      }
    })
    this.flushing = run.catch(() => undefined)
    await run
  }

  /** Records the waiting source transactions and acknowledges their end. */
  private async record (): Promise<void> {
    const batch = this.pending
    if (batch.length === 0 || this.stopped) return
    this.pending = []
    this.pendingEntities = 0
    const last = batch[batch.length - 1]!
    try {
      const { recorded } = await recordCaptured(this.ctx, batch, this.confirmed, this.source.config)
      if (!recorded) {
        this.fail('the source was reconfigured, or another worker moved it on: starting again from its stored position')
        return
      }
    } catch (error) {
      const kind = (error as { kind?: string }).kind
      const reason = `source transactions ${batch[0]!.xid}…${last.xid} (to ${last.endLsn}): ${(error as Error).message}`
      if (kind === undefined || kind === 'unavailable') this.fail(reason)
      else this.block(reason)
      return
    }
    this.confirmed = last.endLsn
    this.lastActivity = Date.now()
    const changed = [...batch].reverse().find((tx) => tx.changes.length > 0)
    this.events.progress(last.endLsn, changed?.commitTime ?? null)
    await this.acknowledge()
  }

  private async acknowledge (): Promise<void> {
    if (this.confirmed !== null) await this.service?.acknowledge(this.confirmed).catch(() => false)
  }
}
