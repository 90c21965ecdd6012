import type { Harness } from './harness.js'

// What the database holds, to prove that a rejected request stored nothing.

type Table = Parameters<Harness['count']>[0]
const TABLES: Table[] = ['versions', 'transactions', 'entity_types', 'version_refs', 'idempotency_keys']

/** Row counts of every table. */
export async function snapshot (h: Harness): Promise<Record<Table, number>> {
  const out: Partial<Record<Table, number>> = {}
  for (const table of TABLES) out[table] = await h.count(table)
  return out as Record<Table, number>
}

/** Ids of the transactions GET /transactions lists (newest first). */
export async function listedTransactionIds (h: Harness): Promise<number[]> {
  const res = await h.get('/transactions?limit=1000')
  if (res.status !== 200) throw new Error(`GET /transactions answered ${res.status}`)
  return res.body.items.map((tx: any) => tx.id)
}
