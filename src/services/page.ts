/** One page of a list, and the item the next page starts after (undefined: the last page). */
export interface Page<T> { items: T[], next: T | undefined }

/**
 * Reads one page of at most `limit` items: `read(count)` answers up to `count` items in
 * list order; one more than the page is asked for, to tell whether another page follows.
 */
export async function readPage<T> (limit: number, read: (count: number) => Promise<T[]>): Promise<Page<T>> {
  const rows = await read(limit + 1)
  return rows.length > limit ? { items: rows.slice(0, limit), next: rows[limit - 1] } : { items: rows, next: undefined }
}
