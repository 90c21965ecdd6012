import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { FileMigrationProvider, Migrator } from 'kysely/migration'
import { buildApp } from '../src/http/app.js'
import { createApiKey } from '../src/services/api-keys.js'
import { makeCheckpoint } from '../src/services/checkpoints.js'
import { archiveDigest, archiveLines, dropExpiredPartitions, finishArchive, restoreArchive } from '../src/services/partitions.js'
import { ephemeralSigner } from '../src/services/signing-key.js'
import { DefinitionCache } from '../src/services/definitions.js'
import { appendTransaction } from '../src/store/append.js'
import { createPGlite, inTransaction, openDatabase, type Db } from '../src/store/database.js'
import { listRecords } from '../src/store/integrity-records.js'
import { migrateToLatest } from '../src/store/migrate.js'
import { listPartitions, partitionEntities, type PartitionEntity } from '../src/store/partitions.js'
import { latestVersions } from '../src/store/versions.js'
import { sealVersion } from '../src/integrity/seal.js'
import { hashedTransaction } from '../src/integrity/version-hash.js'
import { GENESIS_HASH } from '../src/integrity/canonical.js'
import { entityRef } from '../src/versioning/keys.js'
import { planVersions, resolveChanges } from '../src/versioning/unit-of-work.js'
import { databaseKinds, eachDatabase, TEST_DATABASE_URL, type Harness } from './helpers/harness.js'
import { ins, tx, upd } from './helpers/changes.js'
import { assertProblem, indexesOf, verifyOk } from './helpers/assertions.js'
import pg from 'pg'

// docs/partitions.md: versions is partitioned by transaction-id range, partitions are made
// ahead, retention drops a partition whole where it can, and an old partition can be archived
// to a file and restored.

const signer = ephemeralSigner()

/** Partitions as the store lists them: name, first id, end. */
async function ranges (h: Harness): Promise<Array<[string, number, number, string]>> {
  return (await listPartitions(h.db)).map((p) => [p.name, p.fromId, p.toId, p.state])
}

/** How many versions each partition holds (only those holding any), by name. */
async function spread (h: Harness): Promise<Record<string, number>> {
  const { rows } = await sql<{ name: string, n: string }>`select tableoid::regclass::text as name, count(*) as n from versions group by 1 order by 1`.execute(h.db)
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]))
}

const checkpointOf = (h: Harness) => async (tenant: string): Promise<unknown> => await makeCheckpoint(h.db, tenant, signer, true)

eachDatabase('versions are spread over partitions made ahead; reads and verify see one history', async (t, h) => {
  t.strictSame((await ranges(h)).slice(0, 4), [['versions_0', 0, 1, 'attached'], ['versions_1', 1, 4, 'attached'], ['versions_4', 4, 7, 'attached'], ['versions_7', 7, 10, 'attached']],
    'the migration\'s first partition holds no id; the app made the next ones, 3 ids each')
  t.equal((await ranges(h)).length, 21, '20 partitions ahead of the next id (60 ids)')
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  const ids = [await tx(h, ins('article', { id: 'a', n: 0 }))]
  for (let n = 1; n < 8; n++) ids.push(await tx(h, upd('article', 'a', { n })))
  t.strictSame(ids, [1, 2, 3, 4, 5, 6, 7, 8])
  t.strictSame(await spread(h), { versions_1: 3, versions_4: 3, versions_7: 2 }, 'each version is in its transaction\'s partition')
  t.strictSame(await indexesOf(h, 'article', 'a'), [0, 1, 2, 3, 4, 5, 6, 7])
  const v4 = await h.get('/entities/article/a/versions/4')
  t.equal(v4.body.previous, 3, 'previous crosses the partition boundary')
  t.equal(v4.body.next, 5)
  t.strictSame((await h.get('/entities/article/a?at=6')).body.data, { id: 'a', n: 5 })
  t.strictSame((await h.get('/entities/article/a/changeset?from=2&to=7')).body, { n: [1, 6] })
  await verifyOk(t, h, 'every chain verifies across partitions')
}, { partitions: { size: 3, ahead: 20 }, signer })

