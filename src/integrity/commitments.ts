import { randomBytes } from 'node:crypto'
import type { JsonObject, JsonValue } from '../versioning/json.js'
import { canonicalString, canonicalValue, sha256Hex } from './canonical.js'

/** The parts of a version whose fields are committed to. */
export type Part = 'data' | 'changeset'
export const PARTS: readonly Part[] = ['data', 'changeset']

/** Each field's salt (base64url, 16 random bytes): erasing one field's salt leaves the others verifiable. */
export type Salts = Record<string, string>
/** Commitments of erased values, kept in place of their salts and values. */
export type Erased = Partial<Record<Part, Record<string, string>>>
/** A commitment per field of data and changeset: what a version's hash covers instead of raw values. */
export type Commitments = Record<Part, Record<string, string>>

const SALT_BYTES = 16
const POOL_BYTES = 64 * 1024

/** Random bytes drawn from the system in 64 KiB draws, each byte handed out once. */
let pool = Buffer.alloc(0)
let used = 0
function randomSalt (): string {
  if (used + SALT_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES)
    used = 0
  }
  const salt = pool.toString('base64url', used, used + SALT_BYTES)
  used += SALT_BYTES
  return salt
}

/** Fresh random salts (16 bytes each) for these fields. */
export function newSalts (fields: readonly string[]): Salts {
  const salts: Salts = {}
  for (const field of fields) defineField(salts, field, randomSalt())
  return salts
}

/**
 * SHA-256 over the canonical JSON of `{"salt", "path": [part, field], "value"}`: hides a
 * low-entropy value from guessing. Written directly (its members are already in the order
 * RFC 8785 sorts them: path, salt, value), which costs a fraction of a generic serializer.
 */
export const commitment = (salt: string, part: Part, field: string, value: JsonValue | readonly JsonValue[]): string =>
  committed(part, canonicalString(field), salt, value)

/**
 * The same, for a field name already in canonical form and a salt the service drew
 * (base64url: nothing to escape), as sealing new versions does for every field.
 */
export const committed = (part: Part, canonicalField: string, salt: string, value: JsonValue | readonly JsonValue[]): string =>
  sha256Hex(`{"path":["${part}",${canonicalField}],"salt":${BASE64URL.test(salt) ? `"${salt}"` : canonicalString(salt)},"value":${canonicalValue(value)}}`)

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Fields of data and changeset (changeset fields are those of data, or of the last state for a delete). */
export const fieldsOf = (data: JsonObject, changeset: Record<string, unknown>): string[] =>
  [...new Set([...Object.keys(data), ...Object.keys(changeset)])]

export interface CommitmentCheck {
  commitments: Commitments
  /** Fields whose value can no longer be checked: neither a salt nor an erased commitment. */
  unverifiable: string[]
}

/**
 * The commitments of a stored version: computed from value and salt, or, for an erased
 * value, the commitment kept in its place.
 */
export function commitmentsOf (
  values: Record<Part, Record<string, unknown>>, salts: Salts, erased: Erased | null | undefined
): CommitmentCheck {
  const commitments: Commitments = { data: {}, changeset: {} }
  const unverifiable: string[] = []
  for (const part of PARTS) {
    const target = commitments[part]
    const kept = erased?.[part] ?? {}
    // An erased value's commitment stands in for it, whether a marker or nothing shows in its place.
    for (const [field, hash] of Object.entries(kept)) defineField(target, field, hash)
    for (const [field, value] of Object.entries(values[part])) {
      if (Object.hasOwn(kept, field)) continue
      const salt = salts[field]
      if (salt !== undefined) defineField(target, field, commitment(salt, part, field, value as JsonValue))
      else unverifiable.push(`${part}.${field}`)
    }
  }
  return { commitments, unverifiable }
}

/** Sets a field of a plain record (field names such as `__proto__` are data here: only that one needs defineProperty). */
export function defineField (target: Record<string, string>, field: string, value: string): void {
  if (field === '__proto__') Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true })
  else target[field] = value
}
