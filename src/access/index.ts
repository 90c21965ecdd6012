/** Access control: API keys, their tenants and scopes. Pure rules; storage and checks live in services. */
export { SCOPES, allows, canGrant, isScope, type AccessScope, type Requirement } from './scopes.js'
export { KEY_PREFIX, MIN_SECRET_LENGTH, newKeyId, newSecret, secretHash } from './secrets.js'

/** Who made a request: the key, its tenant and scopes. */
export interface Caller {
  keyId: string
  keyName: string
  tenant: string
  scopes: readonly import('./scopes.js').AccessScope[]
}