eachDatabase('an append planned on a superseded version is refused when the newer one is in another partition', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 1, n: 0 }))
  const definitions = await new DefinitionCache('default').get(h.db)
  const changes = resolveChanges(definitions, [{ type: 'article', op: 'update', id: '1', data: { n: 1 } }])
  const read = await latestVersions(h.db, 'default', [{ type: 'article', key: '1' }])
  const planned = planVersions(definitions, changes, read)
  await tx(h, upd('article', '1', { n: 2 })) // another writer: transaction 2, in partition versions_2
  const before = await spread(h)
  t.strictSame(before, { versions_1: 1, versions_2: 1 }, 'one transaction per partition')
  const now = new Date().toISOString()
  await t.rejects(appendTransaction(h.db, 'default', { actor: 'stale', issuedAt: now, recordedAt: now }, planned,
    planned.map((v) => sealVersion({ tenant: 'default', type: v.type, id: v.key, index: v.index, operation: v.operation }, hashedTransaction({ issuedAt: now, recordedAt: now }), v.data, v.changeset, GENESIS_HASH)),
    [], new Map(), { refs: [entityRef('article', '1')], heads: [{ type: 'article', key: '1', after: read.get(entityRef('article', '1'))!.transactionId }] }),
  { name: 'ConcurrentAppend' }, 'the version planned as index 1 would have landed in a third partition: refused')
  t.strictSame(await spread(h), before, 'nothing was written')
  t.equal(await h.count('transactions'), 2, 'not even the transaction')

  // Ten writers at once on one entity, and five inserting one new entity: one transaction per partition.
  const updates = await Promise.all(Array.from({ length: 10 }, async (_, i) => await h.post('/transactions', { changes: [upd('article', '1', { by: i })] })))
  t.strictSame(updates.map((r) => r.status), Array(10).fill(201))
  t.strictSame(await indexesOf(h, 'article', '1'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'one chain, no index twice')
  const inserts = await Promise.all(Array.from({ length: 5 }, async (_, i) => await h.post('/transactions', { changes: [ins('article', { id: 'new', by: i })] })))
  t.strictSame(inserts.map((r) => r.status).sort(), [201, 409, 409, 409, 409], 'one insert wins, the others find the entity')
  t.strictSame(await indexesOf(h, 'article', 'new'), [0])
  await verifyOk(t, h, 'the chains verify')
}, { partitions: { size: 1, ahead: 40 }, signer })

eachDatabase('retention drops the oldest partitions whole while every version in them is one it lets go', async (t, h) => {
  t.equal((await h.put('/entity-types/session', { retention: { keepVersions: 1 } })).status, 201)
  t.equal((await h.put('/entity-types/log', {})).status, 201)
  const [t1, t2, t3] = [await tx(h, ins('session', { id: 's1', n: 0 })), await tx(h, upd('session', 's1', { n: 1 })), await tx(h, upd('session', 's1', { n: 2 }))]
  t.strictSame([t1, t2, t3], [1, 2, 3])
  await tx(h, upd('session', 's1', { n: 3 })) // 4: versions_4
  await tx(h, ins('log', { id: 'l1' })) // 5: versions_4, a type without retention
  await tx(h, upd('session', 's1', { n: 4 })) // 6: versions_4
  await tx(h, upd('session', 's1', { n: 5 })) // 7: versions_7
  t.strictSame(await spread(h), { versions_1: 3, versions_4: 3, versions_7: 1 })

  const hold = await h.post('/legal-holds', { type: 'session', id: 's1', reason: 'audit' })
  t.equal(hold.status, 201)
  const held = await dropExpiredPartitions(h.db, new Date(), checkpointOf(h))
  t.strictSame(held.partitions, ['versions_0'], 'under a hold: only the empty first partition goes')
  t.equal(held.versions, 0)
  t.strictSame(await spread(h), { versions_1: 3, versions_4: 3, versions_7: 1 }, 'no version went')
  t.equal((await h.request('DELETE', `/legal-holds/${hold.body.id as string}`)).status, 204)

  const dropped = await dropExpiredPartitions(h.db, new Date(), checkpointOf(h))
  t.strictSame(dropped.partitions, ['versions_1'], 'versions_4 stays: it holds a log entry, which no rule lets go')
  t.equal(dropped.versions, 3)
  t.strictSame(Object.fromEntries(dropped.tenants), { default: { versions: 3, entities: 1 } })
  t.strictSame((await ranges(h)).slice(0, 2), [['versions_4', 4, 7, 'attached'], ['versions_7', 7, 10, 'attached']])
  t.strictSame(await spread(h), { versions_4: 3, versions_7: 1 })

  t.strictSame(await indexesOf(h, 'session', 's1'), [3, 4, 5], 'index never changes')
  const oldest = await h.get('/entities/session/s1/versions/4')
  t.equal(oldest.body.previous, null)
  t.equal(oldest.body.pruned, true)
  const gone = await h.get(`/entities/session/s1/versions/${t2}`)
  assertProblem(t, gone, 410, 'a version of the dropped partition')
  const records = await listRecords(h.db, 'default', { kind: 'pruning', limit: 10 })
  t.strictSame(records.map((r) => r.body), [{ type: 'session', id: 's1', keptFromIndex: 3, versions: 3, anchorHash: records[0]?.body.anchorHash, anchorTransactionId: 3, partition: 'versions_1' }],
    'the pruning is recorded, entity by entity')
  t.match(records[0]?.body.anchorHash, /^[0-9a-f]{64}$/)
  await verifyOk(t, h, 'verify passes after a partition was dropped')

  // Entity by entity, as before, for what the partitions keep.
  const run = await h.post('/retention/run')
  t.strictSame(run.body, { versions: 2, entities: [{ type: 'session', id: 's1', versions: 2, keptFromIndex: 5 }], truncated: false })
  t.strictSame(await indexesOf(h, 'session', 's1'), [5])
  t.equal(await tx(h, upd('session', 's1', { n: 6 })), 8, 'writes go on')
  await verifyOk(t, h, 'and verify still passes')
}, { partitions: { size: 3, ahead: 20 }, signer })

