import type { Changeset } from '../versioning/changeset.js'
import { setField, type JsonObject } from '../versioning/json.js'
import { canonicalName, commitment, defineField, fieldsOf, newSalts, type Commitments, type Erased, type Salts } from './commitments.js'
import { hashedDocument, hashTemplate, type HashedTransaction, type HashedVersion } from './version-hash.js'

/** The redaction id that write-time redaction (a type's `redact` fields) leaves in place of a value. */
export const WRITE_TIME_REDACTION = 'write-time'

export const redactedMarker = (redaction: string): JsonObject => ({ $redacted: redaction })

/** A version as it is stored: values (erased ones replaced), salts, kept commitments, and its hash around the transaction id. */
export interface SealedVersion {
  data: JsonObject
  changeset: Changeset
  salts: Salts
  erased: Erased | null
  template: { before: string, after: string }
}

/**
 * Commits to every field of a new version and prepares its hash: each field gets a salt
 * and a commitment; a field the type redacts at write time keeps only its commitment (its
 * value and salt are never stored).
 */
export function sealVersion (
  version: Omit<HashedVersion, 'transactionId'>, transaction: HashedTransaction,
  data: JsonObject, changeset: Changeset, previous: string, redact: readonly string[] = []
): SealedVersion {
  const fields = fieldsOf({ data, changeset })
  const salts = newSalts(fields)
  const commitments: Commitments = {}
  let fieldsText = '{'
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const hash = commitment(salts[field]!, field, Object.hasOwn(data, field) ? data[field] : undefined, Object.hasOwn(changeset, field) ? changeset[field] : undefined)
    defineField(commitments, field, hash)
    fieldsText += `${i === 0 ? '' : ','}${canonicalName(field)}:"${hash}"`
  }
  const template = hashTemplate({ ...hashedDocument({ ...version, transactionId: 0 }, transaction, commitments, previous), version }, `${fieldsText}}`)
  const erasing = redact.filter((f) => Object.hasOwn(salts, f))
  if (erasing.length === 0) return { data, changeset, salts, erased: null, template }
  return { ...eraseFields(data, changeset, salts, commitments, erasing, WRITE_TIME_REDACTION), template }
}

/**
 * A version with some fields erased: values replaced by `{"$redacted": id}` (a changeset's
 * null side stays null), salts dropped, the fields' commitments kept in `erased`.
 */
export function eraseFields (
  data: JsonObject, changeset: Changeset, salts: Salts, commitments: Commitments, fields: readonly string[], redaction: string
): { data: JsonObject, changeset: Changeset, salts: Salts, erased: Erased } {
  const marker = redactedMarker(redaction)
  const erased: Erased = {}
  const nextData: JsonObject = { ...data }
  const nextChangeset: Changeset = { ...changeset }
  const nextSalts: Salts = { ...salts }
  for (const field of fields) {
    if (Object.hasOwn(commitments, field)) defineField(erased, field, commitments[field]!)
    if (Object.hasOwn(data, field)) setField(nextData, field, marker)
    const change = changeset[field]
    if (change !== undefined) {
      Object.defineProperty(nextChangeset, field, { value: [change[0] === null ? null : marker, change[1] === null ? null : marker], enumerable: true, writable: true, configurable: true })
    }
    delete nextSalts[field]
  }
  return { data: nextData, changeset: nextChangeset, salts: nextSalts, erased }
}
