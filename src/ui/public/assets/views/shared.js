// Pieces that several views show: opening an entity by id, a table of transactions, a type's definition.
import { html, useState } from '../../vendor/preact-htm.js'
import { seg } from '../api.js'
import { Link, navigate } from '../router.js'
import { Meta, RevertOf, TimeText, Who } from '../components.js'

let formCounter = 0

/** "Open an entity": a type (chosen or fixed) and a key. */
export function OpenEntityForm ({ types, fixedType }) {
  const [uid] = useState(() => ++formCounter)
  const [type, setType] = useState(fixedType ?? '')
  const [id, setId] = useState('')
  const [error, setError] = useState(null)
  const chosen = fixedType ?? (type !== '' ? type : types?.[0] ?? '')
  const submit = (event) => {
    event.preventDefault()
    if (chosen === '') { setError('Choose a type.'); return }
    if (id.trim() === '') { setError('Enter the entity\'s id (its key: "7", or "7,3" for several id fields).'); return }
    navigate(`/entities/${seg(chosen)}/${seg(id.trim())}`)
  }
  return html`<form class="open-entity" onSubmit=${submit} novalidate aria-label="Open an entity by id">
    ${fixedType === undefined && html`<div class="field">
      <label for=${`open-type-${uid}`}>Type</label>
      <select id=${`open-type-${uid}`} value=${chosen} onChange=${(e) => setType(e.currentTarget.value)}>
        ${(types ?? []).map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
      </select>
    </div>`}
    <div class="field field-grow">
      <label for=${`open-id-${uid}`}>${fixedType === undefined ? 'Id' : `Id (key) of the ${fixedType}`}</label>
      <input id=${`open-id-${uid}`} type="text" value=${id} onInput=${(e) => setId(e.currentTarget.value)} placeholder="e.g. 1"
        autocomplete="off" spellcheck="false" aria-describedby=${error !== null ? `open-error-${uid}` : undefined}/>
    </div>
    <div class="field field-action"><button type="submit" class="btn btn-primary">Open history</button></div>
    ${error !== null && html`<p id=${`open-error-${uid}`} class="field-error" role="alert">${error}</p>`}
  </form>`
}

/** Transactions, newest first: id, when, who, and what it was (metadata, revert). */
export function TransactionTable ({ items, caption = 'Transactions' }) {
  return html`<table class="list tx-list">
    <caption class="sr-only">${caption}</caption>
    <thead><tr><th scope="col">Transaction</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">Details</th></tr></thead>
    <tbody>${items.map((tx) => html`<tr key=${tx.id} data-transaction=${tx.id}>
      <th scope="row" data-label="Transaction"><${Link} to=${`/transactions/${tx.id}`}>#${tx.id}<//></th>
      <td data-label="When"><${TimeText} iso=${tx.issuedAt}/></td>
      <td data-label="Who"><${Who} transaction=${tx}/></td>
      <td data-label="Details" class="details-cell">${tx.revertOf !== undefined && tx.revertOf !== null && html`<${RevertOf} revertOf=${tx.revertOf}/>`}<${Meta} meta=${tx.meta}/>
        ${(tx.revertOf === undefined || tx.revertOf === null) && Object.keys(tx.meta ?? {}).length === 0 && html`<span class="muted">—</span>`}</td>
    </tr>`)}</tbody>
  </table>`
}

/** A type's definition in words: key fields, relations (linked), excluded fields. */
export function TypeDefinition ({ definition }) {
  const relations = Object.entries(definition?.relations ?? {})
  const exclude = definition?.exclude ?? []
  return html`<dl class="definition">
    <div><dt>Key</dt><dd>${(definition?.idFields ?? ['id']).map((f, i) => html`${i > 0 ? ', ' : ''}<code key=${f}>${f}</code>`)}</dd></div>
    <div><dt>Relations</dt><dd>${relations.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="chips">${relations.map(([name, r]) => html`<li key=${name} class="chip">
      <span class="chip-name">${name}</span> <span aria-hidden="true">→</span><span class="sr-only">to</span> <${Link} to=${`/types/${seg(r.target)}`}>${r.target}<//> <span class="muted">(${kindText(r.kind)})</span>
    </li>`)}</ul>`}</dd></div>
    ${exclude.length > 0 && html`<div><dt>Not versioned</dt><dd>${exclude.map((f, i) => html`${i > 0 ? ', ' : ''}<code key=${f}>${f}</code>`)}</dd></div>`}
  </dl>`
}

export const kindText = (kind) => ({ manyToOne: 'many-to-one', oneToMany: 'one-to-many', manyToMany: 'many-to-many' }[kind] ?? kind)
