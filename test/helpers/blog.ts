import type { Harness } from './harness.js'

/** The article of Continuum's examples: an author, comments and tags. */
export const ARTICLE = {
  relations: {
    author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' },
    comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' },
    tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }
  }
}

/** Registers article, user (with the given definition), comment and tag. */
export async function registerBlog (h: Harness, user: object = {}): Promise<void> {
  for (const [type, body] of [['article', ARTICLE], ['user', user], ['comment', {}], ['tag', {}]] as const) {
    const res = await h.put(`/entity-types/${type}`, body)
    if (res.status !== 201) throw new Error(`PUT /entity-types/${type}: ${res.status} ${JSON.stringify(res.body)}`)
  }
}

/** One change as POST /transactions takes it. */
export type Change = Record<string, unknown>

export const ins = (type: string, data: Record<string, unknown>): Change => ({ type, op: 'insert', data })
export const upd = (type: string, id: string, data: Record<string, unknown>): Change => ({ type, op: 'update', id, data })
export const del = (type: string, id: string): Change => ({ type, op: 'delete', id })
export const link = (article: number, tag: number): Change => ins('article_tag', { article_id: article, tag_id: tag })
export const unlink = (article: number, tag: number): Change => del('article_tag', `${article},${tag}`)

/** Records one transaction (201 expected, else throws) and returns its id. */
export async function tx (h: Harness, ...changes: Change[]): Promise<number> {
  const res = await h.post('/transactions', { changes })
  if (res.status !== 201) throw new Error(`POST /transactions: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.transaction.id
}
