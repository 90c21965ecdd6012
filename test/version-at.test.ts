import { sql } from 'kysely'
import { getVersion, versionsAt } from '../src/store/versions.js'
import { entityRef } from '../src/versioning/keys.js'
import type { Version } from '../src/versioning/version.js'
import { eachDatabase } from './helpers/harness.js'
import { del, ins, tx, upd, type Change } from './helpers/changes.js'

// rewind_version_at (migration 0012) finds one entity's version at a transaction by reading
// the partition of that transaction first, and further only when the entity has no version
// there; several entities are looked up in one statement instead. Whatever the spread of a history over partitions (here of 3 ids each), it must answer what reading the whole history answers.

/** A fixed pseudo-random sequence (xorshift), so that a failure can be replayed. */
function random (seed: number): () => number {
  let x = seed
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 2 ** 32 }
}

eachDatabase('the version at each transaction, over many partitions, is what the whole history says', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const next = random(17)
  const keys = ['hot', 'sparse', 'gone', 'late', 'once']
  const live = new Set<string>()
  let last = 0
  for (let n = 0; n < 60; n++) {
    // 'hot' changes in most transactions, 'sparse' in a few, 'gone' is deleted and inserted again, 'late' starts late.
    const chosen = keys.filter((key) =>
      key === 'hot' ? next() < 0.8
        : key === 'sparse' ? n === 0 || n === 31 || n === 58
          : key === 'gone' ? n % 11 === 0
            : key === 'late' ? n >= 45 && next() < 0.5
              : n === 5)
    if (chosen.length === 0) chosen.push('hot')
    const changes: Change[] = chosen.map((key) =>
      !live.has(key) ? ins('article', { id: key, n })
        : key === 'gone' ? del('article', key)
          : upd('article', key, { n }))
    for (const key of chosen) { if (live.has(key)) { if (key === 'gone') live.delete(key) } else live.add(key) }
    last = await tx(h, ...changes)
  }
  const { rows: partitions } = await sql<{ n: string }>`select count(distinct tableoid) as n from versions`.execute(h.db)
  t.ok(Number(partitions[0]!.n) >= 15, `the history lies in ${partitions[0]!.n} partitions`)
  // The answer from the whole history, read plainly: the newest version at or before `at`, and the one after it.
  const { rows: expected } = await sql<{ key: string, at: string, transaction_id: string | null, end_transaction_id: string | null, seq: number | null }>`
    select k.key, a.at, v.transaction_id, v.seq,
      (select min(n.transaction_id) from versions n where n.tenant = 'default' and n.type = 'article' and n.entity_key = k.key and n.transaction_id > v.transaction_id) as end_transaction_id
    from unnest(${keys}::text[]) k(key) cross join generate_series(0, ${last + 2}) a(at)
    left join lateral (select x.transaction_id, x.seq from versions x where x.tenant = 'default' and x.type = 'article' and x.entity_key = k.key and x.transaction_id <= a.at
      order by x.transaction_id desc limit 1) v on true
    order by k.key, a.at`.execute(h.db)
  // One entity at a time (rewind_version_at), and all of them in one statement: both must agree with it.
  const wrong: unknown[] = []
  const together = new Map<number, Map<string, Version>>()
  for (const e of expected) {
    const at = Number(e.at)
    if (!together.has(at)) together.set(at, await versionsAt(h.db, 'default', keys.map((key) => ({ type: 'article', key })), at))
    const alone = (await versionsAt(h.db, 'default', [{ type: 'article', key: e.key }], at)).get(entityRef('article', e.key))
    const want = e.transaction_id === null ? [null, null, null] : [Number(e.transaction_id), e.end_transaction_id === null ? null : Number(e.end_transaction_id), e.seq]
    for (const [how, found] of [['alone', alone], ['together', together.get(at)!.get(entityRef('article', e.key))]] as const) {
      const got = found === undefined ? [null, null, null] : [found.transactionId, found.endTransactionId, found.index]
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push({ how, key: e.key, at, got, want })
    }
  }
  t.strictSame(wrong, [], `all ${expected.length} lookups agree, alone and together`)
  // Now (no transaction): each entity's newest version, with no version after it.
  const { rows: newest } = await sql<{ key: string, id: string }>`select entity_key as key, max(transaction_id) as id from versions group by 1 order by 1`.execute(h.db)
  const now = [...(await versionsAt(h.db, 'default', keys.map((key) => ({ type: 'article', key })))).values()]
  t.strictSame(now.map((v) => [v.id, v.transactionId, v.endTransactionId]).sort(), newest.map((r) => [r.key, Number(r.id), null]), 'now, together')
  for (const { key, id } of newest) {
    const alone = [...(await versionsAt(h.db, 'default', [{ type: 'article', key }])).values()]
    t.strictSame(alone.map((v) => [v.transactionId, v.endTransactionId]), [[Number(id), null]], `now, ${key} alone`)
  }
  // Each version read by its transaction, with the versions before and after it, across the partitions.
  const { rows: neighbours } = await sql<{ key: string, id: string, seq: number, previous: string | null, next: string | null }>`
    select entity_key as key, transaction_id as id, seq,
      lag(transaction_id) over (partition by entity_key order by transaction_id) as previous,
      lead(transaction_id) over (partition by entity_key order by transaction_id) as next
    from versions order by entity_key, transaction_id`.execute(h.db)
  const id = (value: string | null): number | null => value === null ? null : Number(value)
  const details: unknown[] = []
  for (const r of neighbours) {
    const found = await getVersion(h.db, 'default', { type: 'article', key: r.key }, Number(r.id))
    details.push([r.key, found?.transactionId, found?.index, found?.previous, found?.endTransactionId])
  }
  t.strictSame(details, neighbours.map((r) => [r.key, Number(r.id), r.seq, id(r.previous), id(r.next)]), `all ${neighbours.length} versions, with their neighbours`)
  const misses = await Promise.all([0, 2, 33, last + 1].map(async (at) => await getVersion(h.db, 'default', { type: 'article', key: 'sparse' }, at)))
  t.strictSame(misses, [undefined, undefined, undefined, undefined], 'no version at a transaction that has none of the entity')
}, { partitions: { size: 3, ahead: 25 } })
