import type { JsonObject } from '../versioning/json.js'
import type { Operation } from '../versioning/version.js'
import { canonicalJson, canonicalString, canonicalStringMap, sha256Hex } from './canonical.js'
import type { Commitments } from './commitments.js'

/** What a version's hash covers of its transaction. */
export interface HashedTransaction {
  issuedAt: string
  recordedAt: string
  actor: string | null
  meta: JsonObject
  recordedBy: JsonObject | null
  revertOf: JsonObject | null
}

/** What a version's hash covers of the version itself. */
export interface HashedVersion {
  tenant: string
  type: string
  id: string
  index: number
  transactionId: number
  operation: Operation
}

/**
 * The document a version's hash is the SHA-256 of (as RFC 8785 canonical JSON): the
 * version, its transaction, a commitment per field (covering the field's value in data
 * and its changeset entry, never a raw value), and the hash of the entity's previous
 * version (64 zeros for the first).
 */
export interface HashedDocument {
  version: HashedVersion
  transaction: HashedTransaction
  fields: Record<string, string>
  previous: string
}

/** The transaction members a hash covers, as they read back from the database (absent ones null). */
export const hashedTransaction = (t: {
  issuedAt: string, recordedAt: string, actor?: string | null | undefined, meta?: JsonObject | undefined,
  recordedBy?: unknown, revertOf?: unknown
}): HashedTransaction => ({
  issuedAt: t.issuedAt,
  recordedAt: t.recordedAt,
  actor: t.actor ?? null,
  meta: t.meta ?? {},
  recordedBy: t.recordedBy === undefined || t.recordedBy === null ? null : JSON.parse(JSON.stringify(t.recordedBy)) as JsonObject,
  revertOf: (t.revertOf ?? null) as JsonObject | null
})

export const hashedDocument = (
  version: HashedVersion, transaction: HashedTransaction, commitments: Commitments, previous: string
): HashedDocument => ({ version, transaction, fields: commitments, previous })

/** The canonical JSON of a transaction's hashed members, made once per transaction object. */
const transactionTexts = new WeakMap<HashedTransaction, string>()
function transactionText (transaction: HashedTransaction): string {
  let text = transactionTexts.get(transaction)
  if (text === undefined) {
    // Its members in RFC 8785 order (actor, issuedAt, meta, recordedAt, recordedBy, revertOf); the objects through canonicalJson.
    const object = (value: JsonObject | null): string => value === null ? 'null' : Object.keys(value).length === 0 ? '{}' : canonicalJson(value)
    text = `{"actor":${transaction.actor === null ? 'null' : canonicalString(transaction.actor)},"issuedAt":${canonicalString(transaction.issuedAt)},` +
      `"meta":${object(transaction.meta)},"recordedAt":${canonicalString(transaction.recordedAt)},` +
      `"recordedBy":${object(transaction.recordedBy)},"revertOf":${object(transaction.revertOf)}}`
    transactionTexts.set(transaction, text)
  }
  return text
}

/**
 * The canonical JSON of a document around its transaction id, written directly: its
 * members and the version's are in RFC 8785 order already (fields, previous, transaction,
 * version; id, index, operation, tenant, transactionId, type), the commitments are
 * strings and the transaction's text is made once per transaction. `fieldsText` is the
 * commitments' canonical text when the caller has it (sealing writes it from sorted names).
 */
function documentText (
  document: Omit<HashedDocument, 'version'> & { version: Omit<HashedVersion, 'transactionId'> }, fieldsText?: string
): { before: string, after: string } {
  const v = document.version
  return {
    before: `{"fields":${fieldsText ?? canonicalStringMap(document.fields)},` +
      `"previous":${canonicalString(document.previous)},"transaction":${transactionText(document.transaction)},` +
      `"version":{"id":${canonicalString(v.id)},"index":${v.index},"operation":${canonicalString(v.operation)},"tenant":${canonicalString(v.tenant)},"transactionId":`,
    after: `,"type":${canonicalString(v.type)}}}`
  }
}

/** SHA-256 (hex) of the document's canonical JSON: the version's hash. */
export function versionHash (document: HashedDocument): string {
  return templateHash(documentText(document), document.version.transactionId)
}

/**
 * The canonical text of a document around its transaction id, for a version whose
 * transaction id is drawn by the database as it is written: the hash is the SHA-256 of
 * `before + id + after` (the id is an integer, written as its digits).
 */
export const hashTemplate = documentText

export const templateHash = (template: { before: string, after: string }, transactionId: number): string =>
  sha256Hex(`${template.before}${transactionId}${template.after}`)
