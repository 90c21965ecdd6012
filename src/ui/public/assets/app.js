// The Rewind history viewer: sign-in, the frame around every view, and the views by path.
import { html, render, useEffect, useRef, useState } from '../vendor/preact-htm.js'
import { api, ApiError, clearCredential, getCredential, isViewerToken, onUnauthorized, setCredential, takeFragmentCredential } from './api.js'
import { href, Link, match, useLocation } from './router.js'
import { PageTitle } from './components.js'
import { HomeView } from './views/home.js'
import { TypeView } from './views/type.js'
import { EntityView } from './views/entity.js'
import { VersionView } from './views/version.js'
import { CompareView } from './views/compare.js'
import { TransactionsView } from './views/transactions.js'
import { TransactionView } from './views/transaction.js'

const ROUTES = [
  ['/', () => html`<${HomeView}/>`],
  ['/types/:type', (p) => html`<${TypeView} type=${p.type}/>`],
  ['/entities/:type/:id', (p) => html`<${EntityView} type=${p.type} id=${p.id}/>`],
  ['/entities/:type/:id/compare', (p, q) => html`<${CompareView} type=${p.type} id=${p.id} from=${q.get('from')} to=${q.get('to')}/>`],
  ['/entities/:type/:id/versions/:t', (p) => html`<${VersionView} type=${p.type} id=${p.id} t=${p.t}/>`],
  ['/transactions', (_p, q) => html`<${TransactionsView} query=${q}/>`],
  ['/transactions/:id', (p) => html`<${TransactionView} id=${p.id}/>`]
]

function routeView (loc) {
  for (const [pattern, view] of ROUTES) {
    const params = match(pattern, loc.path)
    if (params !== null) return view(params, loc.query)
  }
  return html`<${PageTitle}>Page not found<//>
    <p>There is no view at this address. <${Link} to="/">See the entity types<//> or <${Link} to="/transactions">the transactions<//>.</p>`
}

function Logo () {
  return html`<img class="logo" src=${href('/assets/favicon.svg')} alt="" width="28" height="28"/>`
}

function SignIn ({ message, onSignedIn }) {
  const [value, setValue] = useState('')
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const input = useRef(null)
  useEffect(() => {
    document.title = 'Sign in · Rewind'
    input.current?.focus()
  }, [])
  const submit = async (event) => {
    event.preventDefault()
    const secret = value.trim()
    if (secret === '') {
      setError('Paste an API key or a viewer token first.')
      input.current?.focus()
      return
    }
    setBusy(true)
    setError(null)
    try {
      // Any read tells whether the service accepts the key; nothing is kept until it does.
      await api('/entity-types?limit=1', { credential: secret })
      setCredential(secret)
      onSignedIn()
    } catch (e) {
      setBusy(false)
      setError(e instanceof ApiError && e.status === 401
        ? 'This key or token was not accepted: it is unknown, revoked or expired.'
        : e.message)
      input.current?.focus()
    }
  }
  return html`<div class="signin-wrap">
    <main id="main" class="signin card">
      <div class="signin-brand"><${Logo}/><span class="brand-name">Rewind</span><span class="brand-sub">history</span></div>
      <h1 id="page-heading" tabindex="-1">Sign in</h1>
      <p>Rewind keeps every version of your application's data. Sign in to browse entities, see who changed what and when, compare versions and revert changes.</p>
      ${message !== null && html`<div class="notice notice-warning" role="alert"><p>${message}</p></div>`}
      <form onSubmit=${submit} novalidate>
        <label for="credential">API key or viewer token</label>
        <input id="credential" ref=${input} type="password" autocomplete="off" spellcheck="false" autocapitalize="off"
          placeholder="rwd_… or rwv_…" value=${value} onInput=${(e) => setValue(e.currentTarget.value)}
          aria-describedby="credential-help${error !== null ? ' credential-error' : ''}" aria-invalid=${error !== null ? 'true' : undefined}/>
        <p id="credential-help" class="help">Kept in this browser tab only (session storage), sent as a Bearer token, never put in the address bar. The service's first start writes an admin key to <code>$DATA_DIR/admin-key</code>.</p>
        ${error !== null && html`<p id="credential-error" class="field-error" role="alert">${error}</p>`}
        <button type="submit" class="btn btn-primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  </div>`
}

function Shell ({ loc, onSignOut, children }) {
  const section = loc.path.startsWith('/transactions') ? 'transactions' : 'entities'
  const token = isViewerToken(getCredential())
  return html`<div class="shell">
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="topbar">
      <div class="topbar-inner">
        <${Link} to="/" class="brand"><${Logo}/><span class="brand-name">Rewind</span><span class="brand-sub">history</span><//>
        <nav aria-label="Main" class="mainnav"><ul>
          <li><${Link} to="/" aria-current=${section === 'entities' ? 'page' : undefined}>Entities<//></li>
          <li><${Link} to="/transactions" aria-current=${section === 'transactions' ? 'page' : undefined}>Transactions<//></li>
        </ul></nav>
        <div class="session">
          ${token && html`<span class="pill" title="A viewer token: read-only, possibly limited to one type or entity">Viewer token</span>`}
          <button type="button" class="btn btn-quiet" onClick=${onSignOut}>Sign out</button>
        </div>
      </div>
    </header>
    <main id="main" class="content" tabindex="-1">${children}</main>
    <footer class="footer"><span>Rewind history viewer</span> · <a href="/docs">API documentation</a></footer>
  </div>`
}

function App () {
  const loc = useLocation()
  const [signedIn, setSignedIn] = useState(() => getCredential() !== null)
  const [message, setMessage] = useState(null)
  const first = useRef(true)

  useEffect(() => onUnauthorized(() => {
    clearCredential()
    setMessage('Your key or token is no longer accepted (unknown, revoked or expired). Sign in again to continue.')
    setSignedIn(false)
  }), [])
  useEffect(() => {
    // A token handed over later in the fragment (an embedding page changing the frame's URL).
    const onHash = () => { if (takeFragmentCredential()) { setMessage(null); setSignedIn(true) } }
    addEventListener('hashchange', onHash)
    return () => removeEventListener('hashchange', onHash)
  }, [])
  // After a navigation, the new view's heading gets the focus (announced by screen readers).
  useEffect(() => {
    if (first.current) { first.current = false; return }
    const heading = document.getElementById('page-heading')
    heading?.focus({ preventScroll: true })
  }, [loc.key, signedIn])

  if (!signedIn) {
    return html`<${SignIn} message=${message} onSignedIn=${() => { setMessage(null); setSignedIn(true) }}/>`
  }
  const signOut = () => {
    clearCredential()
    setMessage('You are signed out.')
    setSignedIn(false)
  }
  return html`<${Shell} loc=${loc} onSignOut=${signOut}><div key=${loc.path}>${routeView(loc)}</div><//>`
}

takeFragmentCredential()
const root = document.getElementById('app')
root.textContent = ''
render(html`<${App}/>`, root)
