import { chmod, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { LRUCache } from 'lru-cache'
import {
  canGrant, MIN_SECRET_LENGTH, newKeyId, newSecret, secretHash, VIEWER_TOKEN_PREFIX, type AccessScope, type Caller
} from '../access/index.js'
import { DomainError, forbidden, invalid, notFound } from '../versioning/errors.js'
import { inTransaction, type Db } from '../store/database.js'
import { anyApiKeyEver, findLiveKeyByHash, insertApiKey, listApiKeys, revokeApiKey, type ApiKey } from '../store/api-keys.js'
import { lockNames } from '../store/locks.js'
import { findLiveViewerToken } from '../store/viewer-tokens.js'
import type { ServiceContext } from './context.js'
import { readPage, type Page } from './page.js'

/** A key as created: the only answer that holds its secret. */
export interface CreatedKey { id: string, name: string, scopes: AccessScope[], tenant: string, createdAt: string, key: string }

const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/

/** Creates a key of a tenant (the operator's command line, or an admin for its own tenant). */
export async function createApiKey (
  db: Db, request: { tenant: string, name: string, scopes: readonly AccessScope[], secret?: string | undefined }
): Promise<CreatedKey> {
  if (!TENANT_PATTERN.test(request.tenant)) throw invalid('tenant must match ^[a-z0-9][a-z0-9_-]{0,62}$')
  if (request.name.trim() === '') throw invalid('name must not be empty')
  if (request.scopes.length === 0) throw invalid('scopes must name at least one scope')
  const key = request.secret ?? newSecret()
  if (key.length < MIN_SECRET_LENGTH) throw invalid(`a key must be at least ${MIN_SECRET_LENGTH} characters`)
  const scopes = [...new Set(request.scopes)]
  const stored = await insertApiKey(db, { id: newKeyId(), tenant: request.tenant, name: request.name, scopes, secretHash: secretHash(key) })
  return { id: stored.id, name: stored.name, scopes: stored.scopes, tenant: stored.tenant, createdAt: stored.createdAt, key }
}

/** POST /api-keys: a key in the caller's tenant, with scopes the caller holds itself. */
export async function createTenantKey (ctx: ServiceContext, name: string, scopes: readonly AccessScope[]): Promise<CreatedKey> {
  if (ctx.caller !== undefined && !canGrant(ctx.caller.scopes, scopes)) throw forbidden('a key can only be given scopes its creator holds')
  return await createApiKey(ctx.db, { tenant: ctx.tenant, name, scopes })
}


export async function tenantKeys (ctx: ServiceContext, after: string | undefined, limit: number): Promise<Page<ApiKey>> {
  return await readPage(limit, async (count) => await listApiKeys(ctx.db, ctx.tenant, after, count))
}

/** Revokes a key of the caller's tenant at once on this instance (the others within KeyRing's TTL). */
export async function revokeTenantKey (ctx: ServiceContext, keys: KeyRing, id: string): Promise<ApiKey> {
  const revoked = await revokeApiKey(ctx.db, ctx.tenant, id)
  if (revoked === undefined) throw notFound(`API key "${id}" does not exist`)
  keys.forgetAll()
  return revoked
}

/**
 * Authenticates secrets, keeping what it found for `ttlMs` so that a request costs no
 * query for its key; a key revoked on another instance stops working within `ttlMs`.
 * While the database is unreachable, a key seen in the last `staleMs` still authenticates:
 * nothing that needs the database can succeed then, and a malformed request still gets
 * its 400 rather than a 503 for the key lookup.
 */
const isUnavailable = (error: unknown): boolean => error instanceof DomainError && error.kind === 'unavailable'

export class KeyRing {
  private readonly found: LRUCache<string, { caller: Caller, at: number }>

  constructor (private readonly db: Db, private readonly ttlMs = 500, private readonly staleMs = 600_000) {
    this.found = new LRUCache({ max: 10_000 })
  }

  /** The caller a secret (an API key or a viewer token) belongs to, or undefined for an unknown, revoked or expired one. */
  async authenticate (secret: string): Promise<Caller | undefined> {
    const hash = secretHash(secret)
    const hit = this.found.get(hash)
    const usable = hit !== undefined && (hit.caller.expiresAt === undefined || Date.now() < hit.caller.expiresAt)
    if (usable && Date.now() - hit.at < this.ttlMs) return hit.caller
    let caller: Caller | undefined
    try {
      caller = await this.lookUp(secret, hash)
    } catch (error) {
      if (usable && Date.now() - hit.at < this.staleMs && isUnavailable(error)) return hit.caller
      throw error
    }
    if (caller === undefined) {
      this.found.delete(hash)
      return undefined
    }
    this.found.set(hash, { caller, at: Date.now() })
    return caller
  }

  private async lookUp (secret: string, hash: string): Promise<Caller | undefined> {
    if (secret.startsWith(VIEWER_TOKEN_PREFIX)) {
      const token = await findLiveViewerToken(this.db, hash)
      if (token === undefined) return undefined
      return {
        keyId: token.issuedBy,
        keyName: token.issuerName,
        tenant: token.tenant,
        scopes: ['read'],
        expiresAt: Date.parse(token.expiresAt),
        ...(token.type !== null ? { view: { type: token.type, ...(token.entityKey !== null ? { id: token.entityKey } : {}) } } : {})
      }
    }
    const key = await findLiveKeyByHash(this.db, hash)
    return key === undefined ? undefined : { keyId: key.id, keyName: key.name, tenant: key.tenant, scopes: key.scopes }
  }

  forgetAll (): void {
    this.found.clear()
  }
}

/**
 * First start: on a database that never had a key, creates an admin key of tenant
 * `default`: REWIND_BOOTSTRAP_KEY's value (the operator has it: no copy is written), or a
 * new one written to `$DATA_DIR/admin-key` (`admin-key.1`, `.2`… when that file holds
 * another database's key already), readable by this user only. Answers where the
 * key is, or undefined when keys existed already. One instance does it: the check and
 * the insert hold a lock.
 */
export async function bootstrapAdminKey (db: Db, dataDir: string, secret: string | undefined): Promise<string | undefined> {
  const created = await inTransaction(db, async (trx) => {
    await lockNames(trx, '', ['\u0000bootstrap-key'])
    if (await anyApiKeyEver(trx)) return undefined
    return await createApiKey(trx, { tenant: 'default', name: 'bootstrap admin', scopes: ['admin'], secret })
  })
  if (created === undefined) return undefined
  if (secret !== undefined) return 'REWIND_BOOTSTRAP_KEY'
  await mkdir(path.resolve(dataDir), { recursive: true, mode: 0o700 })
  // A file there already holds another database's first key (the embedded one, say): kept, and this one goes beside it.
  for (let n = 0; ; n++) {
    const file = path.resolve(dataDir, n === 0 ? 'admin-key' : `admin-key.${n}`)
    try {
      await writeFile(file, created.key + '\n', { mode: 0o600, flag: 'wx' })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw error
    }
    await chmod(file, 0o600)
    return file
  }
}
