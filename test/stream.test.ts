import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { streamSubscribers } from '../src/http/routes/stream.js'
import { DefinitionCache } from '../src/services/definitions.js'
import { recordChanges } from '../src/services/record.js'
import { inTransaction } from '../src/store/database.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { problemIs } from './helpers/access.js'

// API.md, "Streams and export (v2)", GET /stream; issue 15, Tests, first bullet. The stream
// is read over a real HTTP connection (Server-Sent Events cannot be injected): events are
// separated by a blank line; `id` is the cursor, `data` the JSON of {transaction, versions}.

interface SseEvent { id: string | undefined, event: string | undefined, data: any }

interface Subscription {
  status: number
  headers: http.IncomingHttpHeaders
  /** The body of an answer other than 200 (parsed as JSON when it is). */
  body: any
  /** Complete events, in the order they arrived. */
  events: SseEvent[]
  /** Comment lines (without the leading colon), in the order they arrived. */
  comments: string[]
  /** True once the server ended the response or the connection went. */
  ended: boolean
  close: () => void
}

/** The address the app listens on (started on first use; the harness closes the app when the test ends). */
async function baseOf (h: Harness): Promise<{ host: string, port: number }> {
  const address = h.app.server.address() as AddressInfo | null
  if (address === null) await h.app.listen({ port: 0, host: '127.0.0.1' })
  return { host: '127.0.0.1', port: (h.app.server.address() as AddressInfo).port }
}

/**
 * GET /stream (with `query`, as `key`, resuming after `lastEventId` when given), read as it
 * arrives; with `closeAfter`, the connection is closed as soon as that many events came.
 */
async function subscribe (h: Harness, options: { query?: string, key?: string, lastEventId?: string, closeAfter?: number } = {}): Promise<Subscription> {
  const { host, port } = await baseOf(h)
  return await new Promise<Subscription>((resolve, reject) => {
    const req = http.get({
      host, port, path: `/stream${options.query ?? ''}`, agent: false,
      headers: { authorization: `Bearer ${options.key ?? h.adminKey}`, accept: 'text/event-stream', ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }) }
    }, (res) => {
      const sub: Subscription = { status: res.statusCode ?? 0, headers: res.headers, body: undefined, events: [], comments: [], ended: false, close: () => { req.destroy() } }
      res.setEncoding('utf8')
      res.on('close', () => { sub.ended = true })
      res.on('error', () => { sub.ended = true })
      if (sub.status !== 200) {
        let text = ''
        res.on('data', (chunk: string) => { text += chunk })
        res.on('end', () => {
          try { sub.body = JSON.parse(text) } catch { sub.body = text }
          resolve(sub)
        })
        return
      }
      let buffer = ''
      res.on('data', (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let id: string | undefined
          let event: string | undefined
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { sub.comments.push(line.slice(1).trim()); continue }
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            if (field === 'id') id = value
            else if (field === 'event') event = value
            else if (field === 'data') data.push(value)
          }
          if (data.length > 0) sub.events.push({ id, event, data: JSON.parse(data.join('\n')) })
          if (options.closeAfter !== undefined && sub.events.length >= options.closeAfter) { sub.close(); return }
        }
      })
      resolve(sub)
    })
    req.on('error', (error) => { reject(error) })
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Waits until `done` holds (true) or `timeoutMs` passed (false). */
async function waitFor (done: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > until) return false
    await sleep(20)
  }
  return true
}

/** The streams of these tests poll every 50 ms when idle (the service's default is 250 ms). */
const STREAM = { streamOptions: { pollMs: 50 } }

/** Long enough for the stream to poll several times: what has not come by then is not coming. */
const SETTLE_MS = 400

/** The events of `sub` once `count` of them came, and a little longer (so that an extra one would be seen). */
async function eventsOf (sub: Subscription, count: number): Promise<SseEvent[]> {
  await waitFor(() => sub.events.length >= count)
  await sleep(SETTLE_MS)
  return sub.events
}

const idsOf = (events: SseEvent[]): number[] => events.map((e) => e.data.transaction.id)

/**
 * Every subscription closed by the client is closed by the server too (no stream keeps
 * running): the process's count of subscribers is back to what it was when the test began.
 */
async function allClosed (t: Test, before: number, what: string): Promise<void> {
  await waitFor(() => streamSubscribers.count === before, 5000)
  t.equal(streamSubscribers.count, before, `${what}: the server ended every stream the client closed`)
}

