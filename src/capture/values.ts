import { types } from 'pg'
import { parseJson, type JsonValue } from '../versioning/json.js'

/*
 * Column values as pgoutput sends them (text) turned into JSON: booleans, integers (exact:
 * past 2^53 a bigint), floats, json/jsonb parsed, arrays of those; everything else keeps
 * PostgreSQL's text form (timestamps, numerics, uuids…), which is exact.
 */
const BOOL = 16
const INTEGERS = new Set([20, 21, 23, 26])
const FLOATS = new Set([700, 701])
const JSON_TYPES = new Set([114, 3802])
/** Arrays of booleans, integers, floats and text. */
const ARRAYS = new Set([1000, 1005, 1007, 1016, 1021, 1022, 1009, 1015])

function integer (text: string): JsonValue {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

/** The function that turns a column's text into its JSON value, by the column's type. */
export function columnParser (typeOid: number): (text: string) => JsonValue {
  if (typeOid === BOOL) return (text) => text === 't'
  if (INTEGERS.has(typeOid)) return integer
  if (FLOATS.has(typeOid)) return (text) => { const n = Number(text); return Number.isFinite(n) ? n : text }
  if (JSON_TYPES.has(typeOid)) return (text) => parseJson(text) as JsonValue
  if (ARRAYS.has(typeOid)) {
    const parse = types.getTypeParser(typeOid, 'text') as (text: string) => JsonValue
    return (text) => parse(text)
  }
  return (text) => text
}
