import type { Test } from 'tap'
import type { Harness, Reply } from './harness.js'
import type { Change } from './changes.js'

// Reverts: requesting them and checking the changes they answer.

/** A user of the blog (see blog.ts) with the reverse of article.author. */
export const USER_WITH_ARTICLES = { relations: { articles: { kind: 'oneToMany', target: 'article', foreignKey: 'author_id' } } }

/** Parents rank lower: inserts go up the ranks, deletes down. */
const RANK: Record<string, number> = { user: 0, tag: 0, article: 1, comment: 2, article_tag: 2 }

/** POST /entities/{type}/{id}/revert. */
export const revert = async (h: Harness, type: string, id: string, body: object): Promise<Reply> =>
  await h.post(`/entities/${type}/${id}/revert`, body)

/** GET /entities/{type}/{id}, with an optional query string. */
export async function state (h: Harness, type: string, id: string, query = ''): Promise<Reply> {
  return await h.get(`/entities/${type}/${id}${query}`)
}

/** A change as a user compares it: a delete carries no state. */
export const shape = (c: any): Change => c.op === 'delete' ? { type: c.type, op: c.op, id: c.id } : { type: c.type, op: c.op, id: c.id, data: c.data }

/** The changes shaped and sorted by type and id, to compare them regardless of their order. */
export const sorted = (changes: any[]): Change[] => {
  const key = (c: Change): string => `${c.type as string} ${c.id as string}`
  return changes.map(shape).sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
}

/** Applying the changes in order keeps foreign keys valid: deletes first, children before parents; then parents before children. */
export function keepsForeignKeysValid (t: Test, changes: any[]): void {
  const firstOther = changes.findIndex((c) => c.op !== 'delete')
  const deletes = firstOther === -1 ? changes : changes.slice(0, firstOther)
  const others = firstOther === -1 ? [] : changes.slice(firstOther)
  t.ok(others.every((c) => c.op !== 'delete'), 'every delete comes before the inserts and updates')
  t.ok(deletes.every((c, i) => i === 0 || RANK[c.type]! <= RANK[deletes[i - 1].type]!), `deletes go children first: ${deletes.map((c) => c.type).join(', ')}`)
  t.ok(others.every((c, i) => i === 0 || RANK[c.type]! >= RANK[others[i - 1].type]!), `inserts and updates go parents first: ${others.map((c) => c.type).join(', ')}`)
}
