import type { Checkpoint } from '../integrity/checkpoint.js'
import { commitmentsOf, type Salts } from '../integrity/commitments.js'
import { GENESIS_HASH } from '../integrity/canonical.js'
import { auditPath, leafHash, type Leaf } from '../integrity/merkle.js'
import { hashedDocument, type HashedDocument } from '../integrity/version-hash.js'
import { notFound } from '../versioning/errors.js'
import type { JsonObject } from '../versioning/json.js'
import { checkpointCovering, headOf } from '../store/checkpoints.js'
import { anchorOf } from '../store/anchors.js'
import { entityChain, type ScannedVersion } from '../store/history-scan.js'
import { heads, makeCheckpoint } from './checkpoints.js'
import type { ServiceContext } from './context.js'
import { withoutExcluded } from './excluded-values.js'
import { definitionsWith, missingOrPruned } from './history.js'

/**
 * What a third party needs to check, with the service's public key alone, that a version
 * is in a signed checkpoint: the version's hashed document (and its values with their
 * salts, to check them against its commitments), the hashed documents of the entity's
 * later versions up to its head in the checkpoint, the leaf of that head, its RFC 6962
 * audit path to the checkpoint's root, and the signed checkpoint.
 */
export interface Proof {
  version: { type: string, id: string, transactionId: number, index: number, hash: string }
  document: HashedDocument
  values: { data: JsonObject, changeset: JsonObject, salts: Salts }
  chain: HashedDocument[]
  leaf: Leaf
  leafIndex: number
  treeSize: number
  auditPath: string[]
  checkpoint: Checkpoint
}

const documentOf = (tenant: string, v: ScannedVersion, previous: string): HashedDocument => hashedDocument(
  { tenant, type: v.type, id: v.id, index: v.index, transactionId: v.transactionId, operation: v.operation },
  v.transaction!, commitmentsOf({ data: v.data, changeset: v.changeset }, v.salts, v.erased).commitments, previous)

/** The proof of one version, against the newest checkpoint that covers it (made now if none does yet). */
export async function versionProof (ctx: ServiceContext, type: string, key: string, transactionId: number): Promise<Proof> {
  const { db, tenant } = ctx
  const definitions = await definitionsWith(ctx, type)
  let checkpoint = await checkpointCovering(db, tenant, transactionId)
  if (checkpoint === undefined) {
    await makeCheckpoint(db, tenant, ctx.signer, true)
    checkpoint = await checkpointCovering(db, tenant, transactionId)
  }
  const head = checkpoint === undefined ? undefined : await headOf(db, tenant, checkpoint.sequence, { type, key })
  const versions = head === undefined ? [] : await entityChain(db, tenant, type, key, 0, head.transactionId)
  const at = versions.findIndex((v) => v.transactionId === transactionId)
  if (checkpoint === undefined || head === undefined || at < 0) {
    throw await missingOrPruned(ctx, type, key, transactionId, notFound(`${type} "${key}" has no version at transaction ${transactionId}`))
  }
  const anchor = versions[0]!.index > 0 ? await anchorOf(db, tenant, { type, key }) : undefined
  let previous = anchor?.hash ?? GENESIS_HASH
  const documents = versions.map((v) => {
    const document = documentOf(tenant, v, previous)
    previous = v.hash
    return document
  })
  const version = versions[at]!
  // Values of fields the type excludes are never shown: their commitments in `document` stand alone.
  const shown = withoutExcluded(definitions, { type, data: version.data, changeset: version.changeset as JsonObject, salts: version.salts, erased: version.erased })
  const leaves: Buffer[] = []
  let leafIndex = -1
  for await (const h of heads(db, tenant, checkpoint.sequence)) {
    if (h.type === type && h.id === key) leafIndex = leaves.length
    leaves.push(leafHash(h))
  }
  return {
    version: { type, id: key, transactionId, index: version.index, hash: version.hash },
    document: documents[at]!,
    values: { data: shown.data, changeset: shown.changeset, salts: shown.salts },
    chain: documents.slice(at + 1),
    leaf: { type, id: key, hash: head.hash },
    leafIndex,
    treeSize: leaves.length,
    auditPath: auditPath(leaves, leafIndex).map((b) => b.toString('hex')),
    checkpoint
  }
}
