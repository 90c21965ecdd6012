import t from 'tap'
import { sql } from 'kysely'
import { databaseKinds, openHarness, type Harness } from './helpers/harness.js'

// Every hot read must reach the versions table through an index, never a sequential
// scan: seed enough history for the planner to care, replay the real requests, and
// EXPLAIN each statement they ran with its own parameters.

const ENTITIES = 2000
const VERSIONS_PER_ENTITY = 10
const HOT_VERSIONS = 3000
const SHORT_HISTORIES = 40_000

async function seed (h: Harness): Promise<void> {
  const types = [
    ['article', { relations: { comments: { kind: 'oneToMany', target: 'comment', foreignKey: 'article_id' }, tags: { kind: 'manyToMany', target: 'tag', through: 'article_tag', localKey: 'article_id', remoteKey: 'tag_id' }, author: { kind: 'manyToOne', target: 'user', foreignKey: 'author_id' } } }],
    ['comment', {}], ['tag', {}], ['user', {}]
  ] as const
  for (const [type, definition] of types) t.equal((await h.put(`/entity-types/${type}`, definition)).status, 201)
  // Bulk history straight in SQL: ENTITIES articles × VERSIONS_PER_ENTITY versions, one transaction per round.
  await sql`insert into transactions (issued_at, actor, meta)
    select now() - make_interval(secs => ${VERSIONS_PER_ENTITY} - g), 'seed', '{}'::jsonb from generate_series(1, ${VERSIONS_PER_ENTITY}) g`.execute(h.db)
  await sql`insert into versions (type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
    select 'article', e::text, tx.id, tx.id - 1, e, case when tx.id = 1 then 'insert' else 'update' end,
      jsonb_build_object('id', e, 'title', 'v' || tx.id, 'author_id', 1), jsonb_build_object('title', jsonb_build_array(null, 'v' || tx.id)), '{}'::jsonb, md5(e::text || tx.id) || md5(tx.id::text)
    from generate_series(1, ${ENTITIES}) e, transactions tx`.execute(h.db)
  await sql`insert into versions (type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
    select 'comment', e::text, 1, 0, ${ENTITIES} + e, 'insert', jsonb_build_object('id', e, 'article_id', 1 + e % ${ENTITIES}), '{}'::jsonb, '{}'::jsonb, md5(e::text) || md5(e::text)
    from generate_series(1, ${ENTITIES}) e`.execute(h.db)
  await sql`insert into version_refs (target_type, target_key, source_type, source_field, source_key, transaction_id)
    select 'article', (1 + e % ${ENTITIES})::text, 'comment', 'article_id', e::text, 1 from generate_series(1, ${ENTITIES}) e`.execute(h.db)
  // Many one-version entities, so that the average history is short (what the planner's estimates go by).
  await sql`insert into versions (type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
    select 'tag', e::text, 1, 0, ${2 * ENTITIES} + e, 'insert', jsonb_build_object('id', e), '{}'::jsonb, '{}'::jsonb, md5(e::text) || md5('tag')
    from generate_series(1, ${SHORT_HISTORIES}) e`.execute(h.db)
  // A reference index of the size such a history has (one row per reference a version set): the short histories' owners.
  await sql`insert into version_refs (target_type, target_key, source_type, source_field, source_key, transaction_id)
    select 'user', (e % 100)::text, 'tag', 'owner_id', e::text, 1 from generate_series(1, ${SHORT_HISTORIES}) e`.execute(h.db)
  // One long history (transactions 11 to 10 + HOT_VERSIONS): what must not be sorted to find its newest version.
  await sql`insert into transactions (issued_at, actor, meta)
    select now(), 'seed', '{}'::jsonb from generate_series(1, ${HOT_VERSIONS})`.execute(h.db)
  await sql`insert into versions (type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
    select 'article', 'hot', tx.id, tx.id - 11, 0, case when tx.id = 11 then 'insert' else 'update' end,
      jsonb_build_object('id', 'hot', 'title', 'v' || tx.id), jsonb_build_object('title', jsonb_build_array(null, 'v' || tx.id)), '{}'::jsonb, md5(tx.id::text) || md5(tx.id::text)
    from transactions tx where tx.id > ${VERSIONS_PER_ENTITY}`.execute(h.db)
  // Each entity's head, as every append keeps it (migration 0011).
  await sql`insert into entity_heads (tenant, type, entity_key, first_transaction_id, last_transaction_id)
    select tenant, type, entity_key, min(transaction_id), max(transaction_id) from versions group by tenant, type, entity_key`.execute(h.db)
  await h.asOwner(async (owner) => await sql`analyze`.execute(owner))
}

