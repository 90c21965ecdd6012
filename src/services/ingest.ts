import type { Scope } from './definitions.js'
import { runWrite, type WriteOutcome, type WriteResponse } from './idempotency.js'
import { recordChanges, recordChangesOptimistically, type RecordResult, type TransactionInput } from './record.js'

/** 201 with the recorded transaction, or 200 when no change made a version. */
const answer = (result: RecordResult): WriteResponse => ({ statusCode: result.transaction === null ? 200 : 201, body: result })

/**
 * Records one transaction of the backend's changes (POST /transactions). Without an
 * Idempotency-Key there is no stored answer to keep in step with the versions, so the
 * write needs no database transaction around its read (two statements at most, see
 * recordChangesOptimistically); with one, the answer is stored in the write's own
 * database transaction.
 */
export async function ingestTransaction (
  scope: Scope, input: TransactionInput, idempotency: { key: string, fingerprint: string } | undefined
): Promise<WriteOutcome> {
  const { db, tenant, definitions, latest } = scope
  const types = input.changes.map((c) => c.type)
  if (idempotency === undefined) {
    return { ...answer(await recordChangesOptimistically(db, tenant, await definitions.get(db, types), input, latest)), replayed: false }
  }
  let recorded: RecordResult | undefined
  const outcome = await runWrite(db, tenant, idempotency, async (trx) => {
    recorded = await recordChanges(trx, tenant, await definitions.get(trx, types), input)
    return answer(recorded)
  })
  // Committed now: what it recorded is the entities' latest state (a replay recorded nothing).
  if (!outcome.replayed && recorded !== undefined) latest?.rememberVersions(tenant, recorded.versions)
  return outcome
}
