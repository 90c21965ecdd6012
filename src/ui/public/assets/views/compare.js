// The difference between any two versions of an entity, chosen by the reader (deep link: ?from=&to=).
import { html, useState } from '../../vendor/preact-htm.js'
import { seg } from '../api.js'
import { Link, navigate } from '../router.js'
import { Breadcrumbs, DiffTable, ErrorMessage, Loading, PageTitle, useApi, usePages } from '../components.js'
import { operationLabel, plural } from '../format.js'

const optionText = (v) => `Version ${v.index + 1} · transaction #${v.transactionId} · ${operationLabel(v.operation, v.index)}`

export function CompareView ({ type, id, from, to }) {
  const base = `/entities/${seg(type)}/${seg(id)}`
  const versions = usePages(`${base}/versions?order=desc`, 1000)
  const definition = useApi(`/entity-types/${seg(type)}`)
  const items = versions.items
  // Without a choice: the latest version against the one before it.
  const defaultTo = items[0]?.transactionId
  const defaultFrom = items[1]?.transactionId ?? items[0]?.transactionId
  const chosenFrom = from ?? (defaultFrom !== undefined ? String(defaultFrom) : '')
  const chosenTo = to ?? (defaultTo !== undefined ? String(defaultTo) : '')
  const [draft, setDraft] = useState(null)
  const selFrom = draft?.from ?? chosenFrom
  const selTo = draft?.to ?? chosenTo
  const ready = chosenFrom !== '' && chosenTo !== ''
  const diff = useApi(ready ? `${base}/changeset?from=${encodeURIComponent(chosenFrom)}&to=${encodeURIComponent(chosenTo)}` : null)
  const byTx = new Map(items.map((v) => [String(v.transactionId), v]))
  const label = (t) => byTx.has(t) ? `version ${byTx.get(t).index + 1} (transaction #${t})` : `transaction #${t}`

  const submit = (event) => {
    event.preventDefault()
    setDraft(null)
    navigate(`${base}/compare?from=${encodeURIComponent(selFrom)}&to=${encodeURIComponent(selTo)}`)
  }
  const swap = () => {
    setDraft(null)
    navigate(`${base}/compare?from=${encodeURIComponent(chosenTo)}&to=${encodeURIComponent(chosenFrom)}`)
  }
  const options = (selected) => {
    const list = items.map((v) => html`<option key=${v.transactionId} value=${String(v.transactionId)}>${optionText(v)}</option>`)
    // A transaction given in the link that is not one of the entity's versions: still selectable.
    if (selected !== '' && !byTx.has(selected)) list.push(html`<option key="given" value=${selected}>Transaction #${selected}</option>`)
    return list
  }
  const count = diff.data !== undefined ? Object.keys(diff.data).length : 0
  return html`
    <${Breadcrumbs} items=${[{ label: 'Entity types', to: '/' }, { label: type, to: `/types/${seg(type)}` }, { label: id, to: base }, { label: 'Compare' }]}/>
    <${PageTitle} title=${`Compare ${type} ${id}`} sub="Pick two versions: the table shows each field whose value differs between the two states.">Compare versions of <span class="entity-type">${type}</span> <span class="entity-id">${id}</span><//>
    <${ErrorMessage} error=${versions.error} what=${`${type} ${id}`}/>
    ${versions.loading && html`<${Loading} text="Loading the versions…"/>`}
    ${items.length > 0 && html`<form class="panel compare-form" onSubmit=${submit}>
      <div class="field">
        <label for="compare-from">From</label>
        <select id="compare-from" value=${selFrom} onChange=${(e) => setDraft({ from: e.currentTarget.value, to: selTo })}>${options(selFrom)}</select>
      </div>
      <div class="field">
        <label for="compare-to">To</label>
        <select id="compare-to" value=${selTo} onChange=${(e) => setDraft({ from: selFrom, to: e.currentTarget.value })}>${options(selTo)}</select>
      </div>
      <div class="field field-action compare-actions">
        <button type="submit" class="btn btn-primary">Compare</button>
        <button type="button" class="btn" onClick=${swap}>Swap</button>
      </div>
    </form>`}
    ${ready && html`<section aria-labelledby="diff-heading">
      <h2 id="diff-heading">From ${label(chosenFrom)} to ${label(chosenTo)}</h2>
      <${ErrorMessage} error=${diff.error}/>
      ${diff.loading && html`<${Loading} text="Comparing…"/>`}
      ${diff.data !== undefined && !diff.loading && html`<p class="diff-summary" role="status">${count === 0 ? 'The two states are the same.' : `${plural(count, 'field')} differ${count === 1 ? 's' : ''}.`}</p>
        ${count > 0 && html`<${DiffTable} changeset=${diff.data} idFields=${definition.data?.definition?.idFields ?? []} caption="Fields that differ"
          beforeLabel=${`At #${chosenFrom}`} afterLabel=${`At #${chosenTo}`}/>`}
        <p class="small"><${Link} to=${`${base}/versions/${chosenFrom}`}>Open #${chosenFrom}<//> · <${Link} to=${`${base}/versions/${chosenTo}`}>Open #${chosenTo}<//></p>`}
    </section>`}`
}