/**
 * The transactions as GET /transactions/{id} shows them now, in the shape of an event's
 * data ({transaction, versions}). A version's endTransactionId is what it is when the
 * answer is made: compare with an event made when the same transactions were recorded.
 */
async function details (h: Harness, ids: number[]): Promise<unknown[]> {
  return await Promise.all(ids.map(async (id) => {
    const res = await h.get(`/transactions/${id}`)
    if (res.status !== 200) throw new Error(`GET /transactions/${id}: ${res.status}`)
    const { versions, ...transaction } = res.body
    return { transaction, versions }
  }))
}

eachDatabase('Stream: every transaction once, in order, with its versions; resumable by Last-Event-ID or ?after=', async (t, h) => {
  const before = streamSubscribers.count
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const open: Subscription[] = []
  try {
    const live = await subscribe(h)
    open.push(live)
    t.equal(live.status, 200)
    t.equal(String(live.headers['content-type']).split(';')[0], 'text/event-stream')
    t.equal(await waitFor(() => live.comments.length > 0, 5000), true, 'a comment arrives before any event')
    t.equal(live.comments[0], 'stream open', 'the stream starts with ": stream open"')

    // Each transaction is compared, once its event came, with GET /transactions/{id} (made before the next one is recorded).
    const recorded: number[] = []
    for (const changes of [[ins('article', { id: 1, title: 'one' })], [ins('article', { id: 2, title: 'two' }), upd('article', '1', { title: 'one, again' })],
      [upd('article', '2', { title: 'two, again' })]]) {
      const id = await tx(h, ...changes)
      recorded.push(id)
      t.equal(await waitFor(() => live.events.length >= recorded.length), true, `the event of transaction ${id} arrives`)
      t.strictSame(live.events[recorded.length - 1]?.data, (await details(h, [id]))[0], `transaction ${id} with its versions, as GET /transactions/{id} shows it`)
    }
    const [t1, t2, t3] = recorded as [number, number, number]
    const events = await eventsOf(live, 3)
    t.strictSame(idsOf(events), [t1, t2, t3], 'exactly the three transactions, in id order')
    t.strictSame(events.map((e) => e.event), ['transaction', 'transaction', 'transaction'], 'each a `transaction` event')
    const cursors = events.map((e) => e.id)
    t.equal(new Set(cursors.filter((c) => typeof c === 'string' && c !== '')).size, 3, 'each event has an id of its own (a cursor)')

    const byHeader = await subscribe(h, { lastEventId: cursors[0] })
    open.push(byHeader)
    t.equal(byHeader.status, 200)
    const resumed = await eventsOf(byHeader, 2)
    t.strictSame(idsOf(resumed), [t2, t3], 'Last-Event-ID of the first: exactly the second and the third')
    t.strictSame(resumed.map((e) => e.id), cursors.slice(1), 'with the same cursors')
    t.strictSame(resumed.map((e) => e.data), await details(h, [t2, t3]), 'each with its versions, as GET /transactions/{id} shows it')

    const byQuery = await subscribe(h, { query: `?after=${encodeURIComponent(cursors[0]!)}` })
    open.push(byQuery)
    t.equal(byQuery.status, 200)
    const afterQuery = await eventsOf(byQuery, 2)
    t.strictSame(idsOf(afterQuery), [t2, t3], '?after= the first: exactly the second and the third')
    t.strictSame(afterQuery.map((e) => e.id), cursors.slice(1))
    t.strictSame(afterQuery.map((e) => e.data), resumed.map((e) => e.data), 'the same events as by Last-Event-ID')

    const atEnd = await subscribe(h, { lastEventId: cursors[2] })
    open.push(atEnd)
    await sleep(SETTLE_MS)
    t.strictSame(atEnd.events, [], 'after the last cursor: nothing yet')
    const t4 = await tx(h, upd('article', '1', { title: 'one, third' }))
    t.strictSame(idsOf(await eventsOf(atEnd, 1)), [t4], 'then exactly the next transaction')
    t.strictSame(idsOf(await eventsOf(live, 4)), [t1, t2, t3, t4], 'the first subscriber gets it too, once')
    for (const sub of open) t.equal(sub.ended, false, 'the streams are still open')
  } finally {
    for (const sub of open) sub.close()
  }
  await allClosed(t, before, 'after the client disconnected')

  // Invalid cursors: 400 problem+json naming where the cursor came from.
  for (const bad of ['nope', 'MTIzNA', Buffer.from('1.x').toString('base64url'), Buffer.from('99999999999999999999.1').toString('base64url')]) {
    const byQuery = await subscribe(h, { query: `?after=${encodeURIComponent(bad)}` })
    if (byQuery.status === 200) byQuery.close()
    problemIs(t, { status: byQuery.status, body: byQuery.body, headers: byQuery.headers }, 400, `?after=${bad}`)
    t.match(byQuery.body?.detail, /\bafter\b/, `?after=${bad}: the problem names after`)
    const byHeader = await subscribe(h, { lastEventId: bad })
    if (byHeader.status === 200) byHeader.close()
    problemIs(t, { status: byHeader.status, body: byHeader.body, headers: byHeader.headers }, 400, `Last-Event-ID: ${bad}`)
    t.match(byHeader.body?.detail, /Last-Event-ID/, `Last-Event-ID: ${bad}: the problem names Last-Event-ID`)
  }
  await allClosed(t, before, 'after the invalid cursors')
}, STREAM)