/** A plan line that reads version_refs, entity_heads, or a partition of versions with rows, sequentially. */
function scansHistory (line: string, filled: readonly string[]): boolean {
  const scanned = /Seq Scan on (\w+)/.exec(line)?.[1]
  return scanned !== undefined && (['version_refs', 'entity_heads', 'versions'].includes(scanned) || filled.includes(scanned))
}

/** The statement's plan, one line per node (its parameters inlined as literals). */
async function plan (h: Harness, statement: { sql: string, parameters: readonly unknown[] }): Promise<string[]> {
  const inlined = statement.sql.replace(/\$(\d+)/g, (_, n: string) => literal(statement.parameters[Number(n) - 1]))
  const { rows } = await sql<Record<string, string>>`explain ${sql.raw(inlined)}`.execute(h.db)
  return rows.map((r) => String(Object.values(r)[0]))
}

/** The plan PostgreSQL makes of the statement prepared once for any parameters (plan_cache_mode = force_generic_plan). */
async function genericPlan (h: Harness, statement: { sql: string, parameters: readonly unknown[] }): Promise<string[]> {
  return await h.db.connection().execute(async (c) => {
    await sql.raw(`prepare rewind_explain as ${statement.sql}`).execute(c)
    try {
      await sql`set plan_cache_mode = force_generic_plan`.execute(c)
      const { rows } = await sql.raw<Record<string, string>>(`explain execute rewind_explain(${statement.parameters.map(literal).join(', ')})`).execute(c)
      return rows.map((r) => String(Object.values(r)[0]))
    } finally {
      await sql`reset plan_cache_mode`.execute(c)
      await sql`deallocate rewind_explain`.execute(c)
    }
  })
}

/**
 * One entity's version at a transaction (rewind_version_at) reads a handful of index and heap
 * pages: the head, the partition's range, and a key index walked from that transaction. A
 * sequential scan, or the hot entity's 3,000 versions gathered and sorted, would read hundreds.
 */
const MAX_PAGES_PER_LOOKUP = 24

/** Each call of rewind_version_at in the statement as run (EXPLAIN ANALYZE): the pages it read per entity looked up. */
async function functionCalls (h: Harness, statement: { sql: string, parameters: readonly unknown[] }): Promise<Array<{ loops: number, pagesPerCall: number }>> {
  const inlined = statement.sql.replace(/\$(\d+)/g, (_, n: string) => literal(statement.parameters[Number(n) - 1]))
  // Twice on one connection: the first call in a session plans the function's statements, reading the catalogs.
  const lines = await h.db.connection().execute(async (c) => {
    const explain = sql<Record<string, string>>`explain (analyze, buffers, costs off, timing off, summary off) ${sql.raw(inlined)}`
    await explain.execute(c)
    return (await explain.execute(c)).rows.map((r) => String(Object.values(r)[0]))
  })
  const calls: Array<{ loops: number, pagesPerCall: number }> = []
  lines.forEach((line, i) => {
    if (/Function Scan on rewind_version_at .*never executed/.test(line)) { calls.push({ loops: 0, pagesPerCall: 0 }); return }
    const loops = /Function Scan on rewind_version_at .*loops=(\d+)\)/.exec(line)?.[1]
    if (loops === undefined) return
    const buffers = lines.slice(i + 1).find((l) => /^\s*(->|Buffers:)/.test(l))
    const pages = buffers === undefined || !/Buffers:/.test(buffers) ? 0 : [...buffers.matchAll(/(?:hit|read)=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
    calls.push({ loops: Number(loops), pagesPerCall: Number(loops) === 0 ? 0 : Math.ceil(pages / Number(loops)) })
  })
  return calls
}

function literal (value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'number') return String(value)
  if (Array.isArray(value)) return `array[${value.map(literal).join(',')}]`
  return `'${String(value).replace(/'/g, "''")}'`
}

