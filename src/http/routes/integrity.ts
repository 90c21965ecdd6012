import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Checkpoint } from '../../integrity/checkpoint.js'
import { checkpoints, makeCheckpoint } from '../../services/checkpoints.js'
import { exportLines } from '../../services/export.js'
import { versionProof } from '../../services/proofs.js'
import { verifyHistory } from '../../services/verify.js'
import { decodeCursor, encodeCursor, pageBody } from '../cursor.js'
import { checkpointExample, proofExample, verifyOkExample, verifyProblemExample } from '../integrity-examples.js'
import { CheckpointSchema, Hex } from '../integrity-schemas.js'
import { EntityId, PageQuery, Query, TransactionId, TypeName, answers, doc, page, problems, respond } from '../schemas.js'

/** The cursor a transaction line of an export carries. */
const exportCursor = (transactionId: number): string => encodeCursor('export', transactionId)

const ProblemItem = Type.Object({
  type: Type.Union([Type.String(), Type.Null()]),
  id: Type.Union([Type.String(), Type.Null()]),
  transactionId: Type.Union([Type.Integer(), Type.Null()]),
  problem: Type.String()
})

const VerifyReport = Type.Object({
  ok: Type.Boolean(),
  versionsChecked: Type.Integer({ minimum: 0 }),
  checkpointsChecked: Type.Integer({ minimum: 0 }),
  problems: Type.Array(ProblemItem, { description: 'The first 100 problems, each naming the entity and transaction it concerns.' })
}, { examples: [verifyOkExample, verifyProblemExample] })

const VerifyInput = Type.Object({
  checkpoint: Type.Optional(Type.Object(CheckpointSchema.properties, { additionalProperties: false, description: 'A checkpoint you kept: the history must still contain it unchanged (else it was rolled back or forked).' }))
}, { additionalProperties: false, examples: [{}, { checkpoint: checkpointExample }] })

const HashedDocument = Type.Object({}, { additionalProperties: true, description: 'What a version\'s hash is the SHA-256 of (as RFC 8785 canonical JSON): {version, transaction, fields, previous}, fields holding a commitment per field.' })

const ProofSchema = Type.Object({
  version: Type.Object({ type: Type.String(), id: Type.String(), transactionId: Type.Integer(), index: Type.Integer(), hash: Hex }),
  document: HashedDocument,
  values: Type.Object({ data: Type.Object({}, { additionalProperties: true }), changeset: Type.Object({}, { additionalProperties: true }), salts: Type.Record(Type.String(), Type.String()) }, { description: 'The version\'s values and each field\'s salt: commitment = SHA-256(canonical {changeset, data, field, salt}), changeset and data present when the version has them.' }),
  chain: Type.Array(HashedDocument, { description: 'The hashed documents of the entity\'s later versions, up to its head in the checkpoint: each one\'s `previous` is the hash of the one before.' }),
  leaf: Type.Object({ type: Type.String(), id: Type.String(), hash: Hex }),
  leafIndex: Type.Integer({ minimum: 0 }),
  treeSize: Type.Integer({ minimum: 1 }),
  auditPath: Type.Array(Hex, { description: 'RFC 6962 audit path from the leaf to the root (leaf = SHA-256(0x00 || canonical leaf), node = SHA-256(0x01 || left || right)).' }),
  checkpoint: Type.Ref('Checkpoint')
}, { examples: [proofExample] })

