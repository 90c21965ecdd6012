import type { Harness } from './harness.js'
import { del, ins, type Change } from './changes.js'

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

/** Tags an article (inserts the article_tag association). */
export const link = (article: number, tag: number): Change => ins('article_tag', { article_id: article, tag_id: tag })
/** Untags an article (deletes the article_tag association). */
export const unlink = (article: number, tag: number): Change => del('article_tag', `${article},${tag}`)
