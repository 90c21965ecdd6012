// Transactions, newest first, filtered by actor, type and time (the filters are in the URL: they deep-link).
import { html, useState } from '../../vendor/preact-htm.js'
import { query } from '../api.js'
import { Link, navigate } from '../router.js'
import { ErrorMessage, Loading, PageTitle, usePages } from '../components.js'
import { TransactionTable } from './shared.js'

/** An RFC 3339 time as the value of a datetime-local input (the reader's time zone). */
function toLocalInput (iso) {
  if (iso === null || iso === '') return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  const pad = (n) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

/** A datetime-local value (the reader's time zone) as RFC 3339 (UTC). */
function fromLocalInput (value) {
  if (value === '') return ''
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? '' : date.toISOString()
}

export function TransactionsView ({ query: params }) {
  const filters = { actor: params.get('actor') ?? '', type: params.get('type') ?? '', since: params.get('since') ?? '', until: params.get('until') ?? '' }
  const search = query(filters)
  const list = usePages(`/transactions${search}`, 50)
  const types = usePages('/entity-types', 200)
  const [draft, setDraft] = useState(null)
  const form = draft ?? { ...filters, since: toLocalInput(filters.since), until: toLocalInput(filters.until) }
  const set = (name) => (event) => setDraft({ ...form, [name]: event.currentTarget.value })
  const active = Object.values(filters).some((v) => v !== '')

  const submit = (event) => {
    event.preventDefault()
    setDraft(null)
    navigate(`/transactions${query({ actor: form.actor.trim(), type: form.type, since: fromLocalInput(form.since), until: fromLocalInput(form.until) })}`, { keepScroll: true })
  }
  const typeNames = types.items.map((t) => t.type)
  if (filters.type !== '' && !typeNames.includes(filters.type)) typeNames.push(filters.type)

  return html`
    <${PageTitle} title="Transactions" sub="Every recorded transaction, newest first: who made it, when, and what it was for. Open one to see every change it made.">Transactions<//>
    <form class="panel filters" onSubmit=${submit} aria-label="Filter transactions">
      <div class="field">
        <label for="f-actor">Actor</label>
        <input id="f-actor" type="text" value=${form.actor} onInput=${set('actor')} autocomplete="off" spellcheck="false" placeholder="e.g. alice"/>
      </div>
      <div class="field">
        <label for="f-type">Changed a type</label>
        <select id="f-type" value=${form.type} onChange=${set('type')}>
          <option value="">Any type</option>
          ${typeNames.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="f-since">Since <span class="muted small">(inclusive)</span></label>
        <input id="f-since" type="datetime-local" value=${form.since} onInput=${set('since')}/>
      </div>
      <div class="field">
        <label for="f-until">Until <span class="muted small">(exclusive)</span></label>
        <input id="f-until" type="datetime-local" value=${form.until} onInput=${set('until')}/>
      </div>
      <div class="field field-action filter-actions">
        <button type="submit" class="btn btn-primary">Apply filters</button>
        ${active && html`<${Link} to="/transactions" class="btn btn-quiet" onClick=${() => setDraft(null)}>Clear<//>`}
      </div>
    </form>
    <section aria-labelledby="tx-heading">
      <h2 id="tx-heading" class="sr-only">Results</h2>
      <${ErrorMessage} error=${list.error} onRetry=${list.reload}/>
      ${list.items.length > 0 && html`<${TransactionTable} items=${list.items} caption=${active ? 'Transactions matching the filters' : 'Transactions'}/>`}
      ${!list.loading && list.error === undefined && list.items.length === 0 && html`<p class="muted empty" role="status">${active ? 'No transaction matches these filters.' : 'Nothing recorded yet.'}</p>`}
      ${list.loading && html`<${Loading} text="Loading transactions…"/>`}
      ${!list.loading && !list.done && list.error === undefined && html`<p class="more"><button type="button" class="btn" onClick=${list.more}>Show older transactions</button></p>`}
    </section>`
}
