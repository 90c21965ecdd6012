import { createHash, randomBytes } from 'node:crypto'

/** API keys carry this prefix, so that secret scanners recognise a leaked one. */
export const KEY_PREFIX = 'rwd_'

/** A new API key: the prefix and 32 random bytes (base64url). */
export const newSecret = (): string => KEY_PREFIX + randomBytes(32).toString('base64url')

/** Viewer tokens carry their own prefix: a leaked one is recognisable, and a short-lived read-only one at that. */
export const VIEWER_TOKEN_PREFIX = 'rwv_'

/** A new viewer token: the prefix and 32 random bytes (base64url). */
export const newViewerToken = (): string => VIEWER_TOKEN_PREFIX + randomBytes(32).toString('base64url')

export const newViewerTokenId = (): string => 'vt_' + randomBytes(9).toString('base64url')

/** A new key id: short, random, safe in a URL path. */
export const newKeyId = (): string => 'key_' + randomBytes(9).toString('base64url')

/**
 * What is stored of a secret: its SHA-256. A key has 256 random bits, so a fast hash is
 * enough (no password stretching needed), and looking it up by hash leaks nothing
 * useful through timing: the attacker controls the secret, not its hash.
 */
export const secretHash = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex')

/** The smallest secret accepted from configuration (REWIND_BOOTSTRAP_KEY). */
export const MIN_SECRET_LENGTH = 32
