import { parse } from 'lossless-json'

/** JSON values and the few operations on them that versioning needs. */
export type JsonValue = null | boolean | number | string | bigint | JsonValue[] | JsonObject
export interface JsonObject { [key: string]: JsonValue }

/** Marks a bigint in JSON text made by JSON.stringify; toJsonText writes the bare digits instead. */
const EXACT_MARK = '\u0000int:'
const EXACT_IN_TEXT = /"\\u0000int:(-?\d+)\\u0000"/g

/*
 * An integer beyond ±(2^53−1) is a bigint here (a JavaScript number would round it): to
 * schemas it is neither a number nor an object, to equality it compares by value. JSON.stringify
 * writes it as a marked string (no JSON string can hold U+0000: PostgreSQL refuses it in data),
 * which toJsonText and every answer turn back into the bare digits.
 */
if (!Object.hasOwn(BigInt.prototype, 'toJSON')) {
  Object.defineProperty(BigInt.prototype, 'toJSON', {
    value: function (this: bigint): string { return `${EXACT_MARK}${this.toString()}\u0000` },
    writable: true,
    configurable: true
  })
}

/** JSON text of a value, with every bigint written as its digits. */
export function toJsonText (value: unknown): string {
  const text = JSON.stringify(value)
  return text.includes('\\u0000int:') ? text.replace(EXACT_IN_TEXT, '$1') : text
}

/** JSON text with bigint markers (from JSON.stringify, or a serializer that uses it) turned into digits. */
export function unmarkExactIntegers (text: string): string {
  return text.includes('\\u0000int:') ? text.replace(EXACT_IN_TEXT, '$1') : text
}

/** 16 or more digits that do not follow a decimal point: only then can a number be an unsafe integer. */
const MAYBE_UNSAFE_INTEGER = /(?<![.\d])\d{16}/

/**
 * Parses JSON keeping integers beyond ±(2^53−1) exact (as bigint); JSON.parse
 * where no number can be that long. Duplicate keys: the last wins, as with JSON.parse.
 */
export function parseJson (text: string): unknown {
  if (!MAYBE_UNSAFE_INTEGER.test(text)) return JSON.parse(text)
  return parse(text, null, {
    parseNumber: (digits: string) => {
      const n = Number(digits)
      return Number.isSafeInteger(n) || !/^-?\d+$/.test(digits) ? n : BigInt(digits)
    },
    onDuplicateKey: ({ newValue }) => newValue
  })
}

export function isJsonObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Equality of JSON values: objects are compared by keys, not key order. */
export function jsonEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, i) => jsonEqual(item, b[i]))
  }
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  const ob = b as Record<string, unknown>
  return ka.every((k) => Object.hasOwn(ob, k) && jsonEqual((a as Record<string, unknown>)[k], ob[k]))
}

/**
 * Sets a field as an own data property. Plain assignment would treat `__proto__` as the
 * prototype setter; field names such as `__proto__` are ordinary data here.
 */
export function setField (target: JsonObject, key: string, value: JsonValue): void {
  // Only `__proto__` needs defineProperty; it is much slower than assignment for the rest.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

/** A shallow copy of `base` with `patch`'s fields laid over it. */
export function mergeFields (base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = {}
  for (const key of Object.keys(base)) setField(out, key, base[key] as JsonValue)
  for (const key of Object.keys(patch)) setField(out, key, patch[key] as JsonValue)
  return out
}

/** `object` without the named fields. */
export function omitFields (object: JsonObject, names: readonly string[]): JsonObject {
  if (names.length === 0) return object // states are never changed in place: no copy needed
  const out: JsonObject = {}
  for (const key of Object.keys(object)) {
    if (!names.includes(key)) setField(out, key, object[key] as JsonValue)
  }
  return out
}

/** A field's value, with a missing field read as `null`. */
export function fieldValue (object: JsonObject, key: string): JsonValue {
  return Object.hasOwn(object, key) ? object[key] as JsonValue : null
}

/** Greatest nesting depth of arrays and objects in a JSON text (strings are skipped). */
export function jsonTextDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) { if (++depth > max) max = depth } else if (c === 125 || c === 93) depth--
  }
  return max
}

/**
 * About how many bytes `value` takes as JSON text (strings count their characters,
 * numbers 8): cheap enough to size cache entries by, without serializing them.
 */
export function approximateJsonSize (value: unknown): number {
  let size = 0
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'string') size += v.length + 2
    else if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v)) {
        size += 2 + v.length
        for (const item of v) stack.push(item)
      } else {
        size += 2
        for (const key in v) {
          size += key.length + 4
          stack.push((v as Record<string, unknown>)[key])
        }
      }
    } else size += 8
  }
  return size
}

/** True when a parsed JSON value holds a number that overflowed to ±Infinity (e.g. 1e400). */
export function hasNonFiniteNumber (value: unknown): boolean {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'number' && !Number.isFinite(v)) return true
    if (typeof v === 'object' && v !== null) for (const item of Object.values(v)) stack.push(item)
  }
  return false
}
