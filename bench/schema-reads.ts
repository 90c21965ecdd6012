import { CONNECTIONS, type Profile } from './config.js'
import { timePasses, type Query, type QueryFigures } from './reads.js'
import { HttpClient, type JsonReply } from './service.js'
import { xorshift } from './stats.js'

/** Reads of one history before and after the migrations of its type (POST /entity-types/{type}/migrations). */
export interface SchemaFigures {
  type: string
  entities: number
  versionsPerEntity: number
  changesPerTransaction: number
  clients: number
  /** Writing the history through POST /transactions. */
  writeSeconds: number
  migrations: number
  /** All the migrations, one request each. */
  migrateSeconds: number
  /** The read queries after 0 migrations, then after all of them, on the same history. */
  before: QueryFigures[]
  after: QueryFigures[]
  /** p50 after the migrations over p50 before them, per query. */
  p50AfterOverBefore: Record<string, number>
}

export const SCHEMA_QUERIES = [
  'versions: first page (50 versions)',
  'version detail',
  'state ?at=t',
  'changeset between two transactions'
] as const

const TYPE = 'doc'
const ENTITIES = 200
const VERSIONS = 50
const CHANGES = 10
/** Fields f0..f{FIELDS - 1}, renamed through the migrations. */
const FIELDS = 10
const LONG_MS = 600_000

