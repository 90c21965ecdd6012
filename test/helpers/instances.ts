import type { Test } from 'tap'
import { buildApp } from '../../src/http/app.js'
import type { Harness } from './harness.js'

/**
 * Another instance of the service on the harness's database, with caches of its own (as a second
 * process would have), closed when the test ends. `post` records a transaction through it and
 * asserts the 201; it answers the body.
 */
export async function otherInstance (t: Test, h: Harness): Promise<{ post: (changes: unknown[]) => Promise<any> }> {
  const other = await buildApp({ db: h.db, closeDatabase: false })
  t.teardown(async () => { await other.close() })
  return {
    post: async (changes) => {
      const res = await other.inject({ method: 'POST', url: '/transactions', headers: { authorization: `Bearer ${h.adminKey}` }, payload: { changes } })
      t.equal(res.statusCode, 201, res.body)
      return res.json()
    }
  }
}