eachDatabase('the entities of a partition come page after page, each with its last version there and how many it has there', async (t, h) => {
  for (const type of ['alpha', 'beta']) t.equal((await h.put(`/entity-types/${type}`, {})).status, 201)
  t.equal(await tx(h, ins('alpha', { id: 'x', n: 0 }), ins('alpha', { id: 'y', n: 0 }), ins('beta', { id: 'x', n: 0 })), 1)
  t.equal(await tx(h, upd('alpha', 'x', { n: 1 }), upd('beta', 'x', { n: 1 })), 2)
  t.equal(await tx(h, upd('alpha', 'x', { n: 2 }), ins('beta', { id: 'z', n: 0 })), 3)
  const partition = (await listPartitions(h.db)).find((p) => p.name === 'versions_1')!
  const whole = await inTransaction(h.db, async (trx) => await partitionEntities(trx, partition, undefined, 1000))
  t.strictSame(whole.map((e) => [e.tenant, e.type, e.key, e.seq, e.transactionId, e.versions]), [
    ['default', 'alpha', 'x', 2, 3, 3], ['default', 'alpha', 'y', 0, 1, 1], ['default', 'beta', 'x', 1, 2, 2], ['default', 'beta', 'z', 0, 3, 1]
  ], 'by tenant, type and key: the last version there and the count')
  t.equal(whole[0]!.hash, (await h.get('/entities/alpha/x/versions/3')).body.hash, 'with its hash')
  const paged: PartitionEntity[] = []
  for (let after: PartitionEntity | undefined; ;) {
    const page = await inTransaction(h.db, async (trx) => await partitionEntities(trx, partition, after, 3))
    paged.push(...page)
    if (page.length < 3) break
    after = page[page.length - 1]
  }
  t.strictSame(paged, whole, 'pages of 3 give the same entities')
}, { partitions: { size: 100, ahead: 2 } })

