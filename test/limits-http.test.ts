import net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { eachDatabase, type Harness, type Reply } from './helpers/harness.js'
import { assertProblem } from './helpers/assertions.js'
import { del, ins, postChanges, tx, upd } from './helpers/changes.js'

// Limits (v2) at the HTTP level: the rate per key, a body sent too slowly; and excluded
// fields, which no answer shows.

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

eachDatabase('rate: the 6th request in a second from one key is 429 with Retry-After; other keys and /health are not limited', async (t, h) => {
  const other = await h.newKey(['read'])
  const asOther = async (url: string): Promise<Reply> => await h.request('GET', url, undefined, { authorization: `Bearer ${other.key}` })

  t.equal((await h.get('/health')).status, 200, 'warm-up (not counted)')
  const started = Date.now()
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await h.get('/entity-types')).status)
  const sixth = await h.get('/entity-types')
  t.comment(`six requests in ${Date.now() - started} ms`)
  t.strictSame(statuses, [200, 200, 200, 200, 200], 'five requests pass')
  assertProblem(t, sixth, 429, 'the sixth request')
  const retryAfter = String(sixth.headers['retry-after'] ?? '')
  t.equal(/^[1-9][0-9]*$/.test(retryAfter), true, `Retry-After is a number of seconds: "${retryAfter}"`)
  t.equal(Number(retryAfter) <= 1, true, `a window of one second: Retry-After ${retryAfter} ≤ 1`)
  t.equal((await h.post('/transactions', { changes: [] })).status, 429, 'writes of that key too')

  const otherStatuses: number[] = []
  for (let i = 0; i < 5; i++) otherStatuses.push((await asOther('/entity-types')).status)
  t.strictSame(otherStatuses, [200, 200, 200, 200, 200], 'another key of the same tenant is not affected')

  const health: number[] = []
  for (let i = 0; i < 10; i++) health.push((await h.get('/health')).status)
  for (let i = 0; i < 10; i++) health.push((await h.request('GET', '/health', undefined, { authorization: '' })).status)
  t.strictSame(health, Array(20).fill(200), '/health is never limited, with or without the limited key')

  await sleep(Number(retryAfter) * 1000 + 100)
  t.equal((await h.get('/entity-types')).status, 200, 'after Retry-After the key is served again')
}, { limits: { ratePerSecond: 5 } })

interface RawReply { text: string, closedAfterMs: number }

/** Sends the head of a POST with content-length 1000, then one byte every 100 ms until the server closes. */
async function trickle (port: number, key: string): Promise<RawReply> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const started = Date.now()
    let text = ''
    let timer: NodeJS.Timeout | undefined
    const giveUp = setTimeout(() => { clearInterval(timer); socket.destroy(); reject(new Error(`no close within 5 s; received: ${text}`)) }, 5000)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('error', () => { /* writes after the server closed */ })
    socket.on('close', () => { clearInterval(timer); clearTimeout(giveUp); resolve({ text, closedAfterMs: Date.now() - started }) })
    socket.write('POST /transactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n{"changes": [`)
    timer = setInterval(() => { if (socket.writable) socket.write(' ') }, 100)
  })
}

eachDatabase('a body sent too slowly is 408 problem+json and the connection closes; /ready keeps answering', async (t, h) => {
  t.equal((await h.put('/entity-types/n', {})).status, 201)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (h.app.server.address() as AddressInfo).port

  const slow = trickle(port, h.adminKey)
  await sleep(250)
  const ready = await fetch(`http://127.0.0.1:${port}/ready`)
  t.equal(ready.status, 200, '/ready answers while the slow body is pending')
  const reply = await slow
  const readyAfter = await fetch(`http://127.0.0.1:${port}/ready`)
  t.equal(readyAfter.status, 200, '/ready answers afterwards')
  t.comment(`closed after ${reply.closedAfterMs} ms: ${JSON.stringify(reply.text.slice(0, 400))}`)

  const [head = '', body = ''] = reply.text.split('\r\n\r\n')
  const lines = head.split('\r\n')
  t.equal(lines[0]?.startsWith('HTTP/1.1 408 '), true, `status line: ${lines[0] ?? ''}`)
  const contentType = lines.find((l) => l.toLowerCase().startsWith('content-type:'))?.slice('content-type:'.length).trim()
  t.equal(contentType?.startsWith('application/problem+json'), true, `content-type: ${contentType ?? '(none)'}`)
  let problem: any
  try { problem = JSON.parse(body) } catch { problem = undefined }
  t.equal(problem?.status, 408, 'a problem body with status 408')
  t.equal(typeof problem?.type === 'string' && typeof problem?.title === 'string' && typeof problem?.detail === 'string', true, 'type, title, detail')
  t.equal(reply.closedAfterMs < 2000, true, `answered and closed within 2 s (${reply.closedAfterMs} ms)`)
  t.strictSame([await h.count('transactions'), await h.count('versions')], [0, 0], 'nothing recorded')

  // An ordinary request on a real socket is not affected by the limit.
  const normal = await fetch(`http://127.0.0.1:${port}/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminKey}` },
    body: JSON.stringify({ changes: [ins('n', { id: 1 })] })
  })
  t.equal(normal.status, 201)
}, { limits: { bodyTimeoutMs: 500 } })

const LEAKED = /"secret"|"s[0-9]"/

function assertNoSecret (t: Test, res: Reply, status: number, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  const text = JSON.stringify(res.body)
  const at = text.search(LEAKED)
  t.equal(at, -1, `${what}: no excluded field${at === -1 ? '' : ` (…${text.slice(Math.max(0, at - 80), at + 40)}…)`}`)
}

async function registerNotes (h: Harness, note: object): Promise<number> {
  const res = await h.put('/entity-types/note', { ...note, relations: { folder: { kind: 'manyToOne', target: 'folder', foreignKey: 'folder_id' } } })
  return res.status
}