eachDatabase('Stream: ?type= and ?actor= filter the transactions', async (t, h) => {
  const before = streamSubscribers.count
  for (const type of ['article', 'comment']) t.equal((await h.put(`/entity-types/${type}`, {})).status, 201)
  const a = await tx(h, ins('article', { id: 1, title: 'a' }))
  const bob = async (...changes: Array<Record<string, unknown>>): Promise<number> => {
    const res = await h.post('/transactions', { actor: 'bob', changes })
    if (res.status !== 201) throw new Error(`POST /transactions: ${res.status}`)
    return res.body.transaction.id
  }
  const ada = async (...changes: Array<Record<string, unknown>>): Promise<number> => {
    const res = await h.post('/transactions', { actor: 'ada', changes })
    if (res.status !== 201) throw new Error(`POST /transactions: ${res.status}`)
    return res.body.transaction.id
  }
  const b = await bob(ins('comment', { id: 1, body: 'b' }))
  const c = await ada(ins('comment', { id: 2, body: 'c' }), upd('article', '1', { title: 'c' }))
  const d = await bob(upd('article', '1', { title: 'd' }))
  const e = await ada(upd('comment', '1', { body: 'e' }))
  const f = await ada(upd('article', '1', { title: 'f' }))
  // `a` has no actor.

  const open: Subscription[] = []
  const read = async (query: string, count: number, lastEventId?: string): Promise<SseEvent[]> => {
    const sub = await subscribe(h, { query, ...(lastEventId === undefined ? {} : { lastEventId }) })
    open.push(sub)
    t.equal(sub.status, 200, `${query}: 200`)
    return await eventsOf(sub, count)
  }
  try {
    const all = await read('', 6)
    t.strictSame(idsOf(all), [a, b, c, d, e, f], 'unfiltered: all six')
    const comments = await read('?type=comment', 3)
    t.strictSame(idsOf(comments), [b, c, e], '?type=comment: the transactions that touched a comment')
    t.strictSame(comments.map((ev) => ev.data), await details(h, [b, c, e]), 'each with all its versions (c\'s article version too)')
    t.strictSame(idsOf(await read('?type=article', 4)), [a, c, d, f], '?type=article')
    const adas = await read('?actor=ada', 3)
    t.strictSame(idsOf(adas), [c, e, f], '?actor=ada: ada\'s transactions only')
    t.strictSame(adas.map((ev) => ev.data.transaction.actor), ['ada', 'ada', 'ada'])
    t.strictSame(idsOf(await read('?actor=bob', 2)), [b, d], '?actor=bob')
    t.strictSame(idsOf(await read('?type=comment&actor=ada', 2)), [c, e], 'both filters: ada\'s transactions that touched a comment')
    t.strictSame(idsOf(await read('?actor=nobody', 0)), [], 'an actor with no transaction: none')
    t.strictSame(idsOf(await read('?type=comment', 2, comments[0]!.id)), [c, e], 'a filtered stream resumes after its own cursor')
    t.strictSame(idsOf(await read('?actor=ada', 3, all[0]!.id)), [c, e, f], 'and after the cursor of a transaction the filter left out')

    // Live: a filtered subscriber sees only the matching transactions recorded after it opened.
    const live = await subscribe(h, { query: '?type=comment', lastEventId: all.at(-1)!.id })
    open.push(live)
    const g = await ada(upd('article', '1', { title: 'g' }))
    const hh = await bob(upd('comment', '2', { body: 'h' }))
    t.strictSame(idsOf(await eventsOf(live, 1)), [hh], `live ?type=comment: only the comment transaction (not ${g})`)
  } finally {
    for (const sub of open) sub.close()
  }
  await allClosed(t, before, 'filters')
}, STREAM)

