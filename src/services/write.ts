import type { Trx } from '../store/database.js'
import type { ServiceContext } from './context.js'
import { runWrite, writeResponse, type IdempotentRequest, type WriteOutcome } from './idempotency.js'
import { presentedAnswer } from './present.js'
import type { RecordResult } from './record.js'

/**
 * Runs a recording write in one database transaction (see runWrite: retried on
 * deadlocks, its answer stored under the Idempotency-Key), then, once it committed,
 * keeps what it recorded as the entities' latest state, so that the next write to them
 * need not read it.
 */
export async function recordInTransaction<R extends RecordResult> (
  ctx: ServiceContext, idempotency: IdempotentRequest | undefined, write: (trx: Trx) => Promise<R>
): Promise<WriteOutcome> {
  let recorded: R | undefined
  const outcome = await runWrite(ctx, idempotency, async (trx) => {
    recorded = await write(trx)
    return writeResponse(recorded)
  })
  // A replay recorded nothing, and shows its stored answer as answers are shown now (excluded fields gone).
  if (outcome.replayed) return { ...outcome, body: presentedAnswer(await ctx.definitions.get(ctx.db), outcome.body) }
  // Otherwise the last attempt's result is what committed.
  if (recorded !== undefined) ctx.latest?.rememberVersions(ctx.tenant, recorded.versions)
  return outcome
}
