import { limitExceeded } from '../versioning/errors.js'
import { checkMeta } from '../versioning/meta.js'
import { recordedBy, type ServiceContext } from './context.js'
import { withCurrentDefinitions } from './definitions.js'
import { writeResponse, type IdempotentRequest, type WriteOutcome } from './idempotency.js'
import { recordChanges, recordChangesOptimistically, type TransactionInput } from './record.js'
import { recordInTransaction } from './write.js'

/**
 * Records one transaction of the backend's changes (POST /transactions). Without an
 * Idempotency-Key there is no stored answer to keep in step with the versions, so the
 * write needs no database transaction around its read (two statements at most, see
 * recordChangesOptimistically); with one, the answer is stored in the write's own
 * database transaction.
 */
export async function ingestTransaction (
  ctx: ServiceContext, input: TransactionInput, idempotency: IdempotentRequest | undefined
): Promise<WriteOutcome> {
  const { db, tenant, definitions } = ctx
  const writers = { hints: ctx.latest, order: ctx.writeOrder, commits: ctx.groupCommit }
  checkMeta(input.meta)
  if (input.changes.length > ctx.limits.maxChanges) {
    throw limitExceeded(`a transaction holds at most ${ctx.limits.maxChanges} changes (this one has ${input.changes.length})`)
  }
  input = { ...input, recordedBy: recordedBy(ctx) }
  const types = input.changes.map((c) => c.type)
  return await withCurrentDefinitions(definitions, async () => {
    if (idempotency === undefined) {
      return { ...writeResponse(await recordChangesOptimistically(db, tenant, await definitions.get(db, types), input, writers)), replayed: false }
    }
    return await recordInTransaction(ctx, idempotency, async (trx) => await recordChanges(trx, tenant, await definitions.get(trx, types), input))
  })
}
