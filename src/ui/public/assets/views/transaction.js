// One transaction: who, when, why (meta), what it reverted, every version it created, and undoing it.
import { html } from '../../vendor/preact-htm.js'
import { seg } from '../api.js'
import { Link } from '../router.js'
import {
  Breadcrumbs, DiffTable, EntityLink, ErrorMessage, Loading, Meta, OpBadge, PageTitle, RevertOf, TimeText, useApi, usePages, Who
} from '../components.js'
import { plural, prettyJson } from '../format.js'
import { RevertTransactionPanel } from './revert.js'

function ChangedEntity ({ version: v }) {
  return html`<article class=${`tl-card kind-${v.operation}`} aria-labelledby=${`tv-${v.type}-${v.id}`} data-entity=${`${v.type}/${v.id}`}>
    <header class="tl-head">
      <h3 id=${`tv-${v.type}-${v.id}`} class="changed-title"><${OpBadge} operation=${v.operation} index=${v.index}/> <${EntityLink} type=${v.type} id=${v.id} data=${v.data}/></h3>
      <div class="tl-meta"><span class="muted">version ${v.index + 1}</span><span class="sep" aria-hidden="true">·</span>
        <${Link} to=${`/entities/${seg(v.type)}/${seg(v.id)}/versions/${v.transactionId}`}>Details and relations<//><span class="sep" aria-hidden="true">·</span>
        <${Link} to=${`/entities/${seg(v.type)}/${seg(v.id)}`}>Full history<//></div>
    </header>
    <${DiffTable} changeset=${v.changeset} operation=${v.operation} caption=${`Fields changed in ${v.type} ${v.id}`}/>
  </article>`
}

export function TransactionView ({ id }) {
  const tx = useApi(`/transactions/${encodeURIComponent(id)}`)
  const t = tx.data
  // More than the versions listed inline: paged through from the start.
  const paged = usePages(t?.versionsTruncated === true ? `/transactions/${encodeURIComponent(id)}/versions` : null, 200)
  const versions = t?.versionsTruncated === true ? paged.items : t?.versions ?? []
  const metaEntries = Object.entries(t?.meta ?? {})
  return html`
    <${Breadcrumbs} items=${[{ label: 'Transactions', to: '/transactions' }, { label: `#${id}` }]}/>
    <${PageTitle} title=${`Transaction #${id}`} sub=${t !== undefined && html`<div class="tl-meta"><${Who} transaction=${t}/><span class="sep" aria-hidden="true">·</span><${TimeText} iso=${t.issuedAt}/></div>`}>Transaction #${id}<//>
    <${ErrorMessage} error=${tx.error} what=${`Transaction #${id}`} onRetry=${tx.reload}/>
    ${tx.loading && html`<${Loading}/>`}
    ${t !== undefined && html`
      <dl class="facts panel">
        <div><dt>Issued</dt><dd><${TimeText} iso=${t.issuedAt}/></dd></div>
        <div><dt>Recorded</dt><dd><${TimeText} iso=${t.recordedAt}/></dd></div>
        <div><dt>Actor</dt><dd>${t.actor ?? html`<span class="muted">none given</span>`}</dd></div>
        <div><dt>Recorded by</dt><dd>${t.recordedBy?.source !== undefined && t.recordedBy?.source !== null
          ? html`capture from source <strong>${t.recordedBy.source}</strong>`
          : html`API key <strong>${t.recordedBy?.keyName ?? 'unknown'}</strong>${t.recordedBy?.keyId ? html` <span class="muted small">(${t.recordedBy.keyId})</span>` : ''}`}</dd></div>
        ${t.revertOf !== undefined && t.revertOf !== null && html`<div><dt>Revert</dt><dd><${RevertOf} revertOf=${t.revertOf}/></dd></div>`}
        <div class="facts-wide"><dt>Metadata</dt><dd>${metaEntries.length === 0 ? html`<span class="muted">none</span>`
          : metaEntries.every(([, v]) => typeof v === 'string') ? html`<${Meta} meta=${t.meta}/>` : html`<pre class="v v-json">${prettyJson(t.meta)}</pre>`}</dd></div>
      </dl>
      <section aria-labelledby="changed-heading">
        <h2 id="changed-heading">Changed entities <span class="muted small">(${t.versionsTruncated === true ? 'more than 1,000' : plural(t.versions.length, 'version')})</span></h2>
        <ol class="changed-list">${versions.map((v) => html`<li key=${`${v.type}/${v.id}`}><${ChangedEntity} version=${v}/></li>`)}</ol>
        ${paged.loading && html`<${Loading}/>`}
        <${ErrorMessage} error=${paged.error}/>
        ${t.versionsTruncated === true && !paged.loading && !paged.done && html`<p class="more"><button type="button" class="btn" onClick=${paged.more}>Show more</button></p>`}
      </section>
      <section aria-labelledby="revert-tx-heading" class="revert-section">
        <h2 id="revert-tx-heading">Revert this transaction</h2>
        <${RevertTransactionPanel} id=${t.id} versions=${t.versionsTruncated === true ? undefined : t.versions} onReverted=${tx.reload}/>
      </section>`}`
}