t.test('hot reads never scan the versions table sequentially', async (t) => {
  for (const kind of await databaseKinds()) {
    await t.test(kind, async (t) => {
      const h = await openHarness(t, kind)
      await seed(h)
      // versions is partitioned: an empty partition (the planner reads it whole, it has no page) is no scan of history.
      const { rows } = await sql<{ name: string }>`select distinct tableoid::regclass::text as name from versions`.execute(h.db)
      const filled = rows.map((r) => r.name)
      t.strictSame(filled, ['versions_1'], 'the seeded history is in the first partition the app made')
      const hot = [
        '/entities/article/77/versions',
        '/entities/article/77/versions?order=desc&limit=3',
        '/entities/article/77/versions/5?relations=comments,tags,author',
        '/entities/article/77?at=4',
        '/entities/article/77?at=4&relations=comments,tags',
        '/entities/article/77/changeset?from=2&to=9',
        '/transactions/3',
        '/transactions?type=article&limit=5',
        '/entities/article/hot/versions',
        '/entities/article/hot/versions?order=desc&limit=3',
        '/entities/article/hot/versions/1500',
        '/entities/article/hot',
        '/entities/article/hot?at=2000',
        '/entities/article/hot/changeset?from=100&to=2000'
      ]
      for (const url of hot) {
        h.resetQueries()
        const res = await h.get(url)
        t.equal(res.status, 200, `${url} answers`)
        const explained = h.statements.filter((s) => /\bversions\b|\bversion_refs\b|\brewind_version_at\(/.test(s.sql))
        t.ok(explained.length > 0, `${url} reads versions`)
        for (const statement of explained) {
          const where = `${url}: ${statement.sql.slice(0, 50).replace(/\s+/g, ' ')}…`
          if (statement.sql.includes('rewind_version_at(')) {
            // Its statements are the function's own (migration 0012): what shows is the pages each call reads.
            const calls = await functionCalls(h, statement)
            t.ok(calls.length > 0, `${where} calls rewind_version_at`)
            for (const call of calls) t.ok(call.pagesPerCall <= MAX_PAGES_PER_LOOKUP, `${where} reads ${call.pagesPerCall} pages per entity (at most ${MAX_PAGES_PER_LOOKUP})`, { call })
            if (!/\bversions\b|\bversion_refs\b/.test(statement.sql)) continue
          }
          const lines = await plan(h, statement)
          t.ok(lines.some((l) => /(Index (Only )?Scan using|Bitmap Index Scan on) (versions|version_refs)_/.test(l)), `${where} uses an index of versions`, { lines })
          t.strictSame(lines.filter((l) => scansHistory(l, filled)), [], `${where} scans nothing sequentially`)
          // As the service runs it (a prepared statement planned once for any parameters, src/store/database.ts):
          // no history scanned whole, and an entity's versions in index order from each partition, never gathered and sorted.
          const generic = await genericPlan(h, statement)
          t.strictSame(generic.filter((l) => scansHistory(l, filled)), [], `${where} scans nothing sequentially, planned for any values`, { generic })
          t.strictSame(generic.filter((l) => /Sort Key: \w+\.(transaction_id|seq)\b/.test(l)), [], `${where} sorts no entity's versions`, { generic })
        }
      }
    })
  }
})