eachDatabase('excluded fields never appear, even values stored before the exclusion', async (t, h) => {
  t.equal(await registerNotes(h, {}), 201)
  t.equal((await h.put('/entity-types/folder', { relations: { notes: { kind: 'oneToMany', target: 'note', foreignKey: 'folder_id' } } })).status, 201)
  const t1 = await tx(h, ins('folder', { id: 1, name: 'f' }), ins('note', { id: 1, text: 'a', secret: 's1', folder_id: 1 }))
  t.equal(await registerNotes(h, { exclude: ['secret'] }), 200)

  const written = await postChanges(h, [upd('note', '1', { text: 'b', secret: 's2' })])
  assertNoSecret(t, written, 201, 'POST /transactions')
  const t2: number = written.body?.transaction?.id
  const onlySecret = await postChanges(h, [upd('note', '1', { secret: 's3' })])
  t.strictSame([onlySecret.status, onlySecret.body], [200, { transaction: null, versions: [] }], 'a change of the excluded field alone records nothing')

  const reads: Array<[string, string]> = [
    ['versions', '/entities/note/1/versions'],
    ['versions desc', '/entities/note/1/versions?order=desc'],
    ['version 1', `/entities/note/1/versions/${t1}`],
    ['version 1 with its folder', `/entities/note/1/versions/${t1}?relations=folder`],
    ['version 2', `/entities/note/1/versions/${t2}`],
    ['state at t1', `/entities/note/1?at=${t1}`],
    ['state now', '/entities/note/1'],
    ['changeset t1 → t2', `/entities/note/1/changeset?from=${t1}&to=${t2}`],
    ['changeset t2 → t1', `/entities/note/1/changeset?from=${t2}&to=${t1}`],
    ['transaction 1', `/transactions/${t1}`],
    ['transaction 2', `/transactions/${t2}`],
    ['transaction 1 versions', `/transactions/${t1}/versions`],
    ['folder with its notes', `/entities/folder/1/versions/${t1}?relations=notes`],
    ['folder state with its notes', `/entities/folder/1?at=${t1}&relations=notes`],
    ['folder notes page', `/entities/folder/1/versions/${t1}/relations/notes`]
  ]
  for (const [what, url] of reads) assertNoSecret(t, await h.get(url), 200, what)
  t.strictSame((await h.get(`/entities/note/1?at=${t1}`)).body?.data, { id: 1, text: 'a', folder_id: 1 })
  t.strictSame((await h.get(`/entities/note/1/changeset?from=${t1}&to=${t2}`)).body, { text: ['a', 'b'] })
  t.equal((await h.get(`/entities/folder/1/versions/${t1}/relations/notes`)).body?.items?.length, 1, 'the note is listed')

  const undo = await h.post(`/transactions/${t2}/revert`, { dryRun: true })
  assertNoSecret(t, undo, 200, 'transaction revert (dry run)')
  t.strictSame(undo.body?.changes, [{ type: 'note', op: 'update', id: '1', data: { text: 'a' } }])

  const reverted = await h.post('/entities/note/1/revert', { to: t1 })
  assertNoSecret(t, reverted, 201, 'entity revert')
  t.strictSame(reverted.body?.changes, [{ type: 'note', op: 'update', id: '1', data: { text: 'a' } }])
  t.strictSame((await h.get('/entities/note/1')).body?.data, { id: 1, text: 'a', folder_id: 1 })

  // Deleted now: the revert brings it back with its full old state — without the excluded field.
  const t4 = await tx(h, del('note', '1'))
  assertNoSecret(t, await h.get(`/entities/note/1/versions/${t4}`), 200, 'the delete version')
  const back = await h.post('/entities/note/1/revert', { to: t1, dryRun: true })
  assertNoSecret(t, back, 200, 'entity revert of a deleted note (dry run)')
  t.strictSame(back.body?.changes, [{ type: 'note', op: 'insert', id: '1', data: { id: 1, text: 'a', folder_id: 1 } }])
  const viaFolder = await h.post('/entities/folder/1/revert', { to: t1, relations: ['notes'], dryRun: true })
  assertNoSecret(t, viaFolder, 200, 'folder revert with its notes (dry run)')
  t.strictSame(viaFolder.body?.changes, [{ type: 'note', op: 'insert', id: '1', data: { id: 1, text: 'a', folder_id: 1 } }])
  const undoDelete = await h.post(`/transactions/${t4}/revert`, {})
  assertNoSecret(t, undoDelete, 201, 'transaction revert of the delete')
  t.strictSame(undoDelete.body?.changes, [{ type: 'note', op: 'insert', id: '1', data: { id: 1, text: 'a', folder_id: 1 } }])
  assertNoSecret(t, await h.get('/entities/note/1/versions'), 200, 'every version at the end')
})

eachDatabase('excluded fields: an idempotent replay of an answer given before the exclusion does not show them either', async (t, h) => {
  t.equal((await h.put('/entity-types/note', {})).status, 201)
  const body = { changes: [ins('note', { id: 1, text: 'a', secret: 's1' })] }
  const first = await h.post('/transactions', body, { 'idempotency-key': 'k1' })
  t.equal(first.status, 201)
  t.equal(first.body?.versions?.[0]?.data?.secret, 's1', 'recorded while not excluded')
  t.equal((await h.put('/entity-types/note', { exclude: ['secret'] })).status, 200)

  const replay = await h.post('/transactions', body, { 'idempotency-key': 'k1' })
  t.equal(replay.headers['idempotent-replayed'], 'true')
  assertNoSecret(t, replay, 201, 'the replayed answer')
  t.equal(await h.count('transactions'), 1, 'nothing recorded by the replay')
})
