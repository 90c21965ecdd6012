// One version of an entity: what changed, the full state, its relations as they were, and reverting to it.
import { html, useEffect } from '../../vendor/preact-htm.js'
import { seg } from '../api.js'
import { currentLocation, Link } from '../router.js'
import {
  Breadcrumbs, DataTable, DiffTable, EntityLink, ErrorMessage, Loading, Meta, OpBadge, PageTitle, RevertOf, TimeText, useApi, Who
} from '../components.js'
import { operationLabel } from '../format.js'
import { kindText } from './shared.js'
import { RevertEntityPanel } from './revert.js'

function Related ({ name, relation, value, truncated, at }) {
  const list = Array.isArray(value) ? value : value === null || value === undefined ? [] : [value]
  return html`<section class="relation" aria-labelledby=${`rel-h-${name}`} data-relation=${name}>
    <h3 id=${`rel-h-${name}`}><code>${name}</code> <span class="muted small"><span aria-hidden="true">→</span><span class="sr-only">to</span> ${relation.target} (${kindText(relation.kind)})</span></h3>
    ${list.length === 0
      ? html`<p class="muted">None at transaction #${at}.</p>`
      : html`<ul class="related-list">${list.map((v) => html`<li key=${`${v.type}/${v.id}`}>
          <${EntityLink} type=${v.type} id=${v.id} at=${v.transactionId} data=${v.data}/>
          <span class="muted small"> as of its version ${v.index + 1} (transaction #${v.transactionId}, ${operationLabel(v.operation, v.index).toLowerCase()})</span>
        </li>`)}</ul>`}
    ${truncated && html`<p class="small muted">Only the first ${list.length} are listed.</p>`}
  </section>`
}

export function VersionView ({ type, id, t }) {
  const definition = useApi(`/entity-types/${seg(type)}`)
  const relations = definition.data?.definition?.relations ?? {}
  const names = Object.keys(relations)
  const base = `/entities/${seg(type)}/${seg(id)}`
  // The version with every relation of the type as it was then (once the definition says which).
  const path = definition.loading ? null : `${base}/versions/${encodeURIComponent(t)}${names.length > 0 ? `?relations=${names.map(encodeURIComponent).join(',')}` : ''}`
  const version = useApi(path)
  const v = version.data
  const idFields = definition.data?.definition?.idFields ?? []
  const wantsRevert = currentLocation().query.get('action') === 'revert'

  useEffect(() => {
    if (v !== undefined && wantsRevert) {
      const heading = document.getElementById('revert-heading')
      heading?.scrollIntoView({ block: 'start' })
      heading?.focus({ preventScroll: true })
    }
  }, [v !== undefined])

  return html`
    <${Breadcrumbs} items=${[{ label: 'Entity types', to: '/' }, { label: type, to: `/types/${seg(type)}` }, { label: id, to: base }, { label: v !== undefined ? `Version ${v.index + 1}` : `Transaction #${t}` }]}/>
    <${PageTitle} title=${`${type} ${id} at #${t}`} sub=${v !== undefined && html`<div class="tl-meta">
        <${OpBadge} operation=${v.operation} index=${v.index}/><span class="sep" aria-hidden="true">·</span><${Who} transaction=${v.transaction}/><span class="sep" aria-hidden="true">·</span><${TimeText} iso=${v.transaction.issuedAt}/>
        <span class="sep" aria-hidden="true">·</span><${Link} to=${`/transactions/${v.transactionId}`}>Transaction #${v.transactionId}<//>
      </div>`}>${v !== undefined ? html`Version ${v.index + 1} of <span class="entity-type">${type}</span> <span class="entity-id">${id}</span>` : html`<span class="entity-type">${type}</span> <span class="entity-id">${id}</span> at transaction #${t}`}<//>
    <${ErrorMessage} error=${definition.error !== undefined && definition.error.status !== 404 ? definition.error : undefined}/>
    <${ErrorMessage} error=${version.error} what=${`A version of ${type} ${id} at transaction #${t}`} onRetry=${version.reload}/>
    ${(version.loading || definition.loading) && html`<${Loading}/>`}
    ${v !== undefined && html`
      <nav class="pager" aria-label="Versions">
        ${v.previous !== null ? html`<${Link} to=${`${base}/versions/${v.previous}`} class="btn" rel="prev">← Previous version<//>` : html`<span class="btn btn-ghost" aria-disabled="true">${v.pruned ? 'Older versions were pruned' : 'First version'}</span>`}
        <${Link} to=${base} class="btn">All versions<//>
        ${v.next !== null ? html`<${Link} to=${`${base}/versions/${v.next}`} class="btn" rel="next">Next version →<//>` : html`<span class="btn btn-ghost" aria-disabled="true">Latest version</span>`}
      </nav>
      ${v.transaction.revertOf !== undefined && v.transaction.revertOf !== null && html`<p class="tl-revert"><${RevertOf} revertOf=${v.transaction.revertOf}/></p>`}
      <${Meta} meta=${v.transaction.meta}/>
      <section aria-labelledby="changes-heading">
        <h2 id="changes-heading">What changed</h2>
        ${v.operation === 'delete' && html`<p class="delete-note">The ${type} was deleted in this transaction.</p>`}
        <${DiffTable} changeset=${v.changeset} operation=${v.operation} idFields=${idFields} caption="Fields changed in this version"/>
      </section>
      <section aria-labelledby="state-heading">
        <h2 id="state-heading">${v.operation === 'delete' ? 'Last state before the delete' : 'State after this change'}</h2>
        <${DataTable} data=${v.data} idFields=${idFields} caption="Fields"/>
      </section>
      <section aria-labelledby="relations-heading" class="relations">
        <h2 id="relations-heading">Relations at this version</h2>
        ${names.length === 0
          ? html`<p class="muted">The type ${type} declares no relations.</p>`
          : html`<p class="muted">The related entities as they were right after transaction #${v.transactionId}; each link opens that entity's version of the time.</p>
            ${names.map((name) => html`<${Related} key=${name} name=${name} relation=${relations[name]} value=${v.relations?.[name]} truncated=${(v.truncatedRelations ?? []).includes(name)} at=${v.transactionId}/>`)}`}
      </section>
      <section aria-labelledby="revert-heading" class="revert-section">
        <h2 id="revert-heading" tabindex="-1">Revert to this version</h2>
        <${RevertEntityPanel} type=${type} id=${id} to=${v.transactionId} relations=${relations} onReverted=${version.reload}/>
      </section>`}`
}
