// One entity type: its definition and its entities (live and deleted), by key.
import { html } from '../../vendor/preact-htm.js'
import { ApiError, seg } from '../api.js'
import { Link } from '../router.js'
import { Breadcrumbs, ErrorMessage, Loading, OpBadge, PageTitle, TimeText, useApi, usePages } from '../components.js'
import { OpenEntityForm, TypeDefinition } from './shared.js'

export function TypeView ({ type }) {
  const definition = useApi(`/entity-types/${seg(type)}`)
  const entities = usePages(`/entities/${seg(type)}`, 50)
  const unavailable = entities.error instanceof ApiError && entities.error.status === 404 && definition.data !== undefined
  return html`
    <${Breadcrumbs} items=${[{ label: 'Entity types', to: '/' }, { label: type }]}/>
    <${PageTitle} title=${`Type ${type}`} sub=${definition.data !== undefined ? html`<${TypeDefinition} definition=${definition.data.definition}/>` : null}><span class="muted-prefix">Type</span> ${type}<//>
    <${ErrorMessage} error=${definition.error} what=${`The entity type “${type}”`}/>
    ${definition.data !== undefined && html`
      <section class="panel" aria-labelledby="open-heading">
        <h2 id="open-heading" class="panel-title">Open one by id</h2>
        <${OpenEntityForm} fixedType=${type}/>
      </section>
      <section aria-labelledby="entities-heading">
        <h2 id="entities-heading">Entities</h2>
        ${unavailable
          ? html`<div class="notice" role="status"><p>This service cannot list the entities of a type (it has no <code>GET /entities/{type}</code>): open one by its id above.</p></div>`
          : html`<${ErrorMessage} error=${entities.error} onRetry=${entities.reload}/>`}
        ${entities.items.length > 0 && html`<table class="list entities-list">
          <caption class="sr-only">${`Entities of type ${type}, by key`}</caption>
          <thead><tr><th scope="col">Entity</th><th scope="col">Status</th><th scope="col">Last change</th><th scope="col">When</th></tr></thead>
          <tbody>${entities.items.map((e) => html`<tr key=${e.id} data-entity=${e.id} class=${e.operation === 'delete' ? 'is-deleted' : ''}>
            <th scope="row" data-label="Entity"><${Link} to=${`/entities/${seg(type)}/${seg(e.id)}`}><span class="entity-type">${type}</span> <span class="entity-id">${e.id}</span><//></th>
            <td data-label="Status">${e.operation === 'delete' ? html`<span class="status status-deleted">Deleted</span>` : html`<span class="status status-live">Live</span>`}</td>
            <td data-label="Last change"><${OpBadge} operation=${e.operation}/> in <${Link} to=${`/transactions/${e.transactionId}`}>#${e.transactionId}<//></td>
            <td data-label="When"><${TimeText} iso=${e.issuedAt}/></td>
          </tr>`)}</tbody>
        </table>`}
        ${!entities.loading && entities.error === undefined && entities.items.length === 0 && html`<p class="muted">No ${type} has any history yet.</p>`}
        ${entities.loading && html`<${Loading} text="Loading entities…"/>`}
        ${!entities.loading && !entities.done && entities.error === undefined && html`<p><button type="button" class="btn" onClick=${entities.more}>Show more entities</button></p>`}
      </section>`}
    ${definition.loading && html`<${Loading}/>`}`
}
