// Talking to the Rewind API: the key or viewer token of this tab, requests, problem+json errors.

const STORAGE_KEY = 'rewind.viewer.credential'

/** Where the service is mounted: everything before /ui in the page's path (usually nothing). */
export const basePath = (() => {
  const match = /^(.*?)\/ui(?:\/|$)/.exec(location.pathname)
  return match === null ? '' : match[1]
})()

let memoryCredential = null

/** The key or viewer token this tab signed in with (session storage: gone when the tab closes). */
export function getCredential () {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? memoryCredential
  } catch {
    return memoryCredential // storage refused (some embedded contexts): kept in memory for this page only
  }
}

export function setCredential (value) {
  memoryCredential = value
  try { sessionStorage.setItem(STORAGE_KEY, value) } catch { /* memory only */ }
}

export function clearCredential () {
  memoryCredential = null
  try { sessionStorage.removeItem(STORAGE_KEY) } catch { /* memory only */ }
}

/** Viewer tokens (rwv_…) are read-only: the page does not offer what they cannot do. */
export const isViewerToken = (credential) => typeof credential === 'string' && credential.startsWith('rwv_')

/**
 * A key or token given in the fragment (`#token=…`): kept in session storage, then removed from
 * the address bar (and so from the history and from anything that copies the URL).
 */
export function takeFragmentCredential () {
  const hash = location.hash.replace(/^#/, '')
  if (hash === '') return false
  const params = new URLSearchParams(hash)
  const token = params.get('token') ?? params.get('key')
  if (token === null || token.trim() === '') return false
  setCredential(token.trim())
  params.delete('token')
  params.delete('key')
  const rest = params.toString()
  history.replaceState(history.state, '', location.pathname + location.search + (rest === '' ? '' : `#${rest}`))
  return true
}

/** An answer other than 2xx, with its problem+json body. */
export class ApiError extends Error {
  constructor (status, problem) {
    super(problemText(status, problem))
    this.name = 'ApiError'
    this.status = status
    this.problem = problem ?? {}
  }
}

/** What a person reads for a problem: its detail, else its title, else the status. */
export function problemText (status, problem) {
  if (status === 0) return problem?.detail ?? 'The service could not be reached. Check the connection and try again.'
  const detail = typeof problem?.detail === 'string' && problem.detail !== '' ? problem.detail : undefined
  const title = typeof problem?.title === 'string' && problem.title !== '' ? problem.title : `HTTP ${status}`
  if (detail === undefined) return title
  return detail.charAt(0).toUpperCase() + detail.slice(1) + (/[.!?]$/.test(detail) ? '' : '.')
}

const unauthorizedListeners = new Set()

/** Called when the service refuses the credential (401): the page goes back to sign-in. */
export function onUnauthorized (listener) {
  unauthorizedListeners.add(listener)
  return () => unauthorizedListeners.delete(listener)
}

/**
 * JSON.parse that keeps integers beyond ±(2^53−1) exact (the service does): they become raw JSON
 * values (JSON.rawJSON, shown and re-serialized as their digits) where the browser has it.
 */
function parseJson (text) {
  if (typeof JSON.rawJSON !== 'function') return JSON.parse(text)
  return JSON.parse(text, (_key, value, context) =>
    typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source !== undefined
      ? JSON.rawJSON(context.source)
      : value)
}

/** A request to the API with this tab's credential: the parsed JSON answer, or an ApiError. */
export async function api (path, { method = 'GET', body, signal, credential } = {}) {
  const secret = credential ?? getCredential()
  const headers = { accept: 'application/json, application/problem+json' }
  if (secret) headers.authorization = `Bearer ${secret}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response
  try {
    response = await fetch(basePath + path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store'
    })
  } catch (error) {
    if (error?.name === 'AbortError') throw error
    throw new ApiError(0, undefined)
  }
  const text = await response.text()
  let data
  try { data = text === '' ? undefined : parseJson(text) } catch { data = undefined }
  if (!response.ok) {
    const error = new ApiError(response.status, data ?? { detail: text.slice(0, 300) })
    if (response.status === 401 && credential === undefined) for (const listener of unauthorizedListeners) listener(error)
    throw error
  }
  return data
}

/** A query string of the defined values (`?a=1&b=x`, or '' when none). */
export function query (params) {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value))
  }
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

/** A path segment of an entity key or type (keys may hold `/`, `,`, spaces…). */
export const seg = (value) => encodeURIComponent(String(value))

/**
 * Whether this credential may revert: asked once (a dry run records nothing) and remembered.
 * Viewer tokens are read-only; a 403 means the key lacks the `revert` scope.
 */
const revertAbility = new Map()
export async function canRevert (probe) {
  const credential = getCredential()
  if (isViewerToken(credential)) return { allowed: false, reason: 'viewer-token' }
  const known = revertAbility.get(credential)
  if (known !== undefined) return known
  try {
    await probe()
    const answer = { allowed: true }
    revertAbility.set(credential, answer)
    return answer
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      const answer = { allowed: false, reason: 'scope' }
      revertAbility.set(credential, answer)
      return answer
    }
    // A conflict (409) or anything else about this entity still means the key may revert.
    if (error instanceof ApiError && error.status !== 401 && error.status !== 0) return { allowed: true }
    throw error
  }
}
