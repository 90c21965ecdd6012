/** Errors of the domain, each mapped by the HTTP layer to one problem type and status. */
export type ProblemKind = 'invalid-request' | 'not-found' | 'conflict' | 'idempotency-key-reused' | 'unavailable' |
  'unauthorized' | 'forbidden' | 'limit-exceeded' | 'gone'

export class DomainError extends Error {
  constructor (
    readonly kind: ProblemKind,
    message: string,
    /** Extra members for the problem body (e.g. `conflicts`). */
    readonly extensions: Record<string, unknown> = {}
  ) {
    super(message)
    this.name = 'DomainError'
  }
}

export const invalid = (message: string, extensions?: Record<string, unknown>): DomainError =>
  new DomainError('invalid-request', message, extensions)
export const notFound = (message: string, extensions?: Record<string, unknown>): DomainError =>
  new DomainError('not-found', message, extensions)
export const conflict = (message: string, extensions?: Record<string, unknown>): DomainError =>
  new DomainError('conflict', message, extensions)
export const keyReused = (message: string): DomainError => new DomainError('idempotency-key-reused', message)
/** The database cannot serve the request right now (503 with Retry-After). */
export const unavailable = (message: string): DomainError => new DomainError('unavailable', message)
/** No valid API key (401, with WWW-Authenticate: Bearer). */
export const unauthorized = (message: string): DomainError => new DomainError('unauthorized', message)
/** The API key lacks the scope the request needs (403). */
export const forbidden = (message: string): DomainError => new DomainError('forbidden', message)
/** A configured limit refused the request (400, problem type limit-exceeded). */
export const limitExceeded = (message: string, extensions?: Record<string, unknown>): DomainError =>
  new DomainError('limit-exceeded', message, extensions)
/** What the request needs was pruned by retention (410). */
export const gone = (message: string): DomainError => new DomainError('gone', message)
