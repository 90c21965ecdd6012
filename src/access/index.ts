/** Access control: API keys, their tenants and scopes. Pure rules; storage and checks live in services. */
export { SCOPES, allows, canGrant, isScope, type AccessScope, type Requirement } from './scopes.js'
export { KEY_PREFIX, MIN_SECRET_LENGTH, VIEWER_TOKEN_PREFIX, newKeyId, newSecret, newViewerToken, newViewerTokenId, secretHash } from './secrets.js'

/** Who made a request: the key, its tenant and scopes. */
export interface Caller {
  keyId: string
  keyName: string
  tenant: string
  scopes: readonly import('./scopes.js').AccessScope[]
  /** A viewer token's limit: it sees one type, or one entity of it, and nothing else. */
  view?: ViewLimit
  /** When a viewer token stops working (epoch ms). */
  expiresAt?: number
}

/** What a limited viewer token may see: one entity type, or one entity (`id`: its key) of it. */
export interface ViewLimit { type: string, id?: string }

/** True when an entity is inside a viewer's limit (no limit: everything is). */
export const inView = (view: ViewLimit | undefined, type: string, key: string): boolean =>
  view === undefined || (view.type === type && (view.id === undefined || view.id === key))
