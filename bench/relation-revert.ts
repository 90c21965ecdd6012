import { buildApp } from '../src/http/app.js'
import { createApiKey } from '../src/services/api-keys.js'
import { openDatabase } from '../src/store/database.js'
import { INGEST_TYPE } from './workload.js'

export interface RelationRevertFigures {
  children: number
  changes: number
  ms: number
  statements: number
}

const FIRST_ID = 900_000_000

/**
 * Revert with relations of an article with many comments (oneToMany): all of them edited,
 * a tenth deleted and a tenth added since; the revert restores the edited and deleted ones
 * and deletes the newcomers. Runs the app in this process to count its SQL statements.
 */
export async function measureRelationRevert (databaseUrl: string, childCounts: readonly number[]): Promise<RelationRevertFigures[]> {
  let statements = 0
  const db = await openDatabase({ databaseUrl, poolSize: 2, onQuery: (e) => { if (e.level === 'query') statements++ } })
  // The key's lookup is cached for the whole run: the statements counted are the request's own.
  const authorization = `Bearer ${(await createApiKey(db, { tenant: 'default', name: 'bench', scopes: ['admin'] })).key}`
  const app = await buildApp({ db, logger: false, keyCacheMs: 3_600_000 })
  const post = async (url: string, body: unknown): Promise<any> => {
    const res = await app.inject({ method: 'POST', url, payload: body as object, headers: { authorization } })
    if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`)
    return res.json()
  }
  try {
    const out: RelationRevertFigures[] = []
    for (const [i, n] of childCounts.entries()) {
      const article = FIRST_ID + i
      const child = (k: number): number => article * 10_000 + k
      const tenth = Math.max(1, Math.floor(n / 10))
      const created = await post('/transactions', {
        actor: 'bench-revert',
        changes: [
          { type: INGEST_TYPE, op: 'insert', data: { id: article, title: 'parent' } },
          ...Array.from({ length: n }, (_, k) => ({ type: 'comment', op: 'insert', data: { id: child(k), article_id: article, body: `first ${k}` } }))
        ]
      })
      await post('/transactions', {
        actor: 'bench-revert',
        changes: [
          ...Array.from({ length: n - tenth }, (_, k) => ({ type: 'comment', op: 'update', id: String(child(k)), data: { body: `edited ${k}` } })),
          ...Array.from({ length: tenth }, (_, k) => ({ type: 'comment', op: 'delete', id: String(child(n - tenth + k)) })),
          ...Array.from({ length: tenth }, (_, k) => ({ type: 'comment', op: 'insert', data: { id: child(n + k), article_id: article, body: 'late' } }))
        ]
      })
      statements = 0
      const start = process.hrtime.bigint()
      const reverted = await post(`/entities/${INGEST_TYPE}/${article}/revert`, { to: created.transaction.id, relations: ['comments'] })
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (reverted.changes.length !== n + tenth) throw new Error(`revert of ${n} children: ${reverted.changes.length} changes, expected ${n + tenth}`)
      out.push({ children: n, changes: reverted.changes.length, ms, statements })
    }
    return out
  } finally {
    await app.close()
  }
}
