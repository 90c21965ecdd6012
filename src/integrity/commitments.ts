import { randomBytes } from 'node:crypto'
import { canonicalString, canonicalValue, sha256Hex } from './canonical.js'

/** Each field's salt (base64url, 16 random bytes): erasing one field's salt leaves the others verifiable. */
export type Salts = Record<string, string>
/** Commitments of erased fields (field → commitment), kept in place of their salts and values. */
export type Erased = Record<string, string>
/** A commitment per field (of data, changeset or both): what a version's hash covers instead of raw values. */
export type Commitments = Record<string, string>

/** A version's values as stored: its data and its changeset (field → [old, new]). */
export interface FieldValues { data: Record<string, unknown>, changeset: Record<string, unknown> }

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

/*
 * Field names recur from version to version: their canonical form is kept (a bounded
 * table, emptied when full) rather than made again for every commitment.
 */
const NAMES_KEPT = 10_000
const canonicalNames = new Map<string, string>()
export function canonicalName (field: string): string {
  let name = canonicalNames.get(field)
  if (name === undefined) {
    name = canonicalString(field)
    if (canonicalNames.size >= NAMES_KEPT) canonicalNames.clear()
    canonicalNames.set(field, name)
  }
  return name
}

const BASE64URL = /^[A-Za-z0-9_-]*$/

/**
 * A field's commitment: SHA-256 over the canonical JSON of
 * `{"changeset": [old, new], "data": value, "field": name, "salt": salt}`, `changeset` and
 * `data` present when the version has them for the field. One salted commitment covers
 * both, since a field is always erased from both at once; the salt hides a low-entropy
 * value from guessing. Written directly (members already in RFC 8785 order), which costs
 * a fraction of a generic serializer. `data`/`change` undefined: the version has none.
 */
export function commitment (salt: string, field: string, data: unknown, change: unknown): string {
  const changeset = change === undefined ? '' : `"changeset":${canonicalValue(change)},`
  const value = data === undefined ? '' : `"data":${canonicalValue(data)},`
  const saltText = BASE64URL.test(salt) ? `"${salt}"` : canonicalString(salt)
  return sha256Hex(`{${changeset}${value}"field":${canonicalName(field)},"salt":${saltText}}`)
}

/** The fields of data and changeset, sorted as RFC 8785 sorts names (changeset fields are those of data, or of the last state for a delete). */
export function fieldsOf (values: FieldValues): string[] {
  const fields = Object.keys(values.data)
  for (const field of Object.keys(values.changeset)) if (!Object.hasOwn(values.data, field)) fields.push(field)
  return fields.sort()
}

const own = (record: Record<string, unknown>, field: string): unknown => Object.hasOwn(record, field) ? record[field] : undefined

export interface CommitmentCheck {
  commitments: Commitments
  /** Fields whose values can no longer be checked: neither a salt nor an erased commitment. */
  unverifiable: string[]
}

/**
 * The commitments of a stored version: computed from values and salt, or, for an erased
 * field, the commitment kept in its place (whether a marker or nothing shows for it).
 */
export function commitmentsOf (values: FieldValues, salts: Salts, erased: Erased | null | undefined): CommitmentCheck {
  const commitments: Commitments = {}
  const unverifiable: string[] = []
  const kept = erased ?? {}
  for (const [field, hash] of Object.entries(kept)) defineField(commitments, field, hash)
  for (const field of fieldsOf(values)) {
    if (Object.hasOwn(kept, field)) continue
    const salt = Object.hasOwn(salts, field) ? salts[field] : undefined
    if (salt === undefined) unverifiable.push(field)
    else defineField(commitments, field, commitment(salt, field, own(values.data, field), own(values.changeset, field)))
  }
  return { commitments, unverifiable }
}

/** Sets a field of a plain record (field names such as `__proto__` are data here: only that one needs defineProperty). */
export function defineField (target: Record<string, string>, field: string, value: string): void {
  if (field === '__proto__') Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true })
  else target[field] = value
}

