/**
 * JSON text with object keys sorted: equal JSON values (in the contract's sense, where key
 * order does not matter) give equal text. Compares bodies holding `__proto__` as a field,
 * which an object literal (and so t.strictSame's expected value) cannot express.
 */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>
    return `{${Object.keys(object).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'undefined'
}