async function ok (reply: Promise<JsonReply>, status: number, what: string): Promise<any> {
  const r = await reply
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`)
  return r.body
}

/** Version `seq` of entity `id`: the insert (every field), then updates of 4 fields. */
function change (id: number, seq: number): object {
  if (seq === 0) {
    const data: Record<string, string | number> = { id, title: `Doc ${id}`, body: `The body of doc ${id}.`, views: 0 }
    for (let k = 0; k < FIELDS; k++) data[`f${k}`] = `doc ${id} f${k}`
    return { type: TYPE, op: 'insert', data }
  }
  return { type: TYPE, op: 'update', id: String(id), data: { title: `Doc ${id} rev ${seq}`, views: seq, [`f${seq % FIELDS}`]: `rev ${seq}`, [`f${(seq + 3) % FIELDS}`]: `rev ${seq}` } }
}

/**
 * The migrations, one operation each: the fields f0..f9 renamed f → g → h → f → g (40
 * renames), with adds of a0..a5 (with defaults) and drops of a0..a3 between them, so that
 * every stored version reads through the whole chain and ends up with g0..g9, a4 and a5.
 */
function migrations (): object[] {
  const names = ['f', 'g', 'h', 'f', 'g']
  const renames = names.slice(1).flatMap((to, r) => Array.from({ length: FIELDS }, (_, k) => ({ op: 'renameField', from: `${names[r]!}${k}`, to: `${to}${k}` })))
  const add = (j: number): object => ({ op: 'addField', field: `a${j}`, default: j })
  const drop = (j: number): object => ({ op: 'dropField', field: `a${j}` })
  const others = [add(0), add(1), drop(0), add(2), drop(1), add(3), drop(2), add(4), drop(3), add(5)]
  return renames.flatMap((op, i) => (i % 4 === 3 ? [op, others[(i - 3) / 4]!] : [op]))
}

/** Checks once that the oldest version of entity 1 reads in the migrated schema (so that the timings time real work). */
async function checkMigrated (client: HttpClient, t: number): Promise<void> {
  const version = await ok(client.request('GET', `/entities/${TYPE}/1/versions/${t}`), 200, 'the oldest version after the migrations')
  const data = version.data as Record<string, unknown>
  const expected: Record<string, unknown> = { g0: 'doc 1 f0', g9: 'doc 1 f9', a4: 4, a5: 5 }
  const wrong = Object.entries(expected).some(([k, v]) => data[k] !== v) || ['f0', 'h0', 'a0', 'a3'].some((k) => k in data) || !('g0' in version.changeset)
  if (wrong) throw new Error(`the oldest version does not read in the migrated schema: ${JSON.stringify(version).slice(0, 1000)}`)
}

/**
 * Writes ENTITIES entities of VERSIONS versions each through POST /transactions (CHANGES
 * changes per transaction, CONNECTIONS clients), times the read queries on random entities
 * and versions, applies the migrations (one request each), checks that the oldest versions
 * read renamed, and times the same queries again: read latency must not grow with the
 * number of migrations.
 */
export async function measureSchemaReads (client: HttpClient, profile: Profile, log: (message: string) => void): Promise<SchemaFigures> {
  await ok(client.request('PUT', `/entity-types/${TYPE}`, {}), 201, `registering ${TYPE}`)
  log(`  writing ${ENTITIES} entities × ${VERSIONS} versions through POST /transactions (${CHANGES} changes/tx, ${CONNECTIONS} clients)`)
  // tx[id - 1][seq]: the transaction of version seq of entity id. Client c writes the groups of CHANGES entities g ≡ c (mod CONNECTIONS).
  const tx = Array.from({ length: ENTITIES }, (): number[] => [])
  const writers = Array.from({ length: CONNECTIONS }, () => new HttpClient(client.port))
  let t0 = process.hrtime.bigint()
  try {
    await Promise.all(writers.map(async (writer, c) => {
      for (let seq = 0; seq < VERSIONS; seq++) {
        for (let first = 1 + c * CHANGES; first <= ENTITIES; first += CONNECTIONS * CHANGES) {
          const ids = Array.from({ length: CHANGES }, (_, i) => first + i)
          const body = await ok(writer.request('POST', '/transactions', { actor: 'bench-schema', changes: ids.map((id) => change(id, seq)) }, LONG_MS), 201, 'writing the history')
          for (const id of ids) tx[id - 1]!.push(body.transaction.id as number)
        }
      }
    }))
  } finally {
    for (const writer of writers) writer.close()
  }
  const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9

  const random = xorshift(13)
  const pick = (n: number): number => Math.floor(random() * n)
  const entity = (): [string, number[]] => { const i = pick(ENTITIES); return [`/entities/${TYPE}/${i + 1}`, tx[i]!] }
  const [firstPage, detail, state, changeset] = SCHEMA_QUERIES
  const queries: Query[] = [
    [firstPage, () => `${entity()[0]}/versions?limit=${VERSIONS}`],
    [detail, () => { const [path, t] = entity(); return `${path}/versions/${t[pick(VERSIONS)]!}` }],
    [state, () => { const [path, t] = entity(); return `${path}?at=${t[pick(VERSIONS)]!}` }],
    [changeset, () => {
      const [path, t] = entity()
      const from = pick(VERSIONS - 1)
      return `${path}/changeset?from=${t[from]!}&to=${t[from + 1 + pick(VERSIONS - 1 - from)]!}`
    }]
  ]
  log('  reads after 0 migrations (one untimed pass first: the read routes run for the first time here)')
  await timePasses(client, queries, { ...profile, readPasses: 1 })
  const before = await timePasses(client, queries, profile)

  const operations = migrations()
  log(`  ${operations.length} migrations, one request each`)
  t0 = process.hrtime.bigint()
  for (const op of operations) await ok(client.request('POST', `/entity-types/${TYPE}/migrations`, { operations: [op] }, LONG_MS), 200, `migrating ${JSON.stringify(op)}`)
  const migrateSeconds = Number(process.hrtime.bigint() - t0) / 1e9
  await checkMigrated(client, tx[0]![0]!)
  log(`  reads after ${operations.length} migrations`)
  const after = await timePasses(client, queries, profile)

  const p50AfterOverBefore: Record<string, number> = {}
  for (const [i, f] of after.entries()) p50AfterOverBefore[f.name] = f.p50Ms / before[i]!.p50Ms
  return { type: TYPE, entities: ENTITIES, versionsPerEntity: VERSIONS, changesPerTransaction: CHANGES, clients: CONNECTIONS, writeSeconds, migrations: operations.length, migrateSeconds, before, after, p50AfterOverBefore }
}
