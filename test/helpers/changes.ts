import type { Test } from 'tap'
import type { Harness, Reply } from './harness.js'

// Building and recording the changes of POST /transactions.

/** One change as POST /transactions takes it. */
export type Change = Record<string, unknown>

export const ins = (type: string, data: Record<string, unknown>): Change => ({ type, op: 'insert', data })
export const upd = (type: string, id: string, data: Record<string, unknown>): Change => ({ type, op: 'update', id, data })
export const del = (type: string, id: string): Change => ({ type, op: 'delete', id })

/** POST /transactions with `changes` and the other members of the body in `extra`; answers the reply, whatever it is. */
export async function postChanges (h: Harness, changes: unknown[], extra: Record<string, unknown> = {}, headers?: Record<string, string>): Promise<Reply> {
  return await h.post('/transactions', { ...extra, changes }, headers)
}

/** Records a transaction that must succeed (asserts the 201) and answers its body ({ transaction, versions }). */
export async function record (t: Test, h: Harness, changes: unknown[], extra: Record<string, unknown> = {}): Promise<any> {
  const res = await postChanges(h, changes, extra)
  t.equal(res.status, 201, `transaction recorded: ${JSON.stringify(changes).slice(0, 120)}`)
  return res.body
}

/** Records one transaction and answers its id; any answer but 201 throws (and so fails the test). */
export async function tx (h: Harness, ...changes: Change[]): Promise<number> {
  const res = await postChanges(h, changes)
  if (res.status !== 201) throw new Error(`POST /transactions: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.transaction.id
}

/** Registers the article of the recording tests: any fields, `updated_at` excluded from versioning. */
export async function registerArticle (t: Test, h: Harness): Promise<void> {
  t.equal((await h.put('/entity-types/article', { exclude: ['updated_at'] })).status, 201, 'article registered')
}
