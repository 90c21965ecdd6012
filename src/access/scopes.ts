/**
 * What an API key may do. `admin` holds every other scope; `metrics` is for a scraper
 * that reads GET /metrics and nothing else.
 */
export const SCOPES = ['read', 'write', 'revert', 'types', 'admin', 'metrics'] as const
export type AccessScope = typeof SCOPES[number]

/** What a route needs: a scope, or nothing at all (public: probes, documentation). */
export type Requirement = AccessScope | 'public'

/** True when a key with `held` scopes may do what needs `needed`. */
export function allows (held: readonly AccessScope[], needed: AccessScope): boolean {
  return held.includes(needed) || held.includes('admin')
}

/** True when every scope of `wanted` is one the holder of `held` may hand on (a key creates keys of its own powers at most). */
export function canGrant (held: readonly AccessScope[], wanted: readonly AccessScope[]): boolean {
  return wanted.every((scope) => allows(held, scope))
}

export const isScope = (value: string): value is AccessScope => (SCOPES as readonly string[]).includes(value)
