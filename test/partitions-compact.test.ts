import t from 'tap'
import { sql } from 'kysely'
import { compactPartitions } from '../src/services/partitions.js'
import type { Db } from '../src/store/database.js'
import { listPartitions } from '../src/store/partitions.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { verifyOk } from './helpers/assertions.js'

// docs/partitions.md, "Compacting closed partitions": a partition whose ids are all drawn is
// rewritten in entity order (rewind_compact_partition, migration 0013) and swapped in; every
// answer stays the same, and readers go on while it is rewritten.

const IDS = ['a', 'b', 'c', 'd']

/** 25 transactions over 4 articles, the versions of each one interleaved with the others'. */
async function writeHistory (h: Harness): Promise<void> {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ...IDS.map((id) => ins('article', { id, n: 0 })))
  for (let n = 1; n < 25; n++) await tx(h, ...IDS.filter((_, i) => (n + i) % 3 !== 0).map((id) => upd('article', id, { n })))
}

/** Every read of the history a user makes: pages both ways, each version with its neighbours, each state, changesets. */
async function everyAnswer (h: Harness): Promise<unknown[]> {
  const answers: unknown[] = []
  for (const id of IDS) {
    const page = await h.get(`/entities/article/${id}/versions?limit=1000`)
    answers.push(page.status, page.body, (await h.get(`/entities/article/${id}/versions?limit=3&order=desc`)).body)
    for (const v of page.body.items as Array<{ transactionId: number }>) {
      const detail = await h.get(`/entities/article/${id}/versions/${v.transactionId}`)
      answers.push(detail.status, detail.body)
    }
    for (let at = 1; at <= 26; at++) {
      const state = await h.get(`/entities/article/${id}?at=${at}`)
      answers.push(state.status, state.body)
    }
    answers.push((await h.get(`/entities/article/${id}/changeset?from=1&to=24`)).body)
  }
  for (let id = 1; id <= 25; id++) answers.push((await h.get(`/transactions/${id}`)).body)
  return answers
}

