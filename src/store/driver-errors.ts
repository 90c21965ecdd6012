import type {
  CompiledQuery, QueryResult, DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler, TransactionSettings
} from 'kysely'
import { DomainError, invalid, unavailable } from '../versioning/errors.js'

/**
 * The one place that knows the database drivers' errors (SQLSTATE codes, pg's connection
 * messages). Every query runs through `translatingDialect`, so what leaves the store is a
 * DomainError (the database is away: `unavailable`; it refused a value: `invalid`), a
 * ConcurrentAppend, a retryable conflict that withRetries recognises, or a bug.
 */

/**
 * Error codes of a database that cannot serve the request now: not reachable (connection
 * refused, shutting down, …), out of connections, or a statement past statement_timeout (57014).
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '57014', '53300', '08000', '08001', '08003', '08006'
])

/** Serialization failure and deadlock: PostgreSQL aborted the work; running it again is safe. */
const RETRYABLE_CODES = new Set(['40001', '40P01'])

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

export function isUnavailable (error: unknown): boolean {
  const code = codeOf(error)
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return true
  // pg's own errors carry no code: a dropped connection, a pool that cannot connect, and a
  // client used after its connection broke (e.g. the ROLLBACK of a transaction whose
  // connection the server terminated, which replaces the original error).
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|is not queryable/i.test(message)
}

/** PostgreSQL aborted the statement or transaction for a serialization failure or a deadlock. */
export const isRetryable = (error: unknown): boolean => RETRYABLE_CODES.has(codeOf(error) ?? '')

/**
 * Another writer appended a version of one of the entities after they were read: the
 * append found, once it held the locks, a version newer than the one it was planned on
 * (rewind_check_heads, SQLSTATE RW002). Nothing was written; read again and plan again.
 */
export class ConcurrentAppend extends Error {
  override readonly name = 'ConcurrentAppend'
  constructor () {
    super('another writer appended a version of one of these entities since they were read')
  }
}

/**
 * A type's definition changed (another revision: a migration, a PUT) after the write was
 * planned on it: nothing was written; load the definitions again and plan again.
 */
export class StaleDefinition extends Error {
  override readonly name = 'StaleDefinition'
}

/** What a driver error means to the rest of the service; anything else is returned as it is. */
export function translateDriverError (error: unknown): unknown {
  if (error instanceof DomainError || error instanceof ConcurrentAppend || error instanceof StaleDefinition) return error
  const code = codeOf(error)
  if (code === 'RW001') return new StaleDefinition(String((error as { message?: unknown }).message))
  if (code === 'RW002') return new ConcurrentAppend()
  if (isUnavailable(error)) return unavailable('the database is not reachable right now; retry later')
  // SQLSTATE class 22: the database rejected a value of the request (NUL, invalid text…).
  if (code !== undefined && /^22[0-9A-Z]{3}$/.test(code)) {
    return invalid('the request holds a value the database cannot store (for example a NUL character or an unpaired surrogate)')
  }
  if (code === '23514' && /no partition of relation/.test(String((error as { message?: unknown }).message))) {
    return unavailable('no history partition holds the next transaction ids yet; it is being made, retry in a few seconds')
  }
  return error
}

async function translated<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw translateDriverError(error)
  }
}

class TranslatingConnection implements DatabaseConnection {
  constructor (readonly inner: DatabaseConnection) {}
  async executeQuery<R> (query: CompiledQuery): Promise<QueryResult<R>> {
    return await translated(async () => await this.inner.executeQuery<R>(query))
  }

  streamQuery<R> (query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize)
  }
}

const innerOf = (connection: DatabaseConnection): DatabaseConnection => (connection as TranslatingConnection).inner

class TranslatingDriver implements Driver {
  constructor (private readonly inner: Driver) {}
  async init (): Promise<void> { await translated(async () => { await this.inner.init() }) }
  async acquireConnection (): Promise<DatabaseConnection> {
    return new TranslatingConnection(await translated(async () => await this.inner.acquireConnection()))
  }

  async beginTransaction (c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await translated(async () => { await this.inner.beginTransaction(innerOf(c), settings) })
  }

  async commitTransaction (c: DatabaseConnection): Promise<void> {
    await translated(async () => { await this.inner.commitTransaction(innerOf(c)) })
  }

  async rollbackTransaction (c: DatabaseConnection): Promise<void> {
    await translated(async () => { await this.inner.rollbackTransaction(innerOf(c)) })
  }

  async releaseConnection (c: DatabaseConnection): Promise<void> { await this.inner.releaseConnection(innerOf(c)) }
  async destroy (): Promise<void> { await this.inner.destroy() }
}

/** A dialect whose every error passes through translateDriverError. */
export function translatingDialect (inner: Dialect): Dialect {
  return {
    createDriver: (): Driver => new TranslatingDriver(inner.createDriver()),
    createQueryCompiler: (): QueryCompiler => inner.createQueryCompiler(),
    createAdapter: (): DialectAdapter => inner.createAdapter(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => inner.createIntrospector(db)
  }
}
