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

/**
 * Versions without their `hash` (random salts make it unknowable in advance), after
 * checking that each one has a SHA-256 hex hash: for comparing versions with literals.
 */
export function hashless<T> (value: T): T {
  const strip = (v: any): any => {
    if (typeof v?.hash !== 'string' || !/^[0-9a-f]{64}$/.test(v.hash)) throw new Error(`a version without a SHA-256 hash: ${JSON.stringify(v)}`)
    const { hash: _hash, ...rest } = v
    return rest
  }
  return (Array.isArray(value) ? value.map(strip) : strip(value)) as T
}