/** A partition's rows in the order they sit in its table, and its index names and triggers. */
async function layout (owner: Db, name: string): Promise<{ physical: string[], byKey: string[], indexes: string[], triggers: string[] }> {
  const table = sql.table(name)
  const rows = async (order: 'ctid' | 'key'): Promise<string[]> => (await sql<{ k: string }>`
    select entity_key || '@' || transaction_id as k from ${table}
    order by ${order === 'ctid' ? sql`ctid` : sql`tenant, type, entity_key, transaction_id`}`.execute(owner)).rows.map((r) => r.k)
  const indexes = (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = ${name} order by 1`.execute(owner)).rows.map((r) => r.name)
  const triggers = (await sql<{ name: string }>`select tgname as name from pg_trigger where tgrelid = ${name}::regclass order by 1`.execute(owner)).rows.map((r) => r.name)
  return { physical: await rows('ctid'), byKey: await rows('key'), indexes, triggers }
}

eachDatabase('closed partitions are rewritten in entity order: every answer stays the same, writes go on after', async (t, h) => {
  await writeHistory(h)
  const before = await everyAnswer(h)
  const partitionsBefore = (await listPartitions(h.db)).map((p) => [p.name, p.fromId, p.toId, p.state])

  await h.asOwner(async (owner) => {
    const old = await layout(owner, 'versions_11')
    t.equal(old.physical.length, 27, '10 transactions of 2 or 3 versions')
    t.not(old.physical.join(' '), old.byKey.join(' '), 'written in transaction order, the entities interleaved')

    await t.rejects(compactPartitions(owner, 'versions_21'), /partition "versions_21" may still receive versions \(ids up to 30\)/, 'an open partition stays as it is')
    await t.rejects(compactPartitions(owner, 'versions_9'), /no partition "versions_9"/)
    t.strictSame(await compactPartitions(owner), [
      { partition: 'versions_0', versions: 0 }, { partition: 'versions_1', versions: 28 }, { partition: 'versions_11', versions: 27 }
    ], 'every closed partition, oldest first')
    t.strictSame(await compactPartitions(owner), [], 'once: they are compacted already')

    const now = await layout(owner, 'versions_11')
    t.strictSame(now.physical, old.byKey, 'its rows sit in entity order')
    t.strictSame([now.indexes, now.triggers], [old.indexes, old.triggers], 'under the same index names, the append-only guard with them')
    t.equal(now.indexes.length, 3)
    const compacted = (await listPartitions(owner)).map((p) => [p.name, p.compactedAt !== null])
    t.strictSame(compacted.slice(0, 4), [['versions_0', true], ['versions_1', true], ['versions_11', true], ['versions_21', false]])
  })

  t.strictSame((await listPartitions(h.db)).map((p) => [p.name, p.fromId, p.toId, p.state]), partitionsBefore, 'the same partitions')
  t.strictSame(await everyAnswer(h), before, 'every answer as before')
  await t.rejects(sql`update versions set data = '{}'::jsonb where transaction_id = 12`.execute(h.db), /./, 'history is still append-only')
  await verifyOk(t, h, 'after compaction')

  // The service writes on, into the open partition and the ones after it.
  for (let n = 25; n < 30; n++) await tx(h, upd('article', 'a', { n }))
  const a = await h.get('/entities/article/a/versions?limit=1000')
  t.strictSame(a.body.items.slice(-6).map((v: any) => [v.transactionId, v.data.n]), [[24, 23], [26, 25], [27, 26], [28, 27], [29, 28], [30, 29]])
  t.strictSame((await h.get('/entities/article/a?at=25')).body.data, { id: 'a', n: 23 }, 'a state between a compacted partition and the open one')
  await verifyOk(t, h, 'after more writes')
}, { partitions: { size: 10, ahead: 3 } })

eachDatabase('readers go on while partitions are compacted, and read the same answers', async (t, h) => {
  await writeHistory(h)
  const paths = IDS.flatMap((id) => [
    `/entities/article/${id}/versions?limit=1000`, `/entities/article/${id}?at=15`, `/entities/article/${id}/versions/1`,
    `/entities/article/${id}/changeset?from=12&to=18`
  ])
  const expected = new Map<string, string>()
  for (const path of paths) {
    const r = await h.get(path)
    t.equal(r.status, 200, path)
    expected.set(path, JSON.stringify(r.body))
  }

  // Three readers in a loop while the closed partitions are compacted, then the one holding
  // transaction 15 again and again (each time a new table swapped in).
  let compacting = true
  const reads: Array<{ path: string, during: boolean, answer: string }> = []
  const reader = async (first: number): Promise<void> => {
    for (let i = first; compacting || i < paths.length; i++) {
      const path = paths[i % paths.length]!
      const r = await h.get(path)
      reads.push({ path, during: compacting, answer: r.status === 200 ? JSON.stringify(r.body) : `${r.status} ${JSON.stringify(r.body)}` })
    }
  }
  const readers = Promise.all([reader(0), reader(5), reader(10)])
  const done = await h.asOwner(async (owner) => {
    const all = await compactPartitions(owner)
    for (let i = 0; i < 20; i++) all.push(...await compactPartitions(owner, 'versions_11'))
    return all
  })
  compacting = false
  await readers
  t.strictSame(done.map((d) => d.partition), ['versions_0', 'versions_1', 'versions_11', ...Array<string>(20).fill('versions_11')])
  // PGlite has one connection: there, reads wait for each compaction's one statement to end.
  if (h.kind === 'postgres') t.ok(reads.filter((r) => r.during).length >= 20, `reads answered while it ran: ${reads.filter((r) => r.during).length} of ${reads.length}`)
  t.strictSame(reads.filter((r) => r.answer !== expected.get(r.path)), [], 'each read answered as before the compaction')
}, { partitions: { size: 10, ahead: 3 } })
