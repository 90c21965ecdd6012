import { invalid } from './errors.js'
import type { JsonObject, JsonValue } from './json.js'

/** The string form of one id value: a string or an integer (of any size). */
export function idValueString (value: JsonValue | undefined): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value === 'bigint') return value.toString()
  return undefined
}

/**
 * An entity's key: the string forms of its id fields joined by `,` in idFields order.
 * Rejects missing or non-scalar id values and, for composite keys, values holding `,`.
 */
export function entityKey (idFields: readonly string[], data: JsonObject, type: string): string {
  const parts = idFields.map((field) => {
    const value = idValueString(Object.hasOwn(data, field) ? data[field] : undefined)
    if (value === undefined) throw invalid(`${type}: id field "${field}" must be a string or an integer`)
    if (idFields.length > 1 && value.includes(',')) {
      throw invalid(`${type}: id field "${field}" of a composite key must not contain ","`)
    }
    if (value === '') throw invalid(`${type}: id field "${field}" must not be empty`)
    return value
  })
  const key = parts.join(',')
  if (key.length > MAX_KEY_LENGTH) throw invalid(`${type}: the entity key is longer than ${MAX_KEY_LENGTH} characters`)
  return key
}

/** Longest entity key: keys travel in URL paths (GET /entities/{type}/{id}). */
export const MAX_KEY_LENGTH = 1024

/** A map key naming one entity of one type. */
export function entityRef (type: string, key: string): string {
  return `${type}\u0000${key}`
}

/**
 * Orders entities by their id field values, field by field: numbers numerically and
 * before strings, strings by code point.
 */
export function compareByIds (idFields: readonly string[], a: JsonObject, b: JsonObject): number {
  for (const field of idFields) {
    const c = compareIdValues(a[field], b[field])
    if (c !== 0) return c
  }
  return 0
}

function compareIdValues (x: JsonValue | undefined, y: JsonValue | undefined): number {
  const a = integerOf(x)
  const b = integerOf(y)
  if (a !== undefined && b !== undefined) return a < b ? -1 : a > b ? 1 : 0
  if (a !== undefined) return -1
  if (b !== undefined) return 1
  return compareCodePoints(String(x ?? ''), String(y ?? ''))
}

function compareCodePoints (x: string, y: string): number {
  const a = [...x]
  const b = [...y]
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] as string).codePointAt(0)! - (b[i] as string).codePointAt(0)!
    if (d !== 0) return d
  }
  return a.length - b.length
}

function integerOf (value: JsonValue | undefined): bigint | number | undefined {
  if (typeof value === 'number') return value
  return typeof value === 'bigint' ? value : undefined
}
