// Deep links: every view has its own path under /ui (History API), read back on load and on Back/Forward.
import { html, useEffect, useState } from '../vendor/preact-htm.js'
import { basePath } from './api.js'

const NAVIGATE = 'rewind:navigate'

/** The view's path relative to /ui ('/' for the start page) and its query parameters. */
export function currentLocation () {
  let path = location.pathname.slice(basePath.length)
  path = path.replace(/^\/ui/, '')
  if (path === '' || path === '/') path = '/'
  else path = path.replace(/\/+$/, '')
  return { path, query: new URLSearchParams(location.search), key: `${path}${location.search}` }
}

/** The URL of a view: `/ui` + its path (which starts with '/'). */
export const href = (path) => `${basePath}/ui${path === '/' ? '' : path}`

/** Goes to a view (a new history entry, or replacing this one). */
export function navigate (path, { replace = false, keepScroll = false } = {}) {
  const url = href(path)
  if (url === location.pathname + location.search && !replace) return
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  dispatchEvent(new CustomEvent(NAVIGATE, { detail: { keepScroll } }))
}

/** The location, re-rendered on navigation (links, Back and Forward). */
export function useLocation () {
  const [loc, setLoc] = useState(currentLocation)
  useEffect(() => {
    const update = (event) => {
      setLoc(currentLocation())
      if (event.type === NAVIGATE && event.detail?.keepScroll !== true) scrollTo(0, 0)
    }
    addEventListener('popstate', update)
    addEventListener(NAVIGATE, update)
    return () => {
      removeEventListener('popstate', update)
      removeEventListener(NAVIGATE, update)
    }
  }, [])
  return loc
}

/** A real link (open in a new tab works) that navigates in place on a plain click. */
export function Link ({ to, children, onClick: before, ...rest }) {
  const onClick = (event) => {
    before?.(event)
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(to)
  }
  return html`<a href=${href(to)} onClick=${onClick} ...${rest}>${children}</a>`
}

/**
 * Matches a path against patterns such as '/entities/:type/:id': the decoded parameters, or null.
 * Segments are percent-decoded one by one, so that a key holding '/' (sent as %2F) stays one segment.
 */
export function match (pattern, path) {
  const want = pattern.split('/').filter(Boolean)
  const got = path.split('/').filter(Boolean)
  if (want.length !== got.length) return null
  const params = {}
  for (let i = 0; i < want.length; i++) {
    let value
    try { value = decodeURIComponent(got[i]) } catch { return null }
    if (want[i].startsWith(':')) params[want[i].slice(1)] = value
    else if (want[i] !== value) return null
  }
  return params
}
