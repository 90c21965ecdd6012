import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** The Ed25519 key checkpoints are signed with, and its public half (SPKI PEM) that anyone may have. */
export interface Signer {
  privateKey: KeyObject
  publicKeyPem: string
  /** A secret derived from the private key, for fingerprints that must not be guessable from the database. */
  fingerprintSecret: Buffer
}

export interface SigningKeySource {
  /** The private key itself (PKCS#8 PEM), e.g. from a secret store. */
  key?: string | undefined
  /** A file holding it. */
  keyFile?: string | undefined
  /** Where a generated key is kept when neither is given. */
  dataDir: string
}

const signerOf = (privateKey: KeyObject): Signer => {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the signing key must be an Ed25519 key (this one is ${privateKey.asymmetricKeyType ?? 'unknown'})`)
  return {
    privateKey,
    publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    fingerprintSecret: createHash('sha256').update('rewind request fingerprint\u0000').update(privateKey.export({ type: 'pkcs8', format: 'der' })).digest()
  }
}

/** A key for this process only (tests, tools): nothing it signs can be checked after it ends. */
export const ephemeralSigner = (): Signer => signerOf(generateKeyPairSync('ed25519').privateKey)

/** The file a generated key is kept in. */
export const generatedKeyFile = (dataDir: string): string => path.join(dataDir, 'signing-key.pem')

/**
 * The signing key from configuration (the key, or a file), or else the one generated into
 * DATA_DIR on the first start. `generated` names that file: a key kept beside the data
 * proves less than one kept elsewhere (whoever can rewrite the data can also sign).
 */
export function loadSigner (source: SigningKeySource): { signer: Signer, generated?: string } {
  if (source.key !== undefined && source.key !== '') return { signer: signerOf(createPrivateKey(source.key)) }
  if (source.keyFile !== undefined && source.keyFile !== '') return { signer: signerOf(createPrivateKey(readFileSync(source.keyFile))) }
  const file = generatedKeyFile(source.dataDir)
  if (!existsSync(file)) {
    mkdirSync(source.dataDir, { recursive: true, mode: 0o700 })
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    writeFileSync(file, pem, { flag: 'wx', mode: 0o600 })
  }
  return { signer: signerOf(createPrivateKey(readFileSync(file))), generated: file }
}
