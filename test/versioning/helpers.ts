import type { Test } from 'tap'
import { DomainError, type ProblemKind } from '../../src/versioning/errors.js'

/** The DomainError that `fn` throws, or undefined when it returns normally. */
export function errorOf (fn: () => unknown): DomainError | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof DomainError) return error
    throw error
  }
  return undefined
}

/** Asserts that `fn` throws a DomainError of the given kind. */
export function throwsKind (t: Test, fn: () => unknown, kind: ProblemKind, message: string): DomainError | undefined {
  const error = errorOf(fn)
  t.equal(error?.kind, kind, message)
  return error
}
