// The start page: the entity types, opening an entity by id, and the latest transactions.
import { html } from '../../vendor/preact-htm.js'
import { seg } from '../api.js'
import { Link } from '../router.js'
import { ErrorMessage, Loading, PageTitle, useApi, usePages } from '../components.js'
import { kindText, OpenEntityForm, TransactionTable } from './shared.js'

/** Association types (the `through` of a many-to-many relation): which relation they record. */
function associations (types) {
  const found = new Map()
  for (const t of types) {
    for (const [name, r] of Object.entries(t.definition?.relations ?? {})) {
      if (r.kind === 'manyToMany' && r.through !== undefined) found.set(r.through, { owner: t.type, name, target: r.target })
    }
  }
  return found
}

export function HomeView () {
  const types = usePages('/entity-types', 200)
  const recent = useApi('/transactions?limit=5')
  const through = associations(types.items)
  return html`
    <${PageTitle} title="Entity types" sub="Every change to these types is recorded as a version. Open a type to list its entities, or open one entity's history by its id.">Entity types<//>
    <section class="panel" aria-labelledby="open-heading">
      <h2 id="open-heading" class="panel-title">Open an entity</h2>
      ${types.items.length > 0 ? html`<${OpenEntityForm} types=${types.items.map((t) => t.type)}/>` : types.loading ? html`<${Loading}/>` : html`<p class="muted">No entity type is registered yet.</p>`}
    </section>
    <section aria-labelledby="types-heading">
      <h2 id="types-heading">Types</h2>
      <${ErrorMessage} error=${types.error} onRetry=${types.reload}/>
      ${types.items.length > 0 && html`<table class="list types-list">
        <caption class="sr-only">Registered entity types</caption>
        <thead><tr><th scope="col">Type</th><th scope="col">Key</th><th scope="col">Relations</th></tr></thead>
        <tbody>${types.items.map((t) => {
          const assoc = through.get(t.type)
          const relations = Object.entries(t.definition?.relations ?? {})
          return html`<tr key=${t.type} data-type=${t.type}>
            <th scope="row" data-label="Type"><${Link} to=${`/types/${seg(t.type)}`} class="type-name">${t.type}<//>
              ${assoc !== undefined && html`<div class="muted small">links ${assoc.owner} ↔ ${assoc.target} (${assoc.owner}.${assoc.name})</div>`}</th>
            <td data-label="Key">${(t.definition?.idFields ?? ['id']).map((f, i) => html`${i > 0 ? ', ' : ''}<code key=${f}>${f}</code>`)}</td>
            <td data-label="Relations">${relations.length === 0 ? html`<span class="muted">—</span>` : html`<ul class="chips">${relations.map(([name, r]) => html`<li key=${name} class="chip"><span class="chip-name">${name}</span> <span aria-hidden="true">→</span><span class="sr-only">to</span> ${r.target} <span class="muted">(${kindText(r.kind)})</span></li>`)}</ul>`}</td>
          </tr>`
        })}</tbody>
      </table>`}
      ${types.loading && html`<${Loading} text="Loading entity types…"/>`}
      ${!types.loading && !types.done && html`<p><button type="button" class="btn" onClick=${types.more}>Show more types</button></p>`}
    </section>
    <section aria-labelledby="recent-heading">
      <div class="section-head"><h2 id="recent-heading">Latest transactions</h2><${Link} to="/transactions" class="section-link">All transactions →<//></div>
      <${ErrorMessage} error=${recent.error} onRetry=${recent.reload}/>
      ${recent.loading && html`<${Loading}/>`}
      ${recent.data !== undefined && (recent.data.items.length === 0 ? html`<p class="muted">Nothing recorded yet.</p>` : html`<${TransactionTable} items=${recent.data.items} caption="Latest transactions"/>`)}
    </section>`
}
