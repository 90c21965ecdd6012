import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { respond } from '../schemas.js'
import type { WriteOutcome } from '../../services/idempotency.js'

export const RevertAnswer = Type.Object({
  transaction: Type.Union([Type.Ref('Transaction'), Type.Null()]),
  changes: Type.Array(Type.Ref('Change')),
  versions: Type.Array(Type.Ref('Version'))
})

/** The 200 and 201 answers of a revert; `example` is a recorded one. */
export const revertResponses = (example: unknown): { 200: typeof RevertAnswer, 201: typeof RevertAnswer } => ({
  200: respond(RevertAnswer, 'Nothing to change, or a dry run: the changes that would be made; nothing recorded'),
  201: respond(Type.Object(RevertAnswer.properties, { examples: [example] }), 'Recorded as a new transaction; apply `changes` in order to the backend\'s own store')
})

/** Sends the answer of a write; a replayed idempotent answer says so in a header. */
export async function sendWrite (reply: FastifyReply, outcome: WriteOutcome): Promise<FastifyReply> {
  if (outcome.replayed) reply.header('idempotent-replayed', 'true')
  return await reply.code(outcome.statusCode).send(outcome.body)
}
