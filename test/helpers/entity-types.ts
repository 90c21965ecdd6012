import type { Harness } from './harness.js'
import { ARTICLE } from './blog.js'

/** The blog's article (blog.ts) with every member of a definition given. */
export const ARTICLE_DEFINITION = {
  idFields: ['id'],
  exclude: ['updated_at'],
  relations: ARTICLE.relations
}

export const isTimestamp = (value: unknown): boolean => typeof value === 'string' && Number.isFinite(Date.parse(value))

/** Every revision of a type, following nextCursor. */
export async function allRevisions (h: Harness, type: string, limit = 50): Promise<any[]> {
  const items: any[] = []
  let url = `/entity-types/${type}/revisions?limit=${limit}`
  for (let pages = 0; pages < 100; pages++) {
    const res = await h.get(url)
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(res.body)}`)
    items.push(...res.body.items)
    if (res.body.nextCursor === null) return items
    url = `/entity-types/${type}/revisions?limit=${limit}&cursor=${encodeURIComponent(res.body.nextCursor)}`
  }
  throw new Error('revisions never ended')
}
