// Reverts: always a dry run first that shows the exact changes, then an explicit confirmation.
import { html, useEffect, useRef, useState } from '../../vendor/preact-htm.js'
import { api, ApiError, canRevert, seg } from '../api.js'
import { Link } from '../router.js'
import { ChangeList, EntityLink, ErrorMessage, Loading } from '../components.js'
import { plural } from '../format.js'
import { kindText } from './shared.js'

/** Whether this key may revert: 'checking', 'allowed', or why not ('scope', 'viewer-token'). */
function useRevertAbility (probe) {
  const [ability, setAbility] = useState({ state: 'checking' })
  useEffect(() => {
    let live = true
    canRevert(probe).then(
      (answer) => { if (live) setAbility(answer.allowed ? { state: 'allowed' } : { state: 'denied', reason: answer.reason }) },
      (error) => { if (live) setAbility({ state: 'error', error }) }
    )
    return () => { live = false }
  }, [])
  return ability
}

function Denied ({ reason }) {
  return html`<div class="notice" role="note">
    <p class="notice-title">Reverting is not available with this ${reason === 'viewer-token' ? 'token' : 'key'}</p>
    <p>${reason === 'viewer-token'
      ? 'Viewer tokens are read-only: they show history but cannot change it.'
      : 'It lacks the revert scope. Sign in with a key that has the revert (or admin) scope to revert.'}</p>
    <p><button type="button" class="btn" disabled aria-disabled="true">Preview revert</button></p>
  </div>`
}

const APPLY_NOTE = 'Rewind records the revert as a new transaction and answers these changes; your application applies them to its own database (for example from the change stream or a webhook).'

function Success ({ result }) {
  const tx = result.transaction
  return html`<div class="notice notice-success" role="status" data-result="reverted">
    ${tx === null
      ? html`<p class="notice-title">Nothing changed</p><p>Everything was already as it was then: no transaction was recorded.</p>`
      : html`<p class="notice-title">Reverted: <${Link} to=${`/transactions/${tx.id}`}>transaction #${tx.id}<//> recorded with ${plural(result.changes.length, 'change')}.</p>
        <p class="small">${APPLY_NOTE}</p>`}
  </div>`
}

