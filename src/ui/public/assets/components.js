// Building blocks shared by the views: data loading, messages, values, diffs, who/when.
import { html, useEffect, useRef, useState } from '../vendor/preact-htm.js'
import { api, ApiError, seg } from './api.js'
import { Link } from './router.js'
import {
  entityLabel, formatRelative, formatTime, kindOf, operationLabel, orderedFields, prettyJson, revertText, valueDiff, who
} from './format.js'

/** Loads `path` from the API (null: nothing to load); reload() asks again. */
export function useApi (path) {
  const [state, setState] = useState({ loading: path !== null, data: undefined, error: undefined, path })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (path === null) {
      setState({ loading: false, data: undefined, error: undefined, path })
      return
    }
    const controller = new AbortController()
    setState((s) => ({ loading: true, data: s.path === path ? s.data : undefined, error: undefined, path }))
    api(path, { signal: controller.signal }).then(
      (data) => setState({ loading: false, data, error: undefined, path }),
      (error) => { if (error?.name !== 'AbortError') setState({ loading: false, data: undefined, error, path }) }
    )
    return () => controller.abort()
  }, [path, tick])
  return { ...state, reload: () => setTick((n) => n + 1) }
}

/** Pages of a list (`items`, `nextCursor`) loaded one after the other ("Show more"). */
export function usePages (path, pageSize) {
  const [state, setState] = useState({ items: [], cursor: null, loading: path !== null, error: undefined, done: path === null })
  const [tick, setTick] = useState(0)
  const controller = useRef(null)
  const load = (cursor, reset) => {
    controller.current?.abort()
    const c = new AbortController()
    controller.current = c
    setState((s) => ({ ...s, ...(reset ? { items: [], done: false, cursor: null } : {}), loading: true, error: undefined }))
    const sep = path.includes('?') ? '&' : '?'
    api(`${path}${sep}limit=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { signal: c.signal }).then(
      (page) => setState((s) => ({ items: reset ? page.items : [...s.items, ...page.items], cursor: page.nextCursor, loading: false, error: undefined, done: page.nextCursor === null })),
      (error) => { if (error?.name !== 'AbortError') setState((s) => ({ ...s, loading: false, error })) }
    )
  }
  useEffect(() => {
    if (path === null) return
    load(null, true)
    return () => controller.current?.abort()
  }, [path, tick])
  return { ...state, more: () => load(state.cursor, false), reload: () => setTick((n) => n + 1) }
}

export function Loading ({ text = 'Loading…' }) {
  return html`<p class="loading" role="status"><span class="spinner" aria-hidden="true"></span>${text}</p>`
}

/** A problem from the API, in words; 404s say what was not found. */
export function ErrorMessage ({ error, what, onRetry }) {
  if (error === undefined || error === null) return null
  const status = error instanceof ApiError ? error.status : undefined
  let title = 'Something went wrong'
  if (status === 404) title = what !== undefined ? `${what} was not found` : 'Not found'
  else if (status === 403) title = 'Not allowed with this key'
  else if (status === 410) title = 'No longer kept'
  else if (status === 0) title = 'The service could not be reached'
  else if (status === 400) title = 'The request was not accepted'
  else if (status === 409) title = 'Conflict'
  return html`<div class="notice notice-error" role="alert">
    <p class="notice-title">${title}</p>
    <p>${error.message}</p>
    ${status === 404 && html`<p class="muted small">It may never have existed, or it is outside what this key or token may see.</p>`}
    ${onRetry !== undefined && status !== 404 && html`<p><button type="button" class="btn btn-small" onClick=${onRetry}>Try again</button></p>`}
  </div>`
}

/** The page heading: focused after each navigation so screen readers announce the new view. */
export function PageTitle ({ children, sub, title }) {
  useEffect(() => {
    document.title = `${title ?? (typeof children === 'string' ? children : 'History')} · Rewind`
  }, [title, typeof children === 'string' ? children : null])
  return html`<div class="page-title">
    <h1 tabindex="-1" id="page-heading">${children}</h1>
    ${sub !== undefined && sub !== null && html`<div class="page-sub">${sub}</div>`}
  </div>`
}

/** "Entity types › article › 1" */
export function Breadcrumbs ({ items }) {
  return html`<nav class="breadcrumbs" aria-label="Breadcrumb"><ol>
    ${items.map((item, i) => html`<li key=${i}>${item.to !== undefined && i < items.length - 1
      ? html`<${Link} to=${item.to}>${item.label}<//>`
      : html`<span aria-current=${i === items.length - 1 ? 'page' : undefined}>${item.label}</span>`}</li>`)}
  </ol></nav>`
}

export function TimeText ({ iso, withRelative = true }) {
  if (iso === undefined || iso === null) return html`<span class="muted">unknown time</span>`
  const rel = withRelative ? formatRelative(iso) : ''
  return html`<span class="time"><time datetime=${iso} title=${iso}>${formatTime(iso)}</time>${rel !== '' && html`<span class="muted rel"><span class="rel-sep"> · </span>${rel}</span>`}</span>`
}

export function OpBadge ({ operation, index = 0 }) {
  return html`<span class=${`op op-${operation}${operation === 'insert' && index > 0 ? ' op-restored' : ''}`}>${operationLabel(operation, index)}</span>`
}

export function Who ({ transaction }) {
  const { actor, via } = who(transaction)
  return html`<span class="who">${actor !== null
    ? html`<strong class="actor">${actor}</strong>`
    : html`<em class="muted">no actor given</em>`}${via !== null && html`<span class="via"> (${via})</span>`}</span>`
}

/** A link to one entity's history (or one of its versions). */
export function EntityLink ({ type, id, at, data, children }) {
  const to = `/entities/${seg(type)}/${seg(id)}${at !== undefined ? `/versions/${at}` : ''}`
  const label = entityLabel(data)
  return html`<${Link} to=${to} class="entity-link">${children ?? html`<span class="entity-ref"><span class="entity-type">${type}</span> <span class="entity-id">${id}</span></span>${label !== null && html` <span class="entity-label">${label}</span>`}`}<//>`
}

/** A JSON value as a person reads it: strings as text, null and absence distinct, objects pretty-printed. */
export function Value ({ value, absentText = 'not set' }) {
  const kind = kindOf(value)
  switch (kind) {
    case 'absent': return html`<span class="v v-absent" title=${absentText}><span aria-hidden="true">—</span><span class="sr-only">${absentText}</span></span>`
    case 'null': return html`<span class="v v-null">null</span>`
    case 'redacted': return html`<span class="v v-redacted" title=${`redaction ${value.$redacted}`}>redacted</span>`
    case 'string': return value === '' ? html`<span class="v v-empty">empty text</span>` : html`<span class="v v-str">${value}</span>`
    case 'number': return html`<span class="v v-num">${JSON.stringify(value)}</span>`
    case 'boolean': return html`<span class="v v-bool">${String(value)}</span>`
    default: return html`<pre class="v v-json">${prettyJson(value)}</pre>`
  }
}

function Parts ({ parts, side, mode }) {
  const own = side === 'before' ? 'removed' : 'added'
  const body = parts.filter((p) => p.kind === 'same' || p.kind === own).map((p, i) => {
    const text = side === 'before' ? p.a : p.b
    if (p.kind === 'same') return text
    return side === 'before' ? html`<del key=${i}>${text}</del>` : html`<ins key=${i}>${text}</ins>`
  })
  return mode === 'json' ? html`<pre class="v v-json">${body}</pre>` : html`<span class="v v-str">${body}</span>`
}

/**
 * A field-level diff: one row per field, its value before and after; null is shown as null.
 * An insert lists the new values alone, a delete the values it removed.
 */
export function DiffTable ({ changeset, operation, idFields = [], caption = 'Changed fields', beforeLabel = 'Before', afterLabel = 'After' }) {
  const fields = orderedFields(Object.keys(changeset ?? {}), idFields)
  if (fields.length === 0) return html`<p class="muted no-changes">No field changed.</p>`
  if (operation === 'insert' || operation === 'delete') {
    const label = operation === 'insert' ? 'Value' : 'Value removed'
    return html`<table class=${`diff diff-single diff-${operation}`}>
      <caption class="sr-only">${caption}</caption>
      <thead><tr><th scope="col">Field</th><th scope="col">${label}</th></tr></thead>
      <tbody>${fields.map((field) => {
        const [before, after] = changeset[field]
        return html`<tr key=${field} class="diff-row" data-field=${field}>
          <th scope="row" class="fname"><code>${field}</code></th>
          <td class=${operation === 'insert' ? 'after' : 'before removed'} data-label=${label}><${Value} value=${operation === 'insert' ? after : before}/></td>
        </tr>`
      })}</tbody>
    </table>`
  }
  return html`<table class="diff">
    <caption class="sr-only">${caption}</caption>
    <thead><tr><th scope="col">Field</th><th scope="col">${beforeLabel}</th><th scope="col">${afterLabel}</th></tr></thead>
    <tbody>${fields.map((field) => {
      const [before, after] = changeset[field]
      const diff = valueDiff(before, after)
      return html`<tr key=${field} class="diff-row" data-field=${field}>
        <th scope="row" class="fname"><code>${field}</code></th>
        <td class="before" data-label=${beforeLabel}>${diff !== null ? html`<${Parts} parts=${diff.parts} side="before" mode=${diff.mode}/>` : html`<${Value} value=${before}/>`}</td>
        <td class="after" data-label=${afterLabel}>${diff !== null ? html`<${Parts} parts=${diff.parts} side="after" mode=${diff.mode}/>` : html`<${Value} value=${after}/>`}</td>
      </tr>`
    })}</tbody>
  </table>`
}

/** An entity's state: field and value. */
export function DataTable ({ data, idFields = [], caption = 'Fields' }) {
  const fields = orderedFields(Object.keys(data ?? {}), idFields)
  if (fields.length === 0) return html`<p class="muted">No fields.</p>`
  return html`<table class="data">
    <caption class="sr-only">${caption}</caption>
    <thead class="sr-only"><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
    <tbody>${fields.map((field) => html`<tr key=${field}><th scope="row" class="fname"><code>${field}</code></th><td><${Value} value=${data[field]}/></td></tr>`)}</tbody>
  </table>`
}

/** A transaction's metadata: small key/value pairs (the rest as JSON). */
export function Meta ({ meta }) {
  const entries = Object.entries(meta ?? {})
  if (entries.length === 0) return null
  return html`<dl class="meta">${entries.map(([k, v]) => html`<div key=${k} class="meta-item"><dt>${k}</dt><dd>${kindOf(v) === 'string' ? v : html`<code>${JSON.stringify(v)}</code>`}</dd></div>`)}</dl>`
}

/** "Undoes transaction #3" / "Reverts article 1 to its state at transaction #1", with links. */
export function RevertOf ({ revertOf }) {
  const info = revertText(revertOf)
  if (info === null) return null
  if (info.transaction !== undefined) {
    return html`<span class="revert-of"><span class="revert-icon" aria-hidden="true">↶</span> Undoes <${Link} to=${`/transactions/${info.transaction}`}>transaction #${info.transaction}<//></span>`
  }
  return html`<span class="revert-of"><span class="revert-icon" aria-hidden="true">↶</span> Reverts <${Link} to=${`/entities/${seg(info.type)}/${seg(info.id)}`}>${info.type} ${info.id}<//> to its state at <${Link} to=${`/transactions/${info.to}`}>transaction #${info.to}<//></span>`
}

/** One change of a revert: for an update, each field it writes, its value now and after the revert. */
function ChangeItem ({ change: c }) {
  const current = useApi(c.op === 'update' ? `/entities/${seg(c.type)}/${seg(c.id)}` : null)
  const data = c.data ?? {}
  let body
  if (c.op === 'delete') {
    body = html`<p class="change-note">The ${c.type} is deleted.</p>`
  } else if (c.op === 'insert') {
    body = html`<p class="change-note">The ${c.type} is brought back with these values:</p><${DataTable} data=${data} caption=${`Values of ${c.type} ${c.id}`}/>`
  } else if (current.data !== undefined) {
    const now = current.data.data ?? {}
    const changeset = Object.fromEntries(Object.entries(data).map(([field, value]) => [field, [now[field], value]]))
    body = html`<${DiffTable} changeset=${changeset} caption=${`Fields the revert writes to ${c.type} ${c.id}`} beforeLabel="Now" afterLabel="After the revert"/>`
  } else if (current.loading) {
    body = html`<${Loading} text="Reading the current values…"/>`
  } else {
    body = html`<${DataTable} data=${data} caption=${`Fields the revert writes to ${c.type} ${c.id}`}/>`
  }
  return html`<li class="change" data-op=${c.op} data-entity=${`${c.type}/${c.id}`}>
    <div class="change-head"><span class=${`op op-${c.op}`}>${{ insert: 'Insert', update: 'Update', delete: 'Delete' }[c.op] ?? c.op}</span>
      <${EntityLink} type=${c.type} id=${c.id}/></div>
    ${body}
  </li>`
}

/** The changes a revert makes (or would make), in the order the backend applies them. */
export function ChangeList ({ changes, label }) {
  if (changes.length === 0) return html`<p class="muted">No change.</p>`
  return html`<ol class="changes" aria-label=${label}>${changes.map((c, i) => html`<${ChangeItem} key=${`${i}:${c.type}/${c.id}`} change=${c}/>`)}</ol>`
}
