import { createHash } from 'node:crypto'
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

/** SHA-256 (hex) of text as UTF-8, or of bytes. */
export const sha256Hex = (input: string | Uint8Array): string => createHash('sha256').update(input).digest('hex')

/** SHA-256 (raw) of bytes. */
export const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest()
}

/** The hash a chain's first version links to. */
export const GENESIS_HASH = '0'.repeat(64)