eachDatabase('the oldest partitions are archived to files, leave the database, and are read again once restored', async (t, h) => {
  t.equal((await h.put('/entity-types/article', {})).status, 201)
  await tx(h, ins('article', { id: 'a', n: 0 }))
  for (let n = 1; n < 7; n++) await tx(h, upd('article', 'a', { n }))
  await tx(h, ins('article', { id: 'b', n: 0 }))
  const before = await h.get('/entities/article/a/versions?limit=100')
  const archives = new Map<string, string[]>()

  await h.asOwner(async (owner) => {
    const archive = async (name: string): Promise<string[]> => {
      const lines: string[] = []
      for await (const line of archiveLines(owner, name)) lines.push(line)
      const digest = archiveDigest()
      for (const line of lines) digest.add(line)
      await finishArchive(owner, name, digest.hex())
      archives.set(name, lines)
      return lines
    }
    await t.rejects(archive('versions_4'), /not the oldest attached one/, 'archived history is always the oldest')
    t.strictSame(await archive('versions_0'), [JSON.stringify({ format: 'rewind-partition-archive/1', partition: 'versions_0', fromId: 0, toId: 1, rows: 0 })], 'an empty partition: its header alone')
    const lines = await archive('versions_1')
    t.equal(lines.length, 4, 'a header and three versions')
    t.strictSame(JSON.parse(lines[0]!), { format: 'rewind-partition-archive/1', partition: 'versions_1', fromId: 1, toId: 4, rows: 3 })
    t.strictSame(lines.slice(1).map((l) => [JSON.parse(l).transaction_id, JSON.parse(l).data.n]), [[1, 0], [2, 1], [3, 2]])
    const sha256 = createHash('sha256').update(lines.map((l) => `${l}\n`).join('')).digest('hex')
    const archived = (await listPartitions(owner)).find((p) => p.name === 'versions_1')
    t.strictSame([archived?.state, archived?.archivedRows, archived?.archiveSha256], ['archived', 3, sha256], 'the archive\'s digest is kept')
    t.equal((await sql<{ found: boolean }>`select to_regclass('versions_1') is not null as found`.execute(owner)).rows[0]?.found, false, 'its table is gone')
    await t.rejects(async () => { for await (const _ of archiveLines(owner, 'versions_1')) break }, /archived already/)
  })

  // Archived: what needs it is 410, what comes after it reads as before; verify says what it could not check.
  t.strictSame(await indexesOf(h, 'article', 'a'), [3, 4, 5, 6], 'the versions after the archive')
  assertProblem(t, await h.get('/entities/article/a/versions/2'), 410, 'a version in the archive')
  const first = await h.get('/entities/article/a/versions/4')
  t.strictSame([first.body.index, first.body.previous, first.body.pruned], [3, null, undefined], 'the first version after the archive: no previous here, and not pruned')
  assertProblem(t, await h.get('/entities/article/a?at=3'), 410, 'a state in the archive')
  t.strictSame((await h.get('/entities/article/a?at=5')).body.data, { id: 'a', n: 4 }, 'a state after it')
  t.strictSame((await h.get('/entities/article/b')).body.data, { id: 'b', n: 0 })
  const verified = await h.post('/integrity/verify', {})
  t.equal(verified.body.ok, false, 'archived history is not verified')
  t.strictSame(verified.body.problems, [{ type: null, id: null, transactionId: null, problem: 'history before transaction 4 is archived: its versions are not checked, nor the first version after it of each entity it cuts; restore it (rewind partitions restore) to verify everything' }],
    'one problem says so; the chains after it verify')

  await h.asOwner(async (owner) => {
    await t.rejects(restoreArchive(owner, toAsync(archives.get('versions_0')!)), /not the newest archived one/, 'restored newest first')
    const forged = [...archives.get('versions_1')!]
    forged[2] = forged[2]!.replace(/"data":\{"n": \d+/, '"data":{"n": 99')
    t.not(forged[2], archives.get('versions_1')![2], 'one value changed in the file')
    await t.rejects(restoreArchive(owner, toAsync(forged)), /is not the one written/, 'a changed archive is refused')
    t.equal((await listPartitions(owner)).find((p) => p.name === 'versions_1')?.state, 'archived', 'and nothing was restored')
    t.strictSame(await restoreArchive(owner, toAsync(archives.get('versions_1')!)), { partition: 'versions_1', rows: 3 })
    t.strictSame(await restoreArchive(owner, toAsync(archives.get('versions_0')!)), { partition: 'versions_0', rows: 0 })
  })
  await new Promise((resolve) => setTimeout(resolve, 1100)) // the app trusts what it read of the archive for a second
  t.strictSame((await ranges(h)).slice(0, 3), [['versions_0', 0, 1, 'attached'], ['versions_1', 1, 4, 'attached'], ['versions_4', 4, 7, 'attached']])
  t.strictSame((await h.get('/entities/article/a/versions?limit=100')).body, before.body, 'every version reads as before')
  await verifyOk(t, h, 'the restored history verifies')
}, { partitions: { size: 3, ahead: 20 }, signer })

async function * toAsync (lines: readonly string[]): AsyncGenerator<string> {
  for (const line of lines) yield line
}

// An existing database: its versions table becomes the first partition as it is (the same file on disk).
t.test('migrating a database with history attaches its versions table as the first partition, copying nothing', async (t) => {
  for (const kind of await databaseKinds()) {
    await t.test(kind, async (t) => {
      const { db, close } = await scratchDatabase(t, kind)
      const migrator = new Migrator({
        db,
        provider: new FileMigrationProvider({ fs, path, migrationFolder: fileURLToPath(new URL('../migrations', import.meta.url)) }),
        migrationTableSchema: (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]!.s
      })
      const to9 = await migrator.migrateTo('0009_viewer_tokens')
      t.equal(to9.error, undefined)
      await sql`insert into entity_types (tenant, type, revision, definition) values ('default', 'article', 1, '{"idFields": ["id"], "exclude": [], "relations": {}}'::jsonb)`.execute(db)
      await sql`insert into transactions (tenant, issued_at) select 'default', now() from generate_series(1, 3)`.execute(db)
      await sql`insert into versions (tenant, type, entity_key, transaction_id, seq, position, operation, data, changeset, salts, hash)
        select 'default', 'article', '1', g, g - 1, 0, case when g = 1 then 'insert' else 'update' end, jsonb_build_object('id', 1, 'n', g), '{}'::jsonb, '{}'::jsonb, md5(g::text)
        from generate_series(1, 3) g`.execute(db)
      const file = async (name: string): Promise<string> => (await sql<{ f: string }>`select pg_relation_filenode(${name}::regclass)::text as f`.execute(db)).rows[0]!.f
      const before = await file('versions')
      t.strictSame(await migrateToLatest(db), ['0010_partitioned_versions', '0011_entity_heads', '0012_version_at', '0013_compact_partition'])
      t.strictSame(await migrateToLatest(db), [], 'at the latest migration, nothing is applied again')
      t.equal(await file('versions_0'), before, 'the old table is the first partition, not a copy')
      t.strictSame((await listPartitions(db)).map((p) => [p.name, p.fromId, p.toId]), [['versions_0', 0, 4]], 'it holds every id drawn so far')
      const key = (await createApiKey(db, { tenant: 'default', name: 'admin', scopes: ['admin'] })).key
      const app = await buildApp({ db, closeDatabase: false, partitions: { size: 100, ahead: 1 }, logger: { level: 'error' } })
      try {
        t.strictSame((await listPartitions(db)).map((p) => [p.name, p.fromId, p.toId]), [['versions_0', 0, 4], ['versions_4', 4, 104]], 'the next ids get a partition')
        const res = await app.inject({ url: '/entities/article/1/versions', headers: { authorization: `Bearer ${key}` } })
        t.equal(res.statusCode, 200, res.body)
        t.strictSame(res.json().items.map((v: any) => [v.index, v.transactionId, v.data.n]), [[0, 1, 1], [1, 2, 2], [2, 3, 3]])
        const write = await app.inject({ method: 'POST', url: '/transactions', headers: { authorization: `Bearer ${key}` }, payload: { changes: [{ type: 'article', op: 'update', id: '1', data: { n: 4 } }] } })
        t.equal(write.statusCode, 201, write.body)
        t.equal(write.json().versions[0].index, 3, 'the next version follows the migrated ones')
        t.equal(write.json().transaction.id, 4)
        // A database a newer build migrated: the migrator's own check, not the quick one, answers.
        await sql`insert into kysely_migration (name, timestamp) values ('9999_from_a_newer_build', ${new Date().toISOString()})`.execute(db)
        await t.rejects(migrateToLatest(db), { message: 'corrupted migrations: previously executed migration 9999_from_a_newer_build is missing' })
      } finally {
        await app.close()
        await close()
      }
    })
  }
})

/** A database of its own, unmigrated: an in-memory PGlite, or a fresh schema of the test PostgreSQL. */
async function scratchDatabase (t: Test, kind: 'pglite' | 'postgres'): Promise<{ db: Db, close: () => Promise<void> }> {
  if (kind === 'pglite') {
    const pglite = await createPGlite('memory://')
    const db = await openDatabase({ pglite })
    return { db, close: async () => { await db.destroy() } }
  }
  const schema = `partitions_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  await admin.query(`create schema "${schema}"`)
  const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, searchPath: schema, poolSize: 4 })
  return {
    db,
    close: async () => {
      await db.destroy()
      await admin.query(`drop schema "${schema}" cascade`)
      await admin.end()
    }
  }
}
