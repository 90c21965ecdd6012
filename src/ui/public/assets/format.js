// Formatting: times, operations, who made a change, JSON values, and word/line diffs of values.

const dateTime = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
const relative = typeof Intl.RelativeTimeFormat === 'function' ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : undefined

/** "30 Nov 2026, 18:03:15" (the reader's locale and time zone). */
export function formatTime (iso) {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? String(iso ?? '') : dateTime.format(date)
}

/** "5 minutes ago", "yesterday", "in 2 days"… */
export function formatRelative (iso, now = Date.now()) {
  const date = new Date(iso)
  if (relative === undefined || Number.isNaN(date.getTime())) return ''
  const seconds = (date.getTime() - now) / 1000
  const units = [['year', 31_536_000], ['month', 2_592_000], ['week', 604_800], ['day', 86_400], ['hour', 3600], ['minute', 60]]
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit)
  }
  return Math.abs(seconds) < 45 ? 'just now' : relative.format(Math.round(seconds), 'second')
}

/** The words a person reads for an operation (an insert after a delete brings the entity back). */
export function operationLabel (operation, index) {
  if (operation === 'insert') return index > 0 ? 'Restored' : 'Created'
  if (operation === 'update') return 'Updated'
  if (operation === 'delete') return 'Deleted'
  return String(operation)
}

/** The actor a transaction claims, and what recorded it (an API key's name, or a capture source). */
export function who (transaction) {
  const by = transaction?.recordedBy
  const actor = typeof transaction?.actor === 'string' && transaction.actor !== '' ? transaction.actor : null
  let via = null
  if (by?.source !== undefined && by?.source !== null) via = `captured from ${by.source}`
  else if (by?.keyName !== undefined && by?.keyName !== null) via = `key “${by.keyName}”`
  return { actor, via }
}

/** What a revert transaction undid, in words (null for an ordinary transaction). */
export function revertText (revertOf) {
  if (revertOf === undefined || revertOf === null) return null
  if (revertOf.transaction !== undefined) return { text: `Undoes transaction #${revertOf.transaction}`, transaction: revertOf.transaction }
  return { text: `Reverts ${revertOf.type} ${revertOf.id} to its state at transaction #${revertOf.to}`, type: revertOf.type, id: revertOf.id, to: revertOf.to }
}

export const isRawJson = (value) => typeof JSON.isRawJSON === 'function' && JSON.isRawJSON(value)

/** A value erased by redaction reads `{"$redacted": "<id>"}`. */
export const isRedacted = (value) => value !== null && typeof value === 'object' && !Array.isArray(value) && !isRawJson(value) &&
  Object.keys(value).length === 1 && typeof value.$redacted === 'string'

/** Pretty JSON (two spaces), integers beyond 2^53 as their exact digits. */
export const prettyJson = (value) => JSON.stringify(value, null, 2)

/** The kind of a value, for its presentation. */
export function kindOf (value) {
  if (value === undefined) return 'absent'
  if (value === null) return 'null'
  if (isRawJson(value)) return 'number'
  if (isRedacted(value)) return 'redacted'
  if (Array.isArray(value)) return 'array'
  return typeof value // string, number, boolean, object
}

/** A short one-line form of a value (lists, titles). */
export function shortValue (value, max = 60) {
  const kind = kindOf(value)
  let text
  if (kind === 'absent') text = '—'
  else if (kind === 'string') text = value
  else if (kind === 'redacted') text = '(redacted)'
  else text = JSON.stringify(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** A readable name for an entity: its key, and a label field when its data has one. */
export function entityLabel (data) {
  if (data === null || typeof data !== 'object') return null
  for (const field of ['name', 'title', 'label', 'displayName', 'display_name', 'email', 'slug', 'username']) {
    if (typeof data[field] === 'string' && data[field] !== '') return data[field]
  }
  return null
}

/**
 * The difference between two token lists (longest common subsequence of their keys), as parts
 * `{ kind: 'same' | 'removed' | 'added', a, b }` (a: the text before, b: after); null when too
 * large to compute quickly.
 */
export function diffTokens (a, b, key = (token) => token, limit = 250_000) {
  const ka = a.map(key)
  const kb = b.map(key)
  let start = 0
  while (start < a.length && start < b.length && ka[start] === kb[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && ka[endA - 1] === kb[endB - 1]) { endA--; endB-- }
  const n = endA - start
  const m = endB - start
  if (n * m > limit) return null
  // lengths[i][j]: the LCS of a[start+i..endA) and b[start+j..endB)
  const lengths = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[i][j] = ka[start + i] === kb[start + j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1])
    }
  }
  const parts = []
  const push = (kind, ta, tb) => {
    const last = parts[parts.length - 1]
    if (last !== undefined && last.kind === kind) { last.a += ta; last.b += tb } else parts.push({ kind, a: ta, b: tb })
  }
  for (let k = 0; k < start; k++) push('same', a[k], b[k])
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (ka[start + i] === kb[start + j]) { push('same', a[start + i], b[start + j]); i++; j++ } else if (lengths[i + 1][j] >= lengths[i][j + 1]) { push('removed', a[start + i], ''); i++ } else { push('added', '', b[start + j]); j++ }
  }
  while (i < n) push('removed', a[start + i++], '')
  while (j < m) push('added', '', b[start + j++])
  for (let k = 0; k < a.length - endA; k++) push('same', a[endA + k], b[endB + k])
  return parts
}

/** Words and the spaces between them. */
export const words = (text) => text.split(/(\s+)/).filter((t) => t !== '')
/** Lines, each with its line break. */
export const lines = (text) => text.split(/(?<=\n)/)

/**
 * How the old and new value of a field differ, for highlighting: word by word for strings,
 * line by line for JSON objects and arrays; null when a plain before/after says it best.
 */
export function valueDiff (before, after) {
  const kb = kindOf(before)
  const ka = kindOf(after)
  if (kb === 'string' && ka === 'string') {
    if (before.length + after.length < 12 || (!/\s/.test(before) && !/\s/.test(after))) return null
    const parts = diffTokens(words(before), words(after))
    if (parts === null) return null
    const same = parts.filter((p) => p.kind === 'same').reduce((n, p) => n + p.a.length, 0)
    return same === 0 ? null : { mode: 'text', parts }
  }
  if ((kb === 'object' || kb === 'array') && (ka === 'object' || ka === 'array')) {
    // A line that differs only by its trailing comma (an element added after it) is the same line.
    const parts = diffTokens(lines(prettyJson(before)), lines(prettyJson(after)), (line) => line.replace(/,?\n?$/, ''))
    return parts === null ? null : { mode: 'json', parts }
  }
  return null
}

/** Sorted field names of a changeset, id fields first. */
export function orderedFields (fields, idFields = []) {
  return [...fields].sort((x, y) => {
    const ix = idFields.indexOf(x)
    const iy = idFields.indexOf(y)
    if (ix !== -1 || iy !== -1) return (ix === -1 ? Infinity : ix) - (iy === -1 ? Infinity : iy)
    return 0
  })
}

export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`
