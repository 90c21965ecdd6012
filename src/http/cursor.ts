import { invalid } from '../versioning/errors.js'

/**
 * Opaque pagination cursors: base64url of the position a page ended at, tagged with
 * the list it belongs to so that one list's cursor is not taken by another.
 */
export function encodeCursor (list: string, position: number | string): string {
  return Buffer.from(JSON.stringify([list, position])).toString('base64url')
}

export function decodeCursor (list: string, cursor: string | undefined): number | undefined
export function decodeCursor (list: string, cursor: string | undefined, kind: 'string'): string | undefined
export function decodeCursor (list: string, cursor: string | undefined, kind: 'number' | 'string' = 'number'): number | string | undefined {
  if (cursor === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== list || typeof parsed[1] !== kind ||
    (kind === 'number' && !Number.isSafeInteger(parsed[1]))) {
    throw invalid('cursor is not valid for this list (pass nextCursor from the previous page unchanged)')
  }
  return parsed[1] as number | string
}

/** A page as the API answers it: the items, and the cursor of the next page (null on the last). */
export function pageBody<T> (
  found: { items: T[], next: T | undefined }, list: string, position: (item: T) => number | string
): { items: T[], nextCursor: string | null } {
  return { items: found.items, nextCursor: found.next === undefined ? null : encodeCursor(list, position(found.next)) }
}
