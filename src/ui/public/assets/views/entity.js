// One entity's history: its status, and the timeline of its versions (newest first) with who, when and what changed.
import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js'
import { api, seg } from '../api.js'
import { Link } from '../router.js'
import {
  Breadcrumbs, DataTable, DiffTable, ErrorMessage, Loading, Meta, OpBadge, PageTitle, RevertOf, TimeText, useApi, usePages, Who
} from '../components.js'
import { entityLabel, plural } from '../format.js'

/**
 * The transaction of each listed version (who and when), read with the version
 * (GET …/versions/{t}), a few at a time, as the timeline grows.
 */
export function useTransactions (type, id, versions) {
  const [found, setFound] = useState(() => new Map())
  const asked = useRef(new Set())
  const controller = useRef(new AbortController())
  useEffect(() => () => controller.current.abort(), [])
  useEffect(() => {
    const wanted = versions.map((v) => v.transactionId).filter((t) => !asked.current.has(t))
    if (wanted.length === 0) return
    for (const t of wanted) asked.current.add(t)
    let next = 0
    const worker = async () => {
      while (next < wanted.length) {
        const t = wanted[next++]
        try {
          const detail = await api(`/entities/${seg(type)}/${seg(id)}/versions/${t}`, { signal: controller.current.signal })
          setFound((m) => new Map(m).set(t, { transaction: detail.transaction, previous: detail.previous }))
        } catch (error) {
          if (error?.name === 'AbortError') return
          setFound((m) => new Map(m).set(t, { error }))
        }
      }
    }
    for (let i = 0; i < Math.min(6, wanted.length); i++) worker()
  }, [versions])
  return found
}

/** One version in a timeline: what happened, who did it and when, and the field-level diff. */
export function VersionCard ({ version, detail, idFields, latest, headingLevel = 3 }) {
  const v = version
  const base = `/entities/${seg(v.type)}/${seg(v.id)}`
  const tx = detail?.transaction
  const heading = html`<span class="v-title"><${OpBadge} operation=${v.operation} index=${v.index}/> <span class="v-number">Version ${v.index + 1}</span>${latest && v.operation !== 'delete' ? html` <span class="pill pill-current">current</span>` : ''}</span>`
  return html`<article class=${`tl-card kind-${v.operation}`} aria-labelledby=${`v-${v.transactionId}`}>
    <header class="tl-head">
      ${headingLevel === 3 ? html`<h3 id=${`v-${v.transactionId}`}>${heading}</h3>` : html`<h2 id=${`v-${v.transactionId}`}>${heading}</h2>`}
      <div class="tl-meta">
        ${tx !== undefined
          ? html`<${Who} transaction=${tx}/><span class="sep" aria-hidden="true">·</span><${TimeText} iso=${tx.issuedAt}/>`
          : detail?.error !== undefined ? html`<span class="muted">who and when could not be read</span>` : html`<span class="muted">loading who and when…</span>`}
        <span class="sep" aria-hidden="true">·</span><${Link} to=${`/transactions/${v.transactionId}`} class="tx-link">Transaction #${v.transactionId}<//>
      </div>
      ${tx?.revertOf !== undefined && tx?.revertOf !== null && html`<div class="tl-revert"><${RevertOf} revertOf=${tx.revertOf}/></div>`}
      ${tx !== undefined && html`<${Meta} meta=${tx.meta}/>`}
    </header>
    ${v.operation === 'delete' && html`<p class="delete-note">The ${v.type} was deleted. Its last values:</p>`}
    <${DiffTable} changeset=${v.changeset} operation=${v.operation} idFields=${idFields} caption=${`Fields changed in version ${v.index + 1}`}/>
    <footer class="tl-actions">
      <${Link} to=${`${base}/versions/${v.transactionId}`}>Details and relations<//>
      ${v.index > 0 && detail?.previous !== null && detail?.previous !== undefined && html`<${Link} to=${`${base}/compare?from=${detail.previous}&to=${v.transactionId}`}>Compare with previous<//>`}
      ${!latest && html`<${Link} to=${`${base}/versions/${v.transactionId}?action=revert`}>Revert to this version…<//>`}
    </footer>
  </article>`
}

export function EntityView ({ type, id }) {
  const definition = useApi(`/entity-types/${seg(type)}`)
  const versions = usePages(`/entities/${seg(type)}/${seg(id)}/versions?order=desc`, 20)
  const details = useTransactions(type, id, versions.items)
  const idFields = definition.data?.definition?.idFields ?? []
  const latest = versions.items[0]
  const latestTx = latest !== undefined ? details.get(latest.transactionId)?.transaction : undefined
  const deleted = latest?.operation === 'delete'
  const label = entityLabel(latest?.data)
  const base = `/entities/${seg(type)}/${seg(id)}`

  return html`
    <${Breadcrumbs} items=${[{ label: 'Entity types', to: '/' }, { label: type, to: `/types/${seg(type)}` }, { label: id }]}/>
    <${PageTitle} title=${`${type} ${id}`} sub=${latest !== undefined && html`<div class="entity-summary">
        ${deleted ? html`<span class="status status-deleted">Deleted</span>` : html`<span class="status status-live">Live</span>`}
        ${label !== null && html`<span class="entity-label-big">${label}</span>`}
        <span class="muted">${plural(latest.index + 1, 'version')}</span>
        ${latestTx !== undefined && html`<span class="muted">last ${deleted ? 'deleted' : 'changed'} <${TimeText} iso=${latestTx.issuedAt}/></span>`}
      </div>`}><span class="entity-type">${type}</span> <span class="entity-id">${id}</span><//>
    <${ErrorMessage} error=${versions.error} what=${`${type} ${id}`} onRetry=${versions.reload}/>
    ${latest !== undefined && html`
      ${deleted && html`<div class="notice notice-deleted" role="note">
        <p class="notice-title">This ${type} is deleted</p>
        <p>It was deleted in <${Link} to=${`/transactions/${latest.transactionId}`}>transaction #${latest.transactionId}<//>${latestTx !== undefined && html` by <${Who} transaction=${latestTx}/>, <${TimeText} iso=${latestTx.issuedAt}/>`}. Its history is kept below; to bring it back, revert it to an earlier version.</p>
      </div>`}
      <div class="toolbar">
        ${latest.index > 0 && html`<${Link} to=${`${base}/compare`} class="btn">Compare versions<//>`}
        <${Link} to=${`${base}/versions/${latest.transactionId}`} class="btn">Latest version and relations<//>
      </div>
      <details class="panel state-panel">
        <summary><span class="summary-title">${deleted ? 'Last state before the delete' : 'Current state'}</span> <span class="muted small">(${plural(Object.keys(latest.data ?? {}).length, 'field')})</span></summary>
        <${DataTable} data=${latest.data} idFields=${idFields} caption=${deleted ? 'Last state before the delete' : 'Current state'}/>
      </details>
      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History <span class="muted small">newest first</span></h2>
        <ol class="timeline">${versions.items.map((v, i) => html`<li key=${v.transactionId} class=${`tl-item kind-${v.operation}`} data-transaction=${v.transactionId}>
          <${VersionCard} version=${v} detail=${details.get(v.transactionId)} idFields=${idFields} latest=${i === 0}/>
        </li>`)}</ol>
      </section>`}
    ${versions.loading && html`<${Loading} text="Loading the history…"/>`}
    ${!versions.loading && !versions.done && versions.error === undefined && html`<p class="more"><button type="button" class="btn" onClick=${versions.more}>Show older versions</button></p>`}`
}