eachDatabase('Stream: a tenant sees its own transactions only', async (t, h) => {
  const before = streamSubscribers.count
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const acmeAdmin = await h.newKey(['admin'], 'acme', 'acme admin')
  const acmeReader = await h.newKey(['read'], 'acme', 'acme reader')
  const asAcme = async (method: string, url: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await h.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${acmeAdmin.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    return { status: res.statusCode, body: JSON.parse(res.body) }
  }
  t.equal((await asAcme('PUT', '/entity-types/article', {})).status, 201, 'acme registers article')

  const ours = [await tx(h, ins('article', { id: 1, title: 'default' }))]
  const acme1 = await asAcme('POST', '/transactions', { actor: 'ada', changes: [ins('article', { id: 1, title: 'acme' })] })
  t.equal(acme1.status, 201)
  ours.push(await tx(h, upd('article', '1', { title: 'default 2' })), await tx(h, ins('article', { id: 2 })))

  const open: Subscription[] = []
  try {
    const acmeStream = await subscribe(h, { key: acmeReader.key })
    open.push(acmeStream)
    t.equal(acmeStream.status, 200, 'a read key of acme may follow the stream')
    const acmeEvents = await eventsOf(acmeStream, 1)
    t.strictSame(idsOf(acmeEvents), [acme1.body.transaction.id], 'acme sees its one transaction, none of default\'s')
    const defaultStream = await subscribe(h)
    open.push(defaultStream)
    const defaultEvents = await eventsOf(defaultStream, 3)
    t.strictSame(idsOf(defaultEvents), ours, 'default sees its three, not acme\'s')

    // Filters and cursors of another tenant's stream lead to nothing of default's either.
    const acmeFiltered = await subscribe(h, { key: acmeReader.key, query: '?type=article&actor=ada' })
    open.push(acmeFiltered)
    t.strictSame(idsOf(await eventsOf(acmeFiltered, 1)), [acme1.body.transaction.id], 'acme, filtered: its own transaction')
    const acmeFromDefaultCursor = await subscribe(h, { key: acmeReader.key, lastEventId: defaultEvents[0]!.id })
    open.push(acmeFromDefaultCursor)
    await sleep(SETTLE_MS)
    t.equal(acmeFromDefaultCursor.status, 200)
    t.strictSame(idsOf(acmeFromDefaultCursor.events), [acme1.body.transaction.id], 'a cursor of default\'s stream shows acme nothing of default\'s (only its own, recorded after)')

    // Live: default's new transaction does not reach acme's open stream.
    const later = await tx(h, upd('article', '2', { title: 'later' }))
    await sleep(SETTLE_MS)
    t.strictSame(idsOf(acmeStream.events), [acme1.body.transaction.id], `default's later transaction ${later} does not reach acme's stream`)
  } finally {
    for (const sub of open) sub.close()
  }
  await allClosed(t, before, 'tenants')
}, STREAM)

eachDatabase('Stream: a subscriber that disconnects while its events are being sent is let go', async (t, h) => {
  const before = streamSubscribers.count
  t.equal((await h.put('/entity-types/item', {})).status, 201)
  // A backlog larger than a socket's buffer: the server is still writing when the client goes.
  for (let i = 0; i < 150; i++) await tx(h, ins('item', { id: i, text: 'x'.repeat(2000) }))
  for (let round = 0; round < 3; round++) {
    const atStart = streamSubscribers.count // each round on its own: a stream an earlier round left running is not counted again
    const sub = await subscribe(h, { closeAfter: 1 + round * 20 })
    t.equal(sub.status, 200)
    t.equal(await waitFor(() => sub.ended), true, `round ${round}: the client disconnects after ${1 + round * 20} events`)
    await allClosed(t, atStart, `round ${round}: disconnected after ${1 + round * 20} of 150 events`)
  }
  t.equal(streamSubscribers.count, before, 'no stream is left running')
}, STREAM)

eachDatabase('Stream: an idle subscriber does not pile up listeners while it waits', async (t, h) => {
  const before = streamSubscribers.count
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message) }
  process.on('warning', onWarning)
  const sub = await subscribe(h)
  try {
    t.equal(sub.status, 200)
    await sleep(800) // 16 polls of an empty stream
    t.strictSame(sub.events, [])
  } finally {
    sub.close()
    process.off('warning', onWarning)
  }
  t.strictSame(warnings, [], 'no "possible EventTarget memory leak" warning: each poll\'s wait leaves no listener behind')
  await allClosed(t, before, 'idle')
}, STREAM)