/** Revert one entity (optionally with relations) to its state at transaction `to`. */
export function RevertEntityPanel ({ type, id, to, relations, onReverted }) {
  const path = `/entities/${seg(type)}/${seg(id)}/revert`
  const ability = useRevertAbility(() => api(path, { method: 'POST', body: { to: Number(to), dryRun: true } }))
  const [selected, setSelected] = useState(() => new Set())
  const [actor, setActor] = useState('')
  const [preview, setPreview] = useState(null)
  const [busy, setBusy] = useState(null)
  const [error, setError] = useState(null)
  const [result, setResult] = useState(null)

  if (ability.state === 'checking') return html`<${Loading} text="Checking whether this key may revert…"/>`
  if (ability.state === 'error') return html`<${ErrorMessage} error=${ability.error}/>`
  if (ability.state === 'denied') return html`<${Denied} reason=${ability.reason}/>`

  const body = (dryRun) => ({
    to: Number(to),
    ...(selected.size > 0 ? { relations: [...selected] } : {}),
    ...(actor.trim() !== '' ? { actor: actor.trim() } : {}),
    dryRun
  })
  const toggle = (name) => {
    const next = new Set(selected)
    if (next.has(name)) next.delete(name)
    else next.add(name)
    setSelected(next)
    setPreview(null)
    setResult(null)
  }
  const runPreview = async (event) => {
    event.preventDefault()
    setBusy('preview'); setError(null); setResult(null)
    try {
      const answer = await api(path, { method: 'POST', body: body(true) })
      setPreview({ changes: answer.changes, request: body(false) })
    } catch (e) { setError(e); setPreview(null) } finally { setBusy(null) }
  }
  const confirm = async () => {
    setBusy('confirm'); setError(null)
    try {
      const answer = await api(path, { method: 'POST', body: preview.request })
      setResult(answer)
      setPreview(null)
      onReverted?.(answer)
    } catch (e) { setError(e) } finally { setBusy(null) }
  }
  const relationEntries = Object.entries(relations ?? {})
  return html`<div class="revert-panel">
    <p>Bring <strong>${type} ${id}</strong> back to its state at <${Link} to=${`/transactions/${to}`}>transaction #${to}<//>. You see the exact changes first; nothing is recorded until you confirm.</p>
    <form onSubmit=${runPreview} class="revert-form">
      ${relationEntries.length > 0 && html`<fieldset>
        <legend>Also revert these relations <span class="muted small">(the related entities go back to how they were then)</span></legend>
        ${relationEntries.map(([name, r]) => html`<div class="check" key=${name}>
          <input type="checkbox" id=${`rel-${name}`} name="relations" value=${name} checked=${selected.has(name)} onChange=${() => toggle(name)}/>
          <label for=${`rel-${name}`}><code>${name}</code> <span class="muted">${r.target}, ${kindText(r.kind)}</span></label>
        </div>`)}
      </fieldset>`}
      <div class="field">
        <label for="revert-actor">Actor <span class="muted small">(optional: who asks for this revert)</span></label>
        <input id="revert-actor" type="text" value=${actor} autocomplete="off" onInput=${(e) => { setActor(e.currentTarget.value); setPreview(null) }}/>
      </div>
      <button type="submit" class="btn" disabled=${busy !== null}>${busy === 'preview' ? 'Computing the changes…' : 'Preview revert'}</button>
    </form>
    <${ErrorMessage} error=${error}/>
    ${preview !== null && html`<section class="preview" aria-labelledby="preview-heading" aria-live="polite">
      <h3 id="preview-heading">Preview: ${preview.changes.length === 0 ? 'nothing to change' : `${plural(preview.changes.length, 'change')} would be recorded`}</h3>
      ${preview.changes.length === 0
        ? html`<p>${type} ${id}${selected.size > 0 ? ' and the chosen relations are' : ' is'} already as it was at transaction #${to}.</p>`
        : html`<${ChangeList} changes=${preview.changes} label="Changes the revert would make"/>
          <p class="small muted">${APPLY_NOTE}</p>
          <div class="confirm-row">
            <button type="button" class="btn btn-danger" onClick=${confirm} disabled=${busy !== null}>${busy === 'confirm' ? 'Reverting…' : `Confirm revert (${plural(preview.changes.length, 'change')})`}</button>
            <button type="button" class="btn btn-quiet" onClick=${() => setPreview(null)} disabled=${busy !== null}>Cancel</button>
          </div>`}
    </section>`}
    ${result !== null && html`<${Success} result=${result}/>`}
  </div>`
}

/**
 * The entities of a transaction that later transactions changed (their version has an end), with
 * those later transaction ids: what a revert without force would refuse (409), known beforehand.
 */
function useLaterChanges (id, versions) {
  const [state, setState] = useState({ loading: true, conflicts: [] })
  useEffect(() => {
    const later = (versions ?? []).filter((v) => v.endTransactionId !== null && v.endTransactionId !== undefined)
    if (later.length === 0) { setState({ loading: false, conflicts: [] }); return }
    const controller = new AbortController()
    const txId = Number(id)
    Promise.all(later.slice(0, 100).map(async (v) => {
      try {
        const page = await api(`/entities/${seg(v.type)}/${seg(v.id)}/versions?order=desc&limit=100`, { signal: controller.signal })
        const ids = page.items.map((x) => x.transactionId).filter((t) => t > txId).sort((a, b) => a - b)
        return { type: v.type, id: v.id, transactionIds: ids.length > 0 ? ids : [v.endTransactionId], truncated: page.nextCursor !== null && ids.length === page.items.length }
      } catch (error) {
        if (error?.name === 'AbortError') throw error
        return { type: v.type, id: v.id, transactionIds: [v.endTransactionId], truncated: true }
      }
    })).then(
      (conflicts) => setState({ loading: false, conflicts, truncated: later.length > 100 }),
      () => {}
    )
    return () => controller.abort()
  }, [id, versions])
  return state
}

function Conflicts ({ conflict, live }) {
  return html`<div class="notice notice-warning conflicts" role=${live ? 'alert' : 'note'}>
    <p class="notice-title">Later transactions changed ${plural(conflict.conflicts.length, 'of its entities', 'of its entities')}</p>
    <p>Reverting this transaction would overwrite their later changes. Review them; to revert anyway, tick “Force”.</p>
    <ul class="conflict-list">${conflict.conflicts.map((c) => html`<li key=${`${c.type}/${c.id}`}>
      <${EntityLink} type=${c.type} id=${c.id}/>: changed later by ${c.transactionIds.map((t, i) => html`${i > 0 ? ', ' : ''}<${Link} key=${t} to=${`/transactions/${t}`}>#${t}<//>`)}${c.truncated === true ? ' and more' : ''}
    </li>`)}</ul>
    ${conflict.truncated === true && html`<p class="small muted">The list is cut short.</p>`}
  </div>`
}