const ExportQuery = Query({
  after: Type.Optional(Type.String({ description: 'Resume after a transaction line: its `cursor`.' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Transactions issued at or after this time.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Transactions issued before this time.' })),
  type: Type.Optional(TypeName)
})

/** Checkpoints, the public key, proofs, verification and the export. */
export const integrityRoutes = (): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/integrity/public-key', { config: { access: 'public' }, schema: {
    ...doc('getPublicKey', 'integrity', 'The public key checkpoints are signed with (SPKI PEM)',
      'Keep a copy: with it alone, anyone can check a checkpoint, a proof or an export.'),
    response: { 200: { description: 'The Ed25519 public key, PEM', content: { 'application/x-pem-file': { schema: { type: 'string' }, example: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA…\n-----END PUBLIC KEY-----\n' } } } }
  } }, async ({ ctx }, reply) => await reply.type('application/x-pem-file').send(ctx.signer.publicKeyPem))

  app.get('/integrity/checkpoints', { config: { access: 'read' }, schema: {
    ...doc('listCheckpoints', 'integrity', 'List the signed checkpoints, newest first'), querystring: Query(PageQuery),
    response: answers(page(Type.Ref('Checkpoint'), [{ items: [checkpointExample], nextCursor: null }]), 'A page of checkpoints', 400)
  } }, async ({ ctx, query: q }) => pageBody(await checkpoints(ctx, decodeCursor('checkpoints', q.cursor), q.limit ?? 50), 'checkpoints', (c) => c.sequence))

  app.post('/integrity/checkpoints', { config: { access: 'admin' }, schema: {
    ...doc('createCheckpoint', 'integrity', 'Make and sign a checkpoint now',
      'Checkpoints are also made on their own, at least every CHECKPOINT_INTERVAL_MS while there is new history.'),
    response: { 201: respond(Type.Ref('Checkpoint'), 'The new checkpoint'), ...problems(400) }
  } }, async ({ ctx }, reply) => await reply.code(201).send(await makeCheckpoint(ctx.db, ctx.tenant, ctx.signer, true)))

  app.post('/integrity/verify', { config: { access: 'admin' }, schema: {
    ...doc('verifyIntegrity', 'integrity', 'Re-compute every chain and checkpoint of the tenant',
      'Streams through the history (constant memory). With a checkpoint you kept, also reports a history that no longer contains it.'),
    body: Type.Optional(VerifyInput),
    response: answers(VerifyReport, '`ok` and the problems found, each naming the entity and transaction', 400, 413, 415)
  } }, async ({ ctx, body }) => await verifyHistory(ctx, ctx.signer.publicKeyPem, body?.checkpoint as Checkpoint | undefined))

  app.get('/entities/:type/:id/versions/:transactionId/proof', { config: { access: 'read' }, schema: {
    ...doc('getVersionProof', 'integrity', 'Prove that a version is in a signed checkpoint',
      'Everything a third party needs, with the public key alone. When no checkpoint covers the version yet, one is made.'),
    params: Type.Object({ type: TypeName, id: EntityId, transactionId: TransactionId }),
    response: answers(ProofSchema, 'The proof', 400, 404, 410)
  } }, async ({ ctx, params: p }) => await versionProof(ctx, p.type, p.id, p.transactionId))

  app.get('/export', { config: { access: 'read' }, handlerTimeout: 24 * 60 * 60 * 1000, schema: {
    ...doc('exportHistory', 'integrity', 'Export the history as NDJSON, enough for `rewind verify`',
      'Lines of `{"kind": …}`: `export` (first), `anchor`, `transaction` (with its versions, salts and hashes; its `cursor` resumes with ?after=), ' +
      '`record`, `checkpoint`, `head` and `end` (last, with the counts).'),
    querystring: ExportQuery,
    response: { 200: { description: 'application/x-ndjson, one JSON object per line', content: { 'application/x-ndjson': { schema: { type: 'string' }, example: '{"kind":"export","tenant":"default","exportedAt":"2025-01-15T09:50:00.000Z","filtered":false,"filter":{}}\n{"kind":"end","transactions":0,"versions":0}\n' } } }, ...problems(400) }
  } }, async ({ ctx, query: q }, reply) => {
    const after = decodeCursor('export', q.after)
    const lines = exportLines(ctx, { after, since: q.since, until: q.until, type: q.type }, exportCursor)
    return await reply.type('application/x-ndjson').send(Readable.from(lines) as unknown as string)
  })
}