/** A small seeded generator (mulberry32), so that a failing run can be replayed with its seed. */
function randomOf (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

eachDatabase('Stream: 16 concurrent writers on shared entities, a subscriber reconnecting 3 times: each transaction once, in each entity\'s version order', async (t, h) => {
  const before = streamSubscribers.count
  const seed = Number(process.env.STREAM_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed} (STREAM_SEED=${seed} replays it)`)
  const random = randomOf(seed)
  const ENTITIES = 20
  const WRITERS = 16
  const PER_WRITER = 30
  t.equal((await h.put('/entity-types/item', {})).status, 201)

  const received: SseEvent[] = []
  let current = await subscribe(h)
  t.equal(current.status, 200)
  const acknowledged: Array<{ id: number, versions: Array<{ type: string, id: string, index: number }> }> = []
  const statuses: number[] = []

  const setup = await h.post('/transactions', { actor: 'setup', changes: Array.from({ length: ENTITIES }, (_, i) => ins('item', { id: i, n: 'new' })) })
  t.equal(setup.status, 201, 'the entities are inserted')
  acknowledged.push({ id: setup.body.transaction.id, versions: setup.body.versions })

  const total = WRITERS * PER_WRITER
  const thresholds = [0, 0, 0].map(() => Math.floor(total * (0.1 + 0.8 * random()))).sort((x, y) => x - y)
  const reconnects: Array<{ acknowledged: number, received: number, lastEventId: string | undefined }> = []
  let writesDone = false

  // The subscriber: at three random points during the writes it disconnects, and reconnects with the last id it received.
  const subscriber = (async () => {
    for (const threshold of thresholds) {
      while (acknowledged.length - 1 < threshold && !writesDone) await sleep(2)
      current.close()
      received.push(...current.events)
      const lastEventId = received.at(-1)?.id
      reconnects.push({ acknowledged: acknowledged.length - 1, received: received.length, lastEventId })
      current = await subscribe(h, lastEventId === undefined ? {} : { lastEventId })
      if (current.status !== 200) throw new Error(`reconnect: ${current.status} ${JSON.stringify(current.body)}`)
    }
  })()

  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let j = 0; j < PER_WRITER; j++) {
      const size = random() < 0.7 ? 1 : 2 + Math.floor(random() * 3)
      const chosen = new Set<number>()
      while (chosen.size < size) chosen.add(Math.floor(random() * ENTITIES))
      const changes = [...chosen].map((e) => upd('item', String(e), { n: `${w}-${j}`, [`w${w}`]: j }))
      const res = await h.post('/transactions', { actor: `writer ${w}`, changes })
      statuses.push(res.status)
      if (res.status === 201) acknowledged.push({ id: res.body.transaction.id, versions: res.body.versions })
    }
  })
  try {
    await Promise.all(writers)
    writesDone = true
    await subscriber
    t.strictSame(statuses, statuses.map(() => 201), `every write is acknowledged with 201 (${statuses.length})`)
    t.equal(reconnects.length, 3, 'the subscriber reconnected three times')
    t.comment(`reconnects: ${JSON.stringify(reconnects.map((r) => ({ acknowledged: r.acknowledged, received: r.received })))}`)
    t.equal(reconnects.filter((r) => r.acknowledged < total).length, 3, 'each reconnect happened while writes were still being acknowledged')

    const delivered = await waitFor(() => received.length + current.events.length >= acknowledged.length, 60_000)
    t.equal(delivered, true, `the stream delivered as many events as transactions were acknowledged (${received.length + current.events.length} of ${acknowledged.length})`)
    await sleep(SETTLE_MS)
    current.close()
    received.push(...current.events)
  } finally {
    writesDone = true
    current.close()
  }
  await allClosed(t, before, 'after the last disconnect')

  const ids = idsOf(received)
  const seen = new Map<number, number>()
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1)
  t.strictSame([...seen].filter(([, n]) => n > 1), [], 'no transaction is received twice')
  const ackedIds = acknowledged.map((a) => a.id).sort((x, y) => x - y)
  t.strictSame([...seen.keys()].sort((x, y) => x - y), ackedIds, 'the transactions received are exactly those acknowledged')
  t.equal(ids.length, acknowledged.length, 'as many events as acknowledged transactions')
  // Informational: how much the writes raced (answers that came after the answer of a higher transaction id:
  // those transactions ended out of id order), and whether the stream's order (the writers' xids) ever differed from id order.
  const ackOrder = acknowledged.map((a) => a.id)
  const outOfOrder = (list: number[]): number => { let high = -Infinity; let n = 0; for (const id of list) { if (id < high) n++; high = Math.max(high, id) } return n }
  t.comment(`answers after a higher id's answer: ${outOfOrder(ackOrder)}; events after a higher id's event: ${outOfOrder(ids)}`)

  // Each event carries the versions its write was answered with.
  const answered = new Map(acknowledged.map((a) => [a.id, a.versions.map((v) => `${v.type}/${v.id}@${v.index}`)]))
  const mismatched = received.filter((e) => JSON.stringify(e.data.versions.map((v: any) => `${v.type}/${v.id}@${v.index}`)) !== JSON.stringify(answered.get(e.data.transaction.id)))
  t.strictSame(mismatched.map((e) => e.data.transaction.id), [], 'each event has the versions its write was answered with')

  // For each entity, the versions arrive in its version order: 0, 1, 2, … with no gap.
  const arrival = new Map<string, number[]>()
  for (const e of received) for (const v of e.data.versions) arrival.set(v.id, [...(arrival.get(v.id) ?? []), v.index])
  for (let e = 0; e < ENTITIES; e++) {
    const history = await h.get(`/entities/item/${e}/versions?order=asc&limit=1000`)
    t.equal(history.status, 200)
    const indexes = (history.body.items as Array<{ index: number }>).map((v) => v.index)
    t.strictSame(arrival.get(String(e)), indexes, `item ${e}: its ${indexes.length} versions arrive in version order`)
  }
}, STREAM)

eachDatabase('Stream: a transaction that commits before one with a lower xid waits for it, and neither is skipped', async (t, h) => {
  const before = streamSubscribers.count
  t.equal((await h.put('/entity-types/item', {})).status, 201)
  const t0 = await tx(h, ins('item', { id: 1 }), ins('item', { id: 2 }))
  const definitions = await new DefinitionCache('default').get(h.db)
  const open: Subscription[] = []
  try {
    const live = await subscribe(h)
    open.push(live)
    t.strictSame(idsOf(await eventsOf(live, 1)), [t0])

    // Writer A records in a database transaction it keeps open; writer B records after it and commits first.
    let releaseA!: () => void
    const aMayCommit = new Promise<void>((resolve) => { releaseA = resolve })
    let aRecorded!: (id: number) => void
    const aHasRecorded = new Promise<number>((resolve) => { aRecorded = resolve })
    const writerA = inTransaction(h.db, async (trx) => {
      const result = await recordChanges(trx, 'default', definitions, { actor: 'A', changes: [{ type: 'item', op: 'update', id: '1', data: { by: 'A' } }] })
      aRecorded(result.transaction!.id)
      await aMayCommit
      return result
    }, 1)
    const a = await aHasRecorded
    let b: number
    try {
      b = await tx(h, upd('item', '2', { by: 'B' }))
      t.equal(b > a, true, `B's transaction id (${b}) comes after A's (${a})`)
      const late = await subscribe(h, { lastEventId: live.events[0]!.id })
      open.push(late)
      await sleep(SETTLE_MS)
      t.strictSame(idsOf(live.events), [t0], 'while A is open, B (committed) is not delivered')
      t.strictSame(late.events, [], 'nor to a subscriber that resumes meanwhile')
    } finally {
      releaseA()
      await writerA
    }
    t.strictSame(idsOf(await eventsOf(live, 3)), [t0, a, b], 'once A commits: A, then B, each once')
    t.strictSame(idsOf(await eventsOf(open[1]!, 2)), [a, b], 'the resumed subscriber too')
    const again = await subscribe(h, { lastEventId: live.events[1]!.id })
    open.push(again)
    t.strictSame(idsOf(await eventsOf(again, 1)), [b], 'resuming after A: B')
  } finally {
    for (const sub of open) sub.close()
  }
  await allClosed(t, before, 'out of order')
}, { ...STREAM, skip: { pglite: 'PGlite has one connection: no database transaction stays open while another commits' } })
