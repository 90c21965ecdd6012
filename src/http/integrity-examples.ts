/** Examples of the integrity, redaction and retention operations (see examples.ts for the core's). */

const HASH_A = '3f7c1d0e9b2a48c6a1e5d7f09c3b2a1e4d6f8a0b2c4e6f8091a3b5c7d9e1f302'
const HASH_B = '9a0e4c2b7d1f3a5c8e6b0d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c'

export const checkpointExample = {
  tenant: 'default',
  sequence: 2,
  createdAt: '2025-01-15T09:32:00.000Z',
  upToTransactionId: 2,
  versions: 2,
  root: 'b7e1c9a3f5d7e9b1c3a5f7d9e1b3c5a7f9d1e3b5c7a9f1d3e5b7c9a1f3d5e7b9',
  records: 'e3a1c5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3',
  previous: '1c3e5a7b9d1f3c5e7a9b1d3f5c7e9a1b3d5f7c9e1a3b5d7f9c1e3a5b7d9f1c3e',
  signature: 'kH0g2mP3c8v1Q9l6xW4t7Yb5Rn2Ze8Ja0Fs3Ud6Lq1Ko9Vi4Mh7Gc2Pw5Tx8Nb3Dy6Er1Sa4Ij7Uf0Zk9Ql2Wm5Xo8Yp3Bt6Cv1=='
}

export const verifyOkExample = { ok: true, versionsChecked: 2, checkpointsChecked: 2, problems: [] }

export const verifyProblemExample = {
  ok: false,
  versionsChecked: 2,
  checkpointsChecked: 2,
  problems: [{ type: 'article', id: '1', transactionId: 2, problem: 'its hash does not match its contents and the previous version (a version changed, removed, inserted or reordered)' }]
}

const documentExample = (index: number, transactionId: number, previous: string): Record<string, unknown> => ({
  version: { tenant: 'default', type: 'article', id: '1', index, transactionId, operation: index === 0 ? 'insert' : 'update' },
  transaction: { issuedAt: '2025-01-15T09:30:00.000Z', recordedAt: '2025-01-15T09:30:00.000Z', actor: 'user-42', meta: {}, recordedBy: { keyId: 'key_Xy3v0Qm9aTbL', keyName: 'bootstrap admin' }, revertOf: null },
  fields: index === 0 ? { content: '0b2d…', id: 'a3c5…', name: 'd7f1…' } : { content: '5e7a…', id: '9c1e…', name: '7f9a…' },
  previous
})

export const proofExample = {
  version: { type: 'article', id: '1', transactionId: 1, index: 0, hash: HASH_A },
  document: documentExample(0, 1, '0'.repeat(64)),
  values: {
    data: { id: 1, name: 'Initial Name', content: 'Initial Content' },
    changeset: { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] },
    salts: { id: 'q1Xc3Vb5Nm7Lk9Jh1Gf3Ds', name: 'a5Sd7Fg9Hj1Kl3Zx5Cv7Bn', content: 'm9Qw1Er3Ty5Ui7Op9As1Df' }
  },
  chain: [documentExample(1, 2, HASH_A)],
  leaf: { type: 'article', id: '1', hash: HASH_B },
  leafIndex: 0,
  treeSize: 1,
  auditPath: [],
  checkpoint: checkpointExample
}

export const redactionExample = {
  id: 'red_5f0c2a9e41d84b7f9a3c6e1d2b8f4a70',
  type: 'user',
  entityId: '7',
  fields: ['email'],
  reason: 'erasure request #1234',
  versions: 3,
  recordedBy: { keyId: 'key_Xy3v0Qm9aTbL', keyName: 'bootstrap admin' },
  createdAt: '2025-01-15T09:40:00.000Z'
}

export const legalHoldExample = {
  id: 'hold_8d1e3b5a7c9f41e2b4d6a8c0e2f4b6d8',
  type: 'invoice',
  entityId: null,
  reason: 'litigation 2025-17',
  createdAt: '2025-01-15T09:45:00.000Z'
}

export const pruneReportExample = {
  versions: 4,
  entities: [{ type: 'session', id: '42', versions: 4, keptFromIndex: 4 }],
  truncated: false
}
