import { createHash, hash } from 'node:crypto'
import canonicalize from 'canonicalize'
import { invalid } from '../versioning/errors.js'
import { unmarkExactIntegers } from '../versioning/json.js'

/**
 * RFC 8785 canonical JSON of a value (the `canonicalize` package), with integers beyond
 * ±(2^53−1) (bigints) written as their exact digits. A string that is not well-formed
 * Unicode (a lone surrogate) has no canonical form: that is a 400.
 */
export function canonicalJson (value: unknown): string {
  let text: string | undefined
  try {
    text = canonicalize(value)
  } catch (error) {
    throw invalid(`a value cannot be hashed: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (text === undefined) throw invalid('a value cannot be hashed')
  text = unmarkExactIntegers(text)
  return text.includes('e+') ? text.replace(NUMBER_OR_STRING, expandExponent) : text
}

/*
 * An integer of 10^21 or more is a JavaScript number written with an exponent ("1.5e+21"),
 * but PostgreSQL keeps it as its decimal digits, which read back as an exact integer. So
 * that a value hashes the same before it is stored and after, such numbers are hashed as
 * those digits (strings in the text are left alone).
 */
const NUMBER_OR_STRING = /"(?:[^"\\]|\\.)*"|(-?)(\d)(?:\.(\d+))?e\+(\d+)/g
function expandExponent (match: string, sign: string | undefined, lead: string | undefined, fraction: string | undefined, exponent: string | undefined): string {
  if (lead === undefined) return match
  const digits = `${lead}${fraction ?? ''}`
  return `${sign ?? ''}${digits}${'0'.repeat(Number(exponent) - (fraction?.length ?? 0))}`
}

/** SHA-256 (hex) of text as UTF-8, or of bytes (one call: no hash object for short inputs). */
export const sha256Hex = (input: string | Uint8Array): string => hash('sha256', input, 'hex')

/**
 * The canonical JSON of a value, quickly for what most field values are (strings,
 * numbers, booleans, null): exactly what canonicalJson answers, without walking a tree.
 */
export function canonicalValue (value: unknown): string {
  switch (typeof value) {
    case 'string': return canonicalString(value)
    case 'number': {
      if (!Number.isFinite(value)) throw invalid('a value cannot be hashed: NaN and Infinity have no JSON form')
      const text = JSON.stringify(value)
      return text.includes('e+') ? text.replace(NUMBER_OR_STRING, expandExponent) : text
    }
    case 'boolean': return value ? 'true' : 'false'
    case 'bigint': return value.toString()
    default: {
      if (value === null) return 'null'
      // Arrays (a changeset entry is [old, new]) element by element: no tree walk for their usual primitive members.
      if (Array.isArray(value)) {
        let text = '['
        for (let i = 0; i < value.length; i++) text += `${i === 0 ? '' : ','}${canonicalValue(value[i])}`
        return `${text}]`
      }
      return canonicalJson(value)
    }
  }
}

/** A string as RFC 8785 writes it (JSON.stringify's escaping), refused when not well-formed Unicode. */
export function canonicalString (value: string): string {
  if (!(value as unknown as { isWellFormed: () => boolean }).isWellFormed()) throw invalid('a value cannot be hashed: a string holds a lone surrogate (not well-formed Unicode)')
  return JSON.stringify(value)
}

/** An object of hashes (field → hex) as RFC 8785 writes it: names sorted by UTF-16 code units. */
export function canonicalStringMap (map: Record<string, string>): string {
  const keys = Object.keys(map).sort()
  let text = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const value = map[key]!
    text += `${i === 0 ? '' : ','}${canonicalString(key)}:${HEX.test(value) ? `"${value}"` : canonicalString(value)}`
  }
  return `${text}}`
}

const HEX = /^[0-9a-f]*$/

/** SHA-256 (raw) of bytes. */
export const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest()
}

/** The hash a chain's first version links to. */
export const GENESIS_HASH = '0'.repeat(64)
