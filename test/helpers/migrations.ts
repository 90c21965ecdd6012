import type { Test } from 'tap'
import type { Harness, Reply } from './harness.js'

/** POST /entity-types/{type}/migrations with these operations; answers the reply, whatever it is. */
export const migrate = async (h: Harness, type: string, operations: unknown[]): Promise<Reply> =>
  await h.post(`/entity-types/${type}/migrations`, { operations })

/** A migration that must succeed: asserts the 200; answers the type. */
export async function migrateOk (t: Test, h: Harness, type: string, operations: unknown[]): Promise<any> {
  const res = await migrate(h, type, operations)
  t.equal(res.status, 200, `migration of ${type} ${JSON.stringify(operations)}: ${JSON.stringify(res.body)}`)
  return res.body
}
