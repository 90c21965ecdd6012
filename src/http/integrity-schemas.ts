import { Type } from 'typebox'
import { checkpointExample } from './integrity-examples.js'

/** A SHA-256, hex. */
export const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' })

/** A signed checkpoint (shared: answers and request bodies refer to it). */
export const CheckpointSchema = Type.Object({
  tenant: Type.String(),
  sequence: Type.Integer({ minimum: 1 }),
  createdAt: Type.String({ format: 'date-time' }),
  upToTransactionId: Type.Integer({ minimum: 0, description: 'Every transaction up to this id had committed when the checkpoint was made.' }),
  versions: Type.Integer({ minimum: 0, description: 'Stored versions up to upToTransactionId.' }),
  root: Type.String({ ...Hex, description: 'RFC 6962 Merkle root over the leaves {type, id, hash}: every entity\'s latest hash, by type then id.' }),
  records: Type.String({ ...Hex, description: 'Chain hash of the redaction, pruning and type-definition records so far.' }),
  previous: Type.Union([Hex, Type.Null()], { description: 'SHA-256 of the previous checkpoint\'s canonical JSON (null for the first).' }),
  signature: Type.String({ description: 'Base64 Ed25519 signature of the RFC 8785 canonical JSON of the other members.' })
}, { $id: 'Checkpoint', additionalProperties: false, examples: [checkpointExample] })