/** Undo one whole transaction; conflicts with later transactions are listed and may be forced. */
export function RevertTransactionPanel ({ id, versions, onReverted }) {
  const path = `/transactions/${id}/revert`
  const ability = useRevertAbility(() => api(path, { method: 'POST', body: { dryRun: true, force: true } }))
  const later = useLaterChanges(id, versions)
  const [force, setForce] = useState(false)
  const [preview, setPreview] = useState(null)
  const [conflict, setConflict] = useState(null)
  const [busy, setBusy] = useState(null)
  const [error, setError] = useState(null)
  const [result, setResult] = useState(null)
  const [needsForce, setNeedsForce] = useState(false)
  const forceBox = useRef(null)

  if (ability.state === 'checking' || later.loading) return html`<${Loading} text="Checking whether this transaction can be reverted…"/>`
  if (ability.state === 'error') return html`<${ErrorMessage} error=${ability.error}/>`
  if (ability.state === 'denied') return html`<${Denied} reason=${ability.reason}/>`
  const known = conflict ?? (later.conflicts.length > 0 && result === null ? { conflicts: later.conflicts, truncated: later.truncated } : null)

  const runPreview = async (event) => {
    event.preventDefault()
    setResult(null); setPreview(null)
    // Known conflicts: a revert without force would be refused, so it is not asked.
    if (known !== null && !force) { setNeedsForce(true); forceBox.current?.focus(); return }
    setBusy('preview'); setError(null); setConflict(null); setNeedsForce(false)
    try {
      const answer = await api(path, { method: 'POST', body: { dryRun: true, ...(force ? { force: true } : {}) } })
      setPreview({ changes: answer.changes, force })
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && Array.isArray(e.problem.conflicts)) setConflict(e.problem)
      else setError(e)
    } finally { setBusy(null) }
  }
  const confirm = async () => {
    setBusy('confirm'); setError(null)
    try {
      const answer = await api(path, { method: 'POST', body: preview.force ? { force: true } : {} })
      setResult(answer)
      setPreview(null)
      onReverted?.(answer)
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && Array.isArray(e.problem.conflicts)) { setConflict(e.problem); setPreview(null) } else setError(e)
    } finally { setBusy(null) }
  }
  return html`<div class="revert-panel">
    <p>Undo what transaction #${id} did: every entity it changed goes back to its state just before it, as a new transaction. You see the exact changes first; nothing is recorded until you confirm.</p>
    <form onSubmit=${runPreview} class="revert-form">
      <div class="check">
        <input type="checkbox" id="revert-force" ref=${forceBox} checked=${force} onChange=${(e) => { setForce(e.currentTarget.checked); setPreview(null); setNeedsForce(false) }}/>
        <label for="revert-force">Force: revert even where later transactions changed the same entities (their later changes are overwritten)</label>
      </div>
      <button type="submit" class="btn" disabled=${busy !== null}>${busy === 'preview' ? 'Computing the changes…' : 'Preview revert'}</button>
    </form>
    <${ErrorMessage} error=${error}/>
    ${known !== null && html`<${Conflicts} conflict=${known} live=${conflict !== null || needsForce}/>`}
    ${preview !== null && html`<section class="preview" aria-labelledby="tx-preview-heading" aria-live="polite">
      <h3 id="tx-preview-heading">Preview: ${preview.changes.length === 0 ? 'nothing to change' : `${plural(preview.changes.length, 'change')} would be recorded`}</h3>
      ${preview.changes.length === 0
        ? html`<p>Everything this transaction changed is already as it was before it.</p>`
        : html`<${ChangeList} changes=${preview.changes} label="Changes the revert would make"/>
          <p class="small muted">${APPLY_NOTE}</p>
          <div class="confirm-row">
            <button type="button" class="btn btn-danger" onClick=${confirm} disabled=${busy !== null}>${busy === 'confirm' ? 'Reverting…' : `Confirm revert${preview.force ? ' (forced)' : ''} (${plural(preview.changes.length, 'change')})`}</button>
            <button type="button" class="btn btn-quiet" onClick=${() => setPreview(null)} disabled=${busy !== null}>Cancel</button>
          </div>`}
    </section>`}
    ${result !== null && html`<${Success} result=${result}/>`}
  </div>`
}
