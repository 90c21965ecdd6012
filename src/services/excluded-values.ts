import { commitmentsOf, defineField, type Erased, type Salts } from '../integrity/commitments.js'
import type { EntityTypeDefinition } from '../versioning/entity-type.js'
import { omitFields, type JsonObject } from '../versioning/json.js'
import type { Definitions } from './definitions.js'
import { recordedNames } from './schema.js'

/** What an export or a proof shows of a version's values. */
interface StoredValues { type: string, data: JsonObject, changeset: JsonObject, salts: Salts, erased: Erased | null, revision?: number }

/** A version with the values of excluded fields replaced by their commitments (kept in `erased`). */
export function withoutExcluded<V extends StoredValues> (definitions: Definitions, v: V): V {
  const definition: EntityTypeDefinition | undefined = definitions.get(v.type)
  // Excluded fields by the names this version was recorded with.
  const excluded = recordedNames(definitions, v.type, v.revision, definition?.exclude ?? []).filter((f) => Object.hasOwn(v.data, f) || Object.hasOwn(v.changeset, f))
  if (excluded.length === 0) return v
  const { commitments } = commitmentsOf({ data: v.data, changeset: v.changeset }, v.salts, v.erased)
  const erased: Erased = { ...v.erased }
  const salts = { ...v.salts }
  for (const f of excluded) {
    if (Object.hasOwn(commitments, f)) defineField(erased, f, commitments[f]!)
    delete salts[f]
  }
  return { ...v, data: omitFields(v.data, excluded), changeset: omitFields(v.changeset, excluded), salts, erased }
}
