import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { bootstrapAdminKey } from '../src/services/api-keys.js'
import { everyCaptureSource, holdCaptureLease, markCaptureSource, releaseCaptureLease, saveCaptureSource } from '../src/services/capture-sources.js'
import { recordCaptured } from '../src/services/captured.js'
import { startIntegrityJobs } from '../src/services/jobs.js'
import { listAllKeys, revokeKeyById } from '../src/services/operator.js'
import { ephemeralSigner } from '../src/services/signing-key.js'
import { Tenants } from '../src/services/tenants.js'
import { purgeIdempotencyKeys } from '../src/store/idempotency.js'
import { NOWHERE } from '../src/http/view-limit.js'
import { eachDatabase, type Harness } from './helpers/harness.js'
import { link, registerBlog, unlink } from './helpers/blog.js'
import { del, ins, upd } from './helpers/changes.js'
import { as } from './helpers/access.js'

// The design rule: every statement that reads or writes a tenant's data names the tenant, so
// that history can be distributed by tenant (Citus, docs/SCALE.md): a statement that does
// not is a cross-tenant scan, or a multi-shard one. This test drives a tour of the whole API
// (and of the background jobs) on each database, records every statement the service ran,
// and checks each one that touches a tenant-scoped table:
//
// - Each reference to a tenant-scoped table (`from versions v`, `join transactions t`, the
//   target of an insert, update or delete) must be constrained in its own scope by a
//   conjunctive predicate on its tenant column: equal to a parameter whose value is one of
//   the tour's tenants (`"tenant" = $1`, `v.tenant = $2`, `tenant = any($1)`), or to the
//   tenant column of another reference that is itself constrained (a join on tenant, an
//   outer reference of a correlated subquery, a derived table's `select *`). An insert must
//   write the tenant column from such a value. A predicate under OR, or in a select list,
//   constrains nothing; two references of one table are checked each on its own.
// - A call of one of our SQL functions (rewind_*) must pass a tour tenant as its tenant
//   argument; the functions' own statements (read from pg_proc) are checked by the same rules,
//   with their tenant argument as the bound value.
// - Every table of the schema is classified below (a new table fails the test until it is),
//   every tenant-scoped table name in a statement must be understood as a reference or a
//   qualifier (else the parser is out of date: it fails rather than guess), and every route of
//   the OpenAPI document must be toured (or listed with a reason).
//
// Statements that touch no tenant-scoped table (`select 1`, `set role`, `set_config`,
// advisory locks, job leases, Kysely's migration bookkeeping) are outside the rule. The
// statements that knowingly read across tenants are listed in EXCEPTIONS, each with its
// reason; statements that should name the tenant and do not yet are in KNOWN_GAPS and show as
// `todo` subtests, until src/ is fixed.

/** The tour's tenants, and the one no tenant can have, where a viewer token outside its limit reads (src/http/view-limit.ts). */
const TENANTS = ['default', 'acme', NOWHERE] as const

/** How each table of migrations/*.ts is scoped. */
const TABLES: Record<string, { scope: 'tenant' } | { scope: 'webhook', reason: string } | { scope: 'global', reason: string }> = {
  versions: { scope: 'tenant' },
  transactions: { scope: 'tenant' },
  entity_types: { scope: 'tenant' },
  entity_type_revisions: { scope: 'tenant' },
  version_refs: { scope: 'tenant' },
  entity_heads: { scope: 'tenant' },
  idempotency_keys: { scope: 'tenant' },
  integrity_records: { scope: 'tenant' },
  checkpoints: { scope: 'tenant' },
  checkpoint_heads: { scope: 'tenant' },
  entity_anchors: { scope: 'tenant' },
  legal_holds: { scope: 'tenant' },
  capture_sources: { scope: 'tenant' },
  webhooks: { scope: 'tenant' },
  // Found by secret hash before the tenant is known (EXCEPTIONS), every other use by tenant.
  api_keys: { scope: 'tenant' },
  viewer_tokens: { scope: 'tenant' },
  webhook_deliveries: {
    scope: 'webhook',
    reason: 'has no tenant column: each delivery belongs to one webhook (webhook_id, on delete cascade), which belongs to one tenant. ' +
      'A statement must name its webhook (webhook_id = a webhook id, or a join on webhook id to a tenant-constrained webhooks row); ' +
      'docs/SCALE.md proposes a tenant column so that deliveries can be co-located with their webhook on Citus'
  },
  version_partitions: { scope: 'global', reason: 'the ranges of transaction ids versions is partitioned by (migration 0010): one partition holds every tenant\'s versions of its range' },
  job_leases: { scope: 'global', reason: 'one lease per background job of the whole service (checkpoint, retention, webhooks, capture:<tenant>:<name>): a job runs on one instance for every tenant' },
  kysely_migration: { scope: 'global', reason: 'the migrations\' own bookkeeping: the schema is the same for every tenant' },
  kysely_migration_lock: { scope: 'global', reason: 'the migrations\' own bookkeeping' }
}

/** The SQL functions of migrations/*.ts that touch tenant-scoped tables: the argument that carries the tenant. */
const FUNCTIONS: Record<string, { tenantArgument: string }> = {
  rewind_check_revisions: { tenantArgument: 'p_tenant' },
  rewind_redact: { tenantArgument: 'p_tenant' },
  rewind_prune: { tenantArgument: 'p_tenant' },
  rewind_check_heads: { tenantArgument: 'p_tenant' },
  rewind_version_at: { tenantArgument: 'p_tenant' }
}

/**
 * The SQL functions that work on whole partitions of versions (migration 0010), each with why
 * it names no tenant: a partition holds a range of transaction ids of every tenant.
 */
const PARTITION_FUNCTIONS: Record<string, string> = {
  rewind_ensure_partitions: 'creates the partitions of ids to come',
  rewind_detach_partition: 'the operator archives a partition (rewind partitions archive)',
  rewind_attach_partition: 'the operator restores an archived partition',
  rewind_compact_partition: 'the operator rewrites a closed partition in key order (rewind partitions compact), every tenant\'s rows as they are',
  rewind_begin_partition_drop: 'retention checks a whole partition against every tenant\'s rules (each row joined to its own tenant\'s type, transaction and holds)',
  rewind_finish_partition_drop: 'retention writes the anchors of every entity of the partition, each in its own tenant, then drops it'
}

/** A table that is a partition of versions (versions_<first id>): read and written through versions alone, or by the functions above. */
const isVersionPartition = (name: string): boolean => /^versions_\d+$/.test(name)

interface Rule { name: string, where: string, reason: string, match: RegExp, /** Why the tour may not see it. */ optional?: string }

/** Statements that read or write across tenants on purpose. Each must still be seen by the tour (else it is stale). */
const EXCEPTIONS: Rule[] = [
  {
    name: 'API key lookup by secret hash',
    where: 'src/store/api-keys.ts findLiveKeyByHash',
    reason: 'authentication: the key is what tells the tenant (unique index on secret_hash; api_keys is a reference table on Citus)',
    optional: 'the harness leaves this statement out of h.statements: it only shows here if it changes shape',
    match: /^select .* from "api_keys" where "secret_hash" = \$1 and "revoked_at" is null$/
  },
  {
    name: 'viewer token lookup by secret hash',
    where: 'src/store/viewer-tokens.ts findLiveViewerToken',
    reason: 'authentication of a viewer token: the token is what tells the tenant (its issuing key is joined on id and tenant)',
    match: /^select .* from "viewer_tokens" as "v" inner join "api_keys" as "k" on "k"\."id" = "v"\."issued_by" where "v"\."secret_hash" = \$1 and "k"\."revoked_at" is null and "k"\."tenant" = "v"\."tenant" and "v"\."expires_at" > \$2$/
  },
  {
    name: 'tenants with keys (background jobs)',
    where: 'src/store/api-keys.ts listTenants (src/services/jobs.ts)',
    reason: 'the checkpoint and retention jobs discover the tenants, then work tenant by tenant',
    match: /^select distinct "tenant" from "api_keys" order by "tenant"$/
  },
  {
    name: 'first start: was any key ever created',
    where: 'src/store/api-keys.ts anyApiKeyEver (bootstrapAdminKey)',
    reason: 'the bootstrap key is created only on a database that never had a key, of any tenant',
    match: /^select "id" from "api_keys" limit \$1$/
  },
  {
    name: 'operator: keys of every tenant',
    where: 'src/store/api-keys.ts listApiKeys with tenant undefined (src/services/operator.ts, `rewind keys list` without --tenant)',
    reason: 'the operator\'s command line, which is not a tenant',
    match: /^select "id", "tenant", "name", "scopes", "created_at", "revoked_at" from "api_keys" order by "id" limit \$1$/
  },
  {
    name: 'operator: the tenant of a key to revoke',
    where: 'src/store/api-keys.ts revokeApiKeyAnyTenant (`rewind keys revoke ID`)',
    reason: 'the operator names a key by id alone; the revoke that follows names its tenant',
    match: /^select "tenant" from "api_keys" where "id" = \$1$/
  },
  {
    name: 'purge of expired idempotency keys',
    where: 'src/store/idempotency.ts purgeIdempotencyKeys (src/server.ts, every 15 min)',
    reason: 'maintenance over every tenant by age (created_at index); reads nothing back. On Citus a multi-shard DELETE, run in parallel on every shard',
    match: /^delete from idempotency_keys where created_at < now\(\) - make_interval\(hours => \$1::int\)$/
  },
  {
    name: 'forget expired viewer tokens',
    where: 'src/store/viewer-tokens.ts deleteExpiredViewerTokens (POST /viewer-tokens)',
    reason: 'deletes only tokens that can never be used again, of any tenant; reads nothing back. viewer_tokens is a reference table on Citus (looked up by hash), so this is one statement either way',
    match: /^delete from "viewer_tokens" where "expires_at" < \$1$/
  },
  {
    name: 'capture: every tenant\'s sources',
    where: 'src/store/capture-sources.ts allSources (src/capture/index.ts poll)',
    reason: 'the capture poller (one lease per source) discovers the sources of every tenant, then works per source with its tenant',
    match: /^select \* from capture_sources order by tenant, name$/
  },
  {
    name: 'webhooks: every enabled endpoint',
    where: 'src/store/webhooks.ts enabledWebhooks (src/streams/index.ts poll)',
    reason: 'the delivery poller (one instance, by lease) discovers every tenant\'s endpoints, then fills each one\'s outbox with its tenant\'s stream',
    match: /^select \* from webhooks where disabled_at is null order by tenant, id$/
  },
  {
    name: 'webhooks: due deliveries',
    where: 'src/store/webhooks.ts dueDeliveries (src/streams/index.ts poll)',
    reason: 'the delivery poller takes the due messages of every endpoint of every tenant (status, next_attempt_at index). On Citus a multi-shard query per poll',
    match: /^select d\.\*, row_to_json\(w\) as w from webhook_deliveries d join webhooks w on w\.id = d\.webhook_id where d\.status = 'pending' and d\.next_attempt_at <= now\(\) and w\.disabled_at is null order by d\.next_attempt_at, d\.created_at limit \$1$/
  },
  {
    name: 'retention: the entities of a partition to drop',
    where: 'src/store/partitions.ts partitionEntities (src/services/partitions.ts dropExpiredPartitions, the retention job)',
    reason: 'a partition holds a range of transaction ids of every tenant: the job writes each entity\'s pruning record in its own tenant\'s chain before the partition goes',
    match: /^select g\.tenant, g\.type, g\.entity_key, l\.seq, l\.transaction_id, l\.hash, g\.n from \( ?select tenant, type, entity_key, count\(\*\) as n, max\(transaction_id\) as last from versions where transaction_id >= \$1 and transaction_id < \$2 group by tenant, type, entity_key order by tenant, type, entity_key limit \$3 ?\) g join versions l on l\.tenant = g\.tenant and l\.type = g\.type and l\.entity_key = g\.entity_key and l\.transaction_id = g\.last order by g\.tenant, g\.type, g\.entity_key$/
  },
  {
    name: 'metrics: delivery backlog',
    where: 'src/store/webhooks.ts deliveryBacklog (GET /metrics)',
    reason: 'API.md: /metrics is process-wide, no tenant in its labels',
    match: /^select count\(\*\) filter \(where status = 'pending'\) as pending, count\(\*\) filter \(where status = 'failed'\) as failed from webhook_deliveries$/
  }
]

/** Statements that should name the tenant and do not (yet): reported to the lead, shown as todo until src/ is fixed. */
const KNOWN_GAPS: Rule[] = []

// ---------------------------------------------------------------------------------------------
// A small SQL reader: tokens, parenthesised groups, the references of each query scope, and the
// predicates that constrain a reference's tenant.

type Token =
  | { kind: 'ident', value: string, quoted: boolean }
  | { kind: 'param', index: number }
  | { kind: 'string' | 'number' | 'op' | 'punct', value: string }

interface Group { items: Array<Token | Group>, parent: Group | undefined, scope?: Scope }

const isGroup = (x: Token | Group | undefined): x is Group => x !== undefined && 'items' in x

function tokenize (text: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (/\s/.test(c)) { i++; continue }
    if (text.startsWith('--', i)) { const end = text.indexOf('\n', i); i = end < 0 ? text.length : end; continue }
    if (text.startsWith('/*', i)) { const end = text.indexOf('*/', i + 2); i = end < 0 ? text.length : end + 2; continue }
    if (c === '\'') {
      let j = i + 1
      let value = ''
      for (;;) {
        if (j >= text.length) throw new Error(`unterminated string in ${text}`)
        if (text[j] === '\'' && text[j + 1] === '\'') { value += '\''; j += 2; continue }
        if (text[j] === '\'') break
        value += text[j]!
        j++
      }
      out.push({ kind: 'string', value })
      i = j + 1
      continue
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1)
      out.push({ kind: 'ident', value: text.slice(i + 1, end), quoted: true })
      i = end + 1
      continue
    }
    const dollarQuote = /^\$([A-Za-z_]\w*)?\$/.exec(text.slice(i))
    if (dollarQuote !== null && !/^\$\d/.test(text.slice(i))) {
      const end = text.indexOf(dollarQuote[0], i + dollarQuote[0].length)
      out.push({ kind: 'string', value: text.slice(i + dollarQuote[0].length, end) })
      i = end + dollarQuote[0].length
      continue
    }
    const param = /^\$(\d+)/.exec(text.slice(i))
    if (param !== null) { out.push({ kind: 'param', index: Number(param[1]) }); i += param[0].length; continue }
    const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(text.slice(i))
    if (word !== null) { out.push({ kind: 'ident', value: word[0].toLowerCase(), quoted: false }); i += word[0].length; continue }
    const number = /^\d+(\.\d+)?/.exec(text.slice(i))
    if (number !== null) { out.push({ kind: 'number', value: number[0] }); i += number[0].length; continue }
    if ('(),.;[]'.includes(c)) { out.push({ kind: 'punct', value: c }); i++; continue }
    const op = /^[+\-*/<>=~!@#%^&|`?:]+/.exec(text.slice(i))
    if (op !== null) { out.push({ kind: 'op', value: op[0] }); i += op[0].length; continue }
    throw new Error(`cannot read ${JSON.stringify(c)} in ${text}`)
  }
  return out
}

function toGroups (tokens: Token[]): Group {
  const root: Group = { items: [], parent: undefined }
  let current = root
  for (const token of tokens) {
    if (token.kind === 'punct' && token.value === '(') {
      const group: Group = { items: [], parent: current }
      current.items.push(group)
      current = group
    } else if (token.kind === 'punct' && token.value === ')') {
      if (current.parent === undefined) throw new Error('unbalanced parentheses')
      current = current.parent
    } else {
      current.items.push(token)
    }
  }
  if (current !== root) throw new Error('unbalanced parentheses')
  return root
}

const isWord = (x: Token | Group | undefined, ...words: string[]): boolean =>
  x !== undefined && !isGroup(x) && x.kind === 'ident' && !x.quoted && words.includes(x.value)
const isIdent = (x: Token | Group | undefined): x is Token & { kind: 'ident' } => x !== undefined && !isGroup(x) && x.kind === 'ident'
const isPunct = (x: Token | Group | undefined, value: string): boolean => x !== undefined && !isGroup(x) && x.kind === 'punct' && x.value === value
const isOp = (x: Token | Group | undefined, value: string): boolean => x !== undefined && !isGroup(x) && x.kind === 'op' && x.value === value

/** Words that end a from item (never an alias). */
const RESERVED = new Set([
  'where', 'join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'on', 'using', 'group', 'order', 'limit', 'offset', 'having',
  'window', 'union', 'intersect', 'except', 'returning', 'set', 'values', 'select', 'for', 'with', 'default', 'lateral', 'as', 'and', 'or',
  'not', 'into', 'from', 'when', 'then', 'else', 'end', 'case', 'fetch', 'do', 'conflict', 'only', 'overriding', 'loop', 'if', 'perform',
  'begin', 'declare', 'return', 'raise', 'get', 'exception'
])

/** One table (or derived table, or set-returning function) a query scope reads or writes. */
interface Ref {
  id: number
  kind: 'table' | 'derived' | 'function' | 'cte'
  name: string
  alias: string
  scope: Scope
  /** The target of an insert: not visible to the insert's own select (the column list names its columns). */
  insertTarget: boolean
  /** A derived table's subquery. */
  subquery?: Group
  /** An insert's column list and where its values come from. */
  insert?: { columns: string[], values: Array<Array<Token | Group>> }
}

interface Scope { group: Group, refs: Ref[], parent: Scope | undefined }

/** A value a predicate may equate a scope column with: a parameter, a reference's column, or a function's tenant argument. */
type Term = { kind: 'param', index: number, cast?: string } | { kind: 'column', ref: Ref, column: string } | { kind: 'argument', name: string }

interface Analysis {
  refs: Ref[]
  /** Tenant-scoped refs whose scope column is not constrained. */
  unconstrained: Ref[]
  /** Calls of our functions, with whether their tenant argument is a tour tenant. */
  calls: Array<{ name: string, ok: boolean }>
  /** Names of scoped tables the reader did not understand (in a position it does not know). */
  unread: string[]
}

let refCounter = 0

/** Known values of each scope column: tenants, and the webhook ids the tour created. */
interface Known { tenant: Set<string>, webhook_id: Set<string> }

const scopeColumn = (table: string): string | undefined => {
  const entry = TABLES[table]
  return entry === undefined ? undefined : entry.scope === 'tenant' ? 'tenant' : entry.scope === 'webhook' ? 'webhook_id' : undefined
}

function analyze (text: string, parameters: readonly unknown[], known: Known, argumentNames: ReadonlySet<string> = new Set()): Analysis {
  const root = toGroups(tokenize(text))
  const refs: Ref[] = []
  const ctes = new Set<string>()
  const qualifierUses = new Set<Token>()
  const outerJoins = new Map<Token, { ref: Ref | undefined, filters: 'both' | 'joined' | 'neither' }>()
  const unread: string[] = []

  // CTE names (`with x as (`, `, y as (`) are references to their bodies, not tables.
  const collectCtes = (group: Group): void => {
    group.items.forEach((item, i) => {
      if (isGroup(item)) { collectCtes(item); return }
      if (isIdent(item) && isWord(group.items[i + 1], 'as') && isGroup(group.items[i + 2]) &&
        (isWord(group.items[i - 1], 'with', 'recursive') || isPunct(group.items[i - 1], ','))) ctes.add(item.value)
    })
  }
  collectCtes(root)

  // A scope per query (the statement, and each parenthesised select, insert, update, delete, values).
  const makeScopes = (group: Group, parent: Scope | undefined): void => {
    const scope = group.parent === undefined || startsQuery(group) ? { group, refs: [], parent } : undefined
    if (scope !== undefined) group.scope = scope
    for (const item of group.items) if (isGroup(item)) makeScopes(item, scope ?? parent)
  }
  makeScopes(root, undefined)
  /** The query a group belongs to: the nearest one, itself or an ancestor. */
  const scopeOf = (group: Group): Scope => {
    for (let g: Group | undefined = group; g !== undefined; g = g.parent) if (g.scope !== undefined) return g.scope
    return root.scope!
  }
  const enclosing = (scope: Scope): Scope | undefined => scope.parent

  // The references of each query: the items after from, join, update, delete from, insert into, using.
  const readRefs = (group: Group): void => {
    const scope = scopeOf(group)
    const items = group.items
    const readItem = (start: number, keyword: string): number => {
      let i = start
      if (isWord(items[i], 'only')) i++
      if (isWord(items[i], 'lateral')) i++
      const first = items[i]
      let ref: Ref | undefined
      if (isGroup(first)) {
        ref = { id: ++refCounter, kind: 'derived', name: '', alias: '', scope, insertTarget: false, subquery: first }
        i++
      } else if (isIdent(first) && !(first.quoted ? false : RESERVED.has(first.value))) {
        let name = first.value
        i++
        while (isPunct(items[i], '.') && isIdent(items[i + 1])) { name = (items[i + 1] as Token & { kind: 'ident' }).value; i += 2 }
        if (isGroup(items[i]) && keyword !== 'into') {
          ref = { id: ++refCounter, kind: 'function', name, alias: name, scope, insertTarget: false }
          i++
          if (isWord(items[i], 'with') && isWord(items[i + 1], 'ordinality')) i += 2
        } else {
          ref = { id: ++refCounter, kind: ctes.has(name) ? 'cte' : 'table', name, alias: name, scope, insertTarget: keyword === 'into' }
        }
      } else {
        return i
      }
      if (isWord(items[i], 'as')) i++
      const alias = items[i]
      if (isIdent(alias) && !(alias.quoted ? false : RESERVED.has(alias.value))) { ref.alias = alias.value; i++ }
      if (ref.insertTarget) {
        const column = scopeColumn(ref.name) ?? 'tenant'
        if (isGroup(items[i])) {
          ref.insert = { columns: splitCommas((items[i] as Group).items).map((c) => isIdent(c[0]) ? c[0].value : '?'), values: [] }
          i++
        }
        const insert = ref.insert
        if (insert !== undefined && isWord(items[i], 'values')) {
          for (let v = i + 1; isGroup(items[v]); v += 2) {
            insert.values.push(pickColumn(splitCommas((items[v] as Group).items), insert.columns, column))
            if (!isPunct(items[v + 1], ',')) break
          }
        } else if (insert !== undefined && isWord(items[i], 'select')) {
          insert.values.push(pickColumn(selectList(items, i + 1), insert.columns, column))
        }
      } else if (isGroup(items[i])) {
        i++ // column aliases of a function or derived table
      }
      scope.refs.push(ref)
      refs.push(ref)
      return i
    }
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (isGroup(item)) { readRefs(item); continue }
      const keyword = isWord(item, 'from') && isWord(items[i - 1], 'delete') ? 'delete'
        : isWord(item, 'from') && !isWord(items[i - 1], 'distinct') ? 'from'
          : isWord(item, 'join') ? 'join'
            : isWord(item, 'into') && isWord(items[i - 1], 'insert') ? 'into'
              : isWord(item, 'update') && !isWord(items[i - 1], 'for', 'do', 'key', 'no') && !isWord(items[i + 1], 'set') ? 'update'
                : isWord(item, 'using') && !isGroup(items[i + 1]) ? 'using'
                  : undefined
      if (keyword === undefined) continue
      const made = refs.length
      let next = readItem(i + 1, keyword)
      // An outer join's on clause filters the joined table only (left join), or, taken conservatively, neither side (right, full).
      const on = items[next]
      if (keyword === 'join' && refs.length > made && isWord(on, 'on')) {
        const kind = [items[i - 1], items[i - 2]].find((x) => isWord(x, 'left', 'right', 'full'))
        outerJoins.set(on as Token, kind === undefined ? { ref: undefined, filters: 'both' } : { ref: refs[refs.length - 1], filters: isWord(kind, 'left') ? 'joined' : 'neither' })
      }
      while ((keyword === 'from' || keyword === 'using') && isPunct(items[next], ',')) next = readItem(next + 1, keyword)
      for (let j = i + 1; j < next; j++) if (isGroup(items[j])) readRefs(items[j] as Group)
      i = next - 1
    }
  }
  readRefs(root)

  /** Resolves `alias.column`, or a bare column, from a group outwards. */
  const resolve = (group: Group, alias: string | undefined, column: string): Ref | undefined => {
    for (let scope: Scope | undefined = scopeOf(group); scope !== undefined; scope = enclosing(scope)) {
      const visible = scope.refs.filter((r) => !r.insertTarget)
      if (alias !== undefined) {
        const found = visible.filter((r) => r.alias === alias)
        if (found.length === 1) return found[0]
        if (found.length > 1) return undefined
        continue
      }
      const having = visible.filter((r) => hasColumn(r, column))
      if (having.length === 1) return having[0]
      if (having.length > 1) return undefined // ambiguous
    }
    return undefined
  }
  const hasColumn = (ref: Ref, column: string): boolean => {
    if (ref.kind === 'table') return scopeColumn(ref.name) === column || (ref.name === 'webhooks' && column === 'id')
    if (ref.kind === 'derived') return derivedSources(ref, column).length > 0
    return false
  }
  /** The references a derived table's column comes from (`select *`, `x.*`, `x.column`, a bare column). */
  const resolving = new Set<Ref>()
  const derivedSources = (ref: Ref, column: string): Ref[] => {
    if (resolving.has(ref)) return []
    resolving.add(ref)
    try { return derivedSourcesOf(ref, column) } finally { resolving.delete(ref) }
  }
  const derivedSourcesOf = (ref: Ref, column: string): Ref[] => {
    const sub = ref.subquery!
    const start = sub.items.findIndex((x) => isWord(x, 'select'))
    if (start < 0) return []
    const out: Ref[] = []
    for (const expr of selectList(sub.items, start + 1)) {
      const named = expr.length >= 3 && isWord(expr[expr.length - 2], 'as') ? (expr[expr.length - 1] as Token & { kind: 'ident' }).value : undefined
      const term = termAt(sub, expr, 0)
      if (expr.length === 1 && isOp(expr[0], '*')) out.push(...(sub.scope?.refs ?? []).filter((r) => !r.insertTarget && hasColumn(r, column)))
      else if (expr.length === 3 && isIdent(expr[0]) && isPunct(expr[1], '.') && isOp(expr[2], '*')) {
        const r = resolve(sub, (expr[0] as Token & { kind: 'ident' }).value, column)
        if (r !== undefined && hasColumn(r, column)) out.push(r)
      } else if (term?.term.kind === 'column' && term.term.column === column && (named === undefined || named === column)) out.push(term.term.ref)
    }
    return out
  }

  /** The term at expr[i] (a parameter with its cast, `alias.column`, a bare scope column, or a function's tenant argument) and where it ends. */
  const termAt = (group: Group, expr: Array<Token | Group>, i: number): { term: Term, end: number } | undefined => {
    const x = expr[i]
    if (x === undefined || isGroup(x)) return undefined
    if (x.kind === 'param') {
      if (isOp(expr[i + 1], '::') && isIdent(expr[i + 2])) {
        const array = isPunct(expr[i + 3], '[') && isPunct(expr[i + 4], ']')
        return { term: { kind: 'param', index: x.index, cast: (expr[i + 2] as Token & { kind: 'ident' }).value + (array ? '[]' : '') }, end: i + (array ? 5 : 3) }
      }
      return { term: { kind: 'param', index: x.index }, end: i + 1 }
    }
    if (x.kind !== 'ident') return undefined
    if (argumentNames.has(x.value) && !isPunct(expr[i - 1], '.') && !isPunct(expr[i + 1], '.')) return { term: { kind: 'argument', name: x.value }, end: i + 1 }
    if (isPunct(expr[i + 1], '.') && isIdent(expr[i + 2]) && !isPunct(expr[i - 1], '.')) {
      const column = (expr[i + 2] as Token & { kind: 'ident' }).value
      const ref = resolve(group, x.value, column)
      return ref === undefined ? undefined : { term: { kind: 'column', ref, column }, end: i + 3 }
    }
    if (!isPunct(expr[i - 1], '.') && !isPunct(expr[i + 1], '.') && !isGroup(expr[i + 1]) && (x.value === 'tenant' || x.value === 'webhook_id' || x.value === 'id')) {
      const ref = resolve(group, undefined, x.value)
      return ref === undefined ? undefined : { term: { kind: 'column', ref, column: x.value }, end: i + 1 }
    }
    return undefined
  }

  // Predicates: `a = b` where both sides are terms, `a = any($n)`, `a in ($n, …)`, in a
  // conjunctive position of a where or on clause of their scope.
  const edges: Array<{ from: Term, to: Term, only?: Ref | null }> = []
  const findPredicates = (group: Group): void => {
    const items = group.items
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (isGroup(item)) { findPredicates(item); continue }
      if (!(isOp(item, '=') || isWord(item, 'in'))) continue
      const clause = conjunctive(group, i)
      if (clause === undefined) continue
      const join = outerJoins.get(clause)
      const only = join === undefined || join.filters === 'both' ? undefined : join.filters === 'joined' ? join.ref : null
      // The left side ends at i: try the terms that can end there.
      let left: Term | undefined
      for (let start = Math.max(0, i - 5); start < i && left === undefined; start++) {
        const found = termAt(group, items, start)
        if (found !== undefined && found.end === i) left = found.term
      }
      if (left === undefined) continue
      const rights: Term[] = []
      if (isWord(item, 'in') && isGroup(items[i + 1])) {
        const values = splitCommas((items[i + 1] as Group).items).map((e) => termAt(group, e, 0))
        if (values.every((v) => v !== undefined && v.term.kind === 'param')) rights.push(...values.map((v) => v!.term))
      } else if (isWord(items[i + 1], 'any') && isGroup(items[i + 2])) {
        const inside = (items[i + 2] as Group).items
        const found = termAt(group, inside, 0)
        if (found !== undefined && found.end === inside.length && found.term.kind === 'param') rights.push(found.term)
      } else if (isOp(item, '=')) {
        const found = termAt(group, items, i + 1)
        if (found !== undefined) rights.push(found.term)
      }
      for (const right of rights) edges.push({ from: left, to: right, only }, { from: right, to: left, only })
    }
  }
  findPredicates(root)

  // Insert targets take their scope column from a value of their column list.
  for (const ref of refs) {
    if (!ref.insertTarget || ref.insert === undefined) continue
    const column = scopeColumn(ref.name)
    if (column === undefined) continue
    for (const value of ref.insert.values) {
      const found = value.length === 0 ? undefined : termAt(ref.scope.group, value, 0)
      if (found !== undefined) edges.push({ from: found.term, to: { kind: 'column', ref, column } })
    }
  }

  // A term is good when it is a known value of its column, or equal to a good term; a reference is constrained when its scope column is good.
  const good = new Set<string>()
  const key = (term: Term): string => term.kind === 'column' ? `${term.ref.id}.${term.column}` : term.kind === 'param' ? `$${term.index}` : `arg:${term.name}`
  const knownValue = (term: Term, column: string): boolean => {
    if (term.kind === 'argument') return column === 'tenant' && FUNCTIONS_ARGUMENTS.has(term.name)
    if (term.kind !== 'param') return false
    const value = parameters[term.index - 1]
    const values = known[column as keyof Known]
    if (values === undefined) return false
    if (Array.isArray(value)) return value.length > 0 && value.every((v) => values.has(String(v)))
    return typeof value === 'string' && values.has(value)
  }
  const columnGood = (ref: Ref, column: string): boolean => good.has(`${ref.id}.${column}`)
  for (let changed = true; changed;) {
    changed = false
    const mark = (k: string): void => { if (!good.has(k)) { good.add(k); changed = true } }
    for (const { from, to, only } of edges) {
      if (to.kind !== 'column') continue
      if (only !== undefined && to.ref !== only) continue
      const target = key(to)
      if (good.has(target)) continue
      // A value flows into a column only from the same scope or an enclosing one (a correlated
      // subquery constrains its own references, never the outer query's).
      if (from.kind === 'column' && !visibleFrom(from.ref.scope, to.ref.scope, enclosing)) continue
      if ((from.kind !== 'column' && knownValue(from, to.column)) || (from.kind === 'column' && good.has(key(from)))) mark(target)
      // A webhook's id is good when the webhook is tenant-constrained (deliveries joined on it).
      if (from.kind === 'column' && from.ref.kind === 'table' && from.ref.name === 'webhooks' && from.column === 'id' && columnGood(from.ref, 'tenant')) mark(target)
    }
    // A derived table's column is good when every source of it is.
    for (const ref of refs) {
      if (ref.kind !== 'derived') continue
      for (const column of ['tenant', 'webhook_id']) {
        const sources = derivedSources(ref, column)
        if (sources.length > 0 && sources.every((s) => columnGood(s, column))) mark(`${ref.id}.${column}`)
      }
    }
  }

  const scoped = refs.filter((r) => r.kind === 'table' && scopeColumn(r.name) !== undefined)
  const unconstrained = scoped.filter((r) => !columnGood(r, scopeColumn(r.name)!))

  // Calls of our functions: the tenant argument must be a tour tenant.
  const calls: Analysis['calls'] = []
  const findCalls = (group: Group): void => {
    group.items.forEach((item, i) => {
      if (isGroup(item)) { findCalls(item); return }
      if (isIdent(item) && FUNCTIONS_SIGNATURES.has(item.value) && isGroup(group.items[i + 1])) {
        const args = splitCommas((group.items[i + 1] as Group).items)
        const position = FUNCTIONS_SIGNATURES.get(item.value)!
        const arg = args[position]
        const found = arg === undefined ? undefined : termAt(group.items[i + 1] as Group, arg, 0)
        calls.push({ name: item.value, ok: found !== undefined && found.end === arg!.length && knownValue(found.term, 'tenant') })
      }
    })
  }
  findCalls(root)

  // Every scoped table name must have been read as a reference or as a qualifier (`capture_sources.config`).
  const walk = (group: Group): void => {
    group.items.forEach((item, i) => {
      if (isGroup(item)) { walk(item); return }
      if (isIdent(item) && isPunct(group.items[i + 1], '.')) qualifierUses.add(item)
    })
  }
  walk(root)
  const countNames = (group: Group, counts: Map<string, number>): void => {
    group.items.forEach((item, i) => {
      if (isGroup(item)) { countNames(item, counts); return }
      if (isIdent(item) && TABLES[item.value] !== undefined && !qualifierUses.has(item) && !isPunct(group.items[i - 1], '.')) counts.set(item.value, (counts.get(item.value) ?? 0) + 1)
    })
  }
  const counts = new Map<string, number>()
  countNames(root, counts)
  for (const [name, n] of counts) {
    const read = refs.filter((r) => r.kind === 'table' && r.name === name).length + refs.filter((r) => r.alias === name && r.name !== name).length
    if (read < n) unread.push(name)
  }
  return { refs, unconstrained, calls, unread }
}

const startsQuery = (group: Group): boolean => isWord(group.items[0], 'select', 'with', 'insert', 'update', 'delete', 'values')

function visibleFrom (source: Scope, target: Scope, enclosing: (s: Scope) => Scope | undefined): boolean {
  for (let s: Scope | undefined = target; s !== undefined; s = enclosing(s)) if (s === source) return true
  return false
}

function splitCommas (items: Array<Token | Group>): Array<Array<Token | Group>> {
  const out: Array<Array<Token | Group>> = [[]]
  for (const item of items) {
    if (isPunct(item, ',')) out.push([])
    else out[out.length - 1]!.push(item)
  }
  return out.length === 1 && out[0]!.length === 0 ? [] : out
}

/** The expressions of a select list that starts at items[start] (after `select`). */
function selectList (items: Array<Token | Group>, start: number): Array<Array<Token | Group>> {
  let i = start
  if (isWord(items[i], 'all')) i++
  if (isWord(items[i], 'distinct')) { i++; if (isWord(items[i], 'on') && isGroup(items[i + 1])) i += 2 }
  let end = i
  while (end < items.length && !isWord(items[end], 'from', 'where', 'group', 'order', 'limit', 'returning', 'union', 'on', 'into')) end++
  return splitCommas(items.slice(i, end))
}

/** The expression of the scope column among an insert's values (empty when the column list does not name it). */
function pickColumn (values: Array<Array<Token | Group>>, columns: string[], column: string): Array<Token | Group> {
  const at = columns.indexOf(column)
  return at < 0 ? [] : values[at] ?? []
}

const CLAUSE_WORDS = ['where', 'on', 'select', 'from', 'join', 'group', 'order', 'limit', 'having', 'returning', 'set', 'values', 'when', 'then', 'else',
  'using', 'union', 'into', 'conflict', 'do', 'case', 'end', 'filter', 'over', 'partition']

/**
 * The where or on word of the clause that items[i] of `group` is a condition of, when it is
 * joined to the clause by AND only: no OR beside it, no NOT, CASE or function call around it.
 */
function conjunctive (group: Group, i: number): Token | undefined {
  let g = group
  let at = i
  for (;;) {
    const items = g.items
    let start = at
    while (start > 0 && !isWord(items[start - 1], ...CLAUSE_WORDS) && !isPunct(items[start - 1], ',')) start--
    let end = at
    while (end < items.length && !isWord(items[end], ...CLAUSE_WORDS) && !isPunct(items[end], ',')) end++
    if (items.slice(start, end).some((x) => isWord(x, 'or'))) return undefined
    if (g.scope !== undefined) return start > 0 && isWord(items[start - 1], 'where', 'on') ? items[start - 1] as Token : undefined
    // A parenthesised condition, `(a and b)`: whole, and where a condition may stand in its parent.
    if (start > 0 || end < items.length) return undefined
    const parent = g.parent
    if (parent === undefined) return undefined
    at = parent.items.indexOf(g)
    const before = parent.items[at - 1]
    if (!isWord(before, 'where', 'on', 'and') && !(before === undefined && parent.scope === undefined)) return undefined
    g = parent
  }
}

const FUNCTIONS_SIGNATURES = new Map<string, number>()
const FUNCTIONS_ARGUMENTS = new Set<string>(Object.values(FUNCTIONS).map((f) => f.tenantArgument))

// ---------------------------------------------------------------------------------------------
// The tour.

interface Visit { method: string, url: string }

/** An SSE subscription read until `count` events came (or `ms` passed). */
async function readStream (h: Harness, query: string, count: number, lastEventId?: string, ms = 3000): Promise<Array<{ id: string }>> {
  if (h.app.server.address() === null) await h.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = h.app.server.address() as AddressInfo
  return await new Promise((resolve, reject) => {
    const events: Array<{ id: string }> = []
    const req = http.get({
      host: '127.0.0.1', port, path: `/stream${query}`, agent: false,
      headers: { authorization: `Bearer ${h.adminKey}`, accept: 'text/event-stream', ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) }
    }, (res) => {
      let buffer = ''
      const done = (): void => { clearTimeout(timer); req.destroy(); resolve(events) }
      const timer = setTimeout(done, ms)
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let cut
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const id = /^id: ?(.*)$/m.exec(block)?.[1]
          if (id !== undefined && /^data:/m.test(block)) events.push({ id })
          if (events.length >= count) { done(); return }
        }
      })
      res.on('error', () => undefined)
    })
    req.on('error', (error) => { if (events.length === 0) reject(error) })
  })
}

async function receiver (status: number): Promise<{ url: string, received: () => number, close: () => Promise<void> }> {
  let received = 0
  const server = http.createServer((req, res) => { req.resume(); req.on('end', () => { received++; res.writeHead(status).end() }) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${port}/hook`, received: () => received, close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => { resolve() })) } }
}

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Drives every route (and the background jobs) once or more; answers the requests made. */
async function tour (t: Test, h: Harness, known: Known): Promise<Visit[]> {
  const visits: Visit[] = []
  const call = async (method: string, url: string, expect: number | number[], body?: unknown, options: { key?: string, headers?: Record<string, string> } = {}): Promise<any> => {
    visits.push({ method, url })
    const res = await as(h.app, options.key ?? h.adminKey, method, url, body, options.headers)
    const wanted = Array.isArray(expect) ? expect : [expect]
    t.ok(wanted.includes(res.status), `${method} ${url}: ${res.status}${wanted.includes(res.status) ? '' : ` ${res.text.slice(0, 300)}`}`)
    return res
  }
  const write = async (changes: unknown[], extra: Record<string, unknown> = {}, headers?: Record<string, string>, key?: string): Promise<number> => {
    const res = await call('POST', '/transactions', 201, { ...extra, changes }, { ...(headers === undefined ? {} : { headers }), ...(key === undefined ? {} : { key }) })
    return res.body?.transaction?.id
  }

  // Types with relations (and the association type they register), retention on one.
  await registerBlog(h)
  visits.push(...['article', 'user', 'comment', 'tag'].map((type) => ({ method: 'PUT', url: `/entity-types/${type}` })))
  await call('PUT', '/entity-types/session', 201, { retention: { keepVersions: 1 } })

  // Transactions: inserts, updates, deletes, manyToMany links; an idempotent replay and a reuse.
  const first = [
    ins('user', { id: 1, name: 'Ann', email: 'ann@example.org' }), ins('user', { id: 2, name: 'Bob', email: 'bob@example.org' }),
    ins('article', { id: 1, title: 'First', author_id: 1 }), ins('tag', { id: 1, name: 'news' }), ins('tag', { id: 2, name: 'tech' }),
    link(1, 1), ins('comment', { id: 1, article_id: 1, body: 'Nice' }), ins('comment', { id: 2, article_id: 1, body: 'Meh' })
  ]
  const t1 = await write(first, { actor: 'ada', meta: { reason: 'tour' } }, { 'idempotency-key': 'tour-1' })
  const replay = await call('POST', '/transactions', 201, { actor: 'ada', meta: { reason: 'tour' }, changes: first }, { headers: { 'idempotency-key': 'tour-1' } })
  t.equal(replay.headers['idempotent-replayed'], 'true', 'replayed')
  await call('POST', '/transactions', 422, { changes: [upd('user', '1', { name: 'Other' })] }, { headers: { 'idempotency-key': 'tour-1' } })
  const t2 = await write([upd('article', '1', { title: 'Second', author_id: 2 }), del('comment', '2'), link(1, 2), unlink(1, 1)], { actor: 'bob' })
  const t3 = await write([upd('comment', '1', { body: 'Nicer' }), ins('comment', { id: 3, article_id: 1, body: 'New' }), { ...upd('article', '1', { title: 'Third' }), expectedTransactionId: t2 }], { actor: 'ada' })
  await call('POST', '/transactions', 409, { changes: [{ ...upd('article', '1', { title: 'Stale' }), expectedTransactionId: t1 }] })
  const s1 = await write([ins('session', { id: 's1', n: 1 }), ins('session', { id: 's2', n: 1 })])
  await write([upd('session', 's1', { n: 2 })])
  const s3 = await write([upd('session', 's1', { n: 3 })])
  await call('POST', '/transactions', 200, { changes: [upd('session', 's1', { n: 3 })] }) // no change: nothing recorded

  // Reads of history.
  await call('GET', '/entity-types', 200)
  await call('GET', '/entity-types?limit=1', 200)
  await call('GET', '/entity-types/article', 200)
  await call('GET', '/entity-types/article/revisions', 200)
  await call('GET', '/entities/article', 200)
  const page = await call('GET', '/entities/comment?limit=1', 200)
  await call('GET', `/entities/comment?limit=1&cursor=${encodeURIComponent(page.body.nextCursor)}`, 200)
  await call('GET', '/entities/article/1/versions', 200)
  const desc = await call('GET', '/entities/article/1/versions?order=desc&limit=1', 200)
  await call('GET', `/entities/article/1/versions?order=desc&limit=1&cursor=${encodeURIComponent(desc.body.nextCursor)}`, 200)
  await call('GET', '/entities/article/1/versions?asRecorded=true', 200)
  await call('GET', '/entities/article/404/versions', 404)
  await call('GET', `/entities/article/1/versions/${t1}?relations=author,comments,tags`, 200)
  await call('GET', `/entities/article/1/versions/${t3}?relations=author,comments,tags`, 200)
  await call('GET', `/entities/article_tag/1,2/versions/${t2}`, 200)
  const related = await call('GET', `/entities/article/1/versions/${t3}/relations/comments?limit=1`, 200)
  await call('GET', `/entities/article/1/versions/${t3}/relations/comments?limit=1&cursor=${encodeURIComponent(related.body.nextCursor)}`, 200)
  await call('GET', `/entities/article/1/versions/${t1}/relations/tags`, 200)
  await call('GET', `/entities/article/1/versions/${t1}/relations/author`, [200, 400])
  await call('GET', `/entities/user/2/versions/${t1}/relations/none`, [400, 404])
  await call('GET', '/entities/article/1', 200)
  await call('GET', '/entities/article/1?relations=author,comments,tags', 200)
  await call('GET', `/entities/article/1?at=${t1}`, 200)
  await call('GET', `/entities/article/1?at=${t2}&relations=author,comments,tags`, 200)
  await call('GET', `/entities/comment/2?at=${t2}`, 404)
  await call('GET', `/entities/article/1/changeset?from=${t1}&to=${t3}`, 200)
  await call('GET', '/transactions', 200)
  const txPage = await call('GET', '/transactions?limit=1', 200)
  await call('GET', `/transactions?limit=1&cursor=${encodeURIComponent(txPage.body.nextCursor)}`, 200)
  await call('GET', '/transactions?actor=ada', 200)
  await call('GET', '/transactions?type=comment', 200)
  await call('GET', '/transactions?type=article&actor=bob', 200)
  await call('GET', `/transactions?since=${encodeURIComponent('2000-01-01T00:00:00Z')}&until=${encodeURIComponent('2100-01-01T00:00:00Z')}`, 200)
  await call('GET', `/transactions/${t1}`, 200)
  await call('GET', '/transactions/999999', 404)
  const versionsPage = await call('GET', `/transactions/${t1}/versions?limit=2`, 200)
  await call('GET', `/transactions/${t1}/versions?limit=2&cursor=${encodeURIComponent(versionsPage.body.nextCursor)}`, 200)

  // Reverts: an entity with its relations (dry run, then for real, replayed), transactions.
  await call('POST', '/entities/article/1/revert', 200, { to: t1, relations: ['tags', 'comments', 'author'], dryRun: true })
  const revertBody = { to: t1, relations: ['tags', 'comments', 'author'], actor: 'ada' }
  await call('POST', '/entities/article/1/revert', 201, revertBody, { headers: { 'idempotency-key': 'tour-revert' } })
  await call('POST', '/entities/article/1/revert', 201, revertBody, { headers: { 'idempotency-key': 'tour-revert' } })
  await call('POST', `/transactions/${t3}/revert`, 409, { dryRun: true })
  await call('POST', `/transactions/${t3}/revert`, 200, { dryRun: true, force: true })
  await call('POST', `/transactions/${t3}/revert`, [200, 201], { force: true })
  await call('POST', `/transactions/${s3}/revert`, 201, {})

  // A schema migration, and reads through it.
  await call('POST', '/entity-types/comment/migrations', 200, { operations: [{ op: 'renameField', from: 'body', to: 'text' }, { op: 'addField', field: 'likes', default: 0 }] })
  await call('PUT', '/entity-types/user', 200, { exclude: ['updated_at'] })
  await call('GET', '/entities/comment/1/versions', 200)
  await call('GET', `/entities/article/1/versions/${t1}?relations=comments`, 200)
  await call('GET', `/entities/comment/1/changeset?from=${t1}&to=${t3}`, 200)

  // Integrity: checkpoints, proof, verification.
  const checkpoint = await call('POST', '/integrity/checkpoints', 201)
  await call('GET', '/integrity/checkpoints', 200)
  await call('GET', '/integrity/checkpoints?limit=1', 200)
  await call('GET', `/entities/article/1/versions/${t1}/proof`, 200)
  await call('POST', '/integrity/verify', 200, {})
  await call('POST', '/integrity/verify', 200, { checkpoint: checkpoint.body })
  await call('GET', '/integrity/public-key', 200)

  // Retention under a legal hold, then released; reads of a pruned history.
  const hold = await call('POST', '/legal-holds', 201, { type: 'session', id: 's1', reason: 'audit' })
  await call('POST', '/legal-holds', 201, { type: 'user' })
  await call('GET', '/legal-holds', 200)
  await call('POST', '/retention/run', 200)
  await call('DELETE', `/legal-holds/${hold.body.id as string}`, 204)
  await call('POST', '/retention/run', 200)
  await call('GET', '/entities/session/s1/versions', 200)
  await call('GET', `/entities/session/s1/versions/${s1}`, 410)
  await call('GET', `/entities/session/s1?at=${s1}`, 410)
  await call('POST', '/entities/session/s1/revert', 410, { to: s1, dryRun: true })

  // Redaction.
  await call('POST', '/entities/user/1/redact', 201, { fields: ['email'], reason: 'erasure request' })
  await call('GET', '/redactions', 200)
  await call('GET', `/entities/user/1/versions/${t1}`, 200)
  await call('POST', '/integrity/verify', 200, {})

  // Export and the stream.
  const exported = await call('GET', '/export', 200)
  const exportCursor = String(exported.text).split('\n').filter((line: string) => line !== '').map((line: string) => JSON.parse(line)).find((line: any) => line.kind === 'transaction')?.cursor
  await call('GET', '/export?type=article', 200)
  await call('GET', `/export?since=${encodeURIComponent('2000-01-01T00:00:00Z')}&until=${encodeURIComponent('2100-01-01T00:00:00Z')}`, 200)
  const events = await readStream(h, '', 2)
  visits.push({ method: 'GET', url: '/stream' })
  t.equal(events.length, 2, 'the stream sent events')
  await readStream(h, '?type=article&actor=ada', 1, events[0]?.id)
  await call('GET', `/export?after=${encodeURIComponent(String(exportCursor))}`, 200)

  // API keys and viewer tokens.
  const reader = await call('POST', '/api-keys', 201, { name: 'reader', scopes: ['read'] })
  await call('GET', '/transactions?limit=2', 200, undefined, { key: reader.body.key })
  await call('GET', '/api-keys', 200)
  await call('DELETE', `/api-keys/${reader.body.id as string}`, 200)
  const viewer = await call('POST', '/viewer-tokens', 201, { type: 'article', id: '1', ttlSeconds: 600 })
  const typeViewer = await call('POST', '/viewer-tokens', 201, { type: 'comment', ttlSeconds: 60 })
  await call('POST', '/viewer-tokens', 201, { ttlSeconds: 60 })
  for (const url of ['/entities/article/1/versions', `/entities/article/1/versions/${t1}?relations=author,comments,tags`, '/entities/article', '/transactions', `/transactions/${t1}`, '/entity-types']) {
    await call('GET', url, 200, undefined, { key: viewer.body.token })
  }
  await call('GET', '/entities/comment/1/versions', 200, undefined, { key: typeViewer.body.token })
  await call('GET', '/entities/user/1/versions', 404, undefined, { key: viewer.body.token })

  // Webhooks: one endpoint that takes its messages, one that fails and is disabled.
  const ok = await receiver(200)
  const failing = await receiver(500)
  t.teardown(ok.close)
  t.teardown(failing.close)
  const good = await call('POST', '/webhooks', 201, { url: ok.url, description: 'tour' })
  const bad = await call('POST', '/webhooks', 201, { url: failing.url, types: ['article'] })
  known.webhook_id.add(good.body.id).add(bad.body.id)
  await write([upd('article', '1', { title: 'Hooked' })])
  await until('deliveries', async () => ok.received() >= 1 && failing.received() >= 1 &&
    (await as(h.app, h.adminKey, 'GET', `/webhooks/${bad.body.id as string}`)).body?.disabled !== null)
  await call('GET', '/webhooks', 200)
  await call('GET', `/webhooks/${good.body.id as string}`, 200)
  await call('GET', `/webhooks/${good.body.id as string}/deliveries`, 200)
  await call('DELETE', `/webhooks/${bad.body.id as string}`, 204)

  // Capture: the routes (no source database with logical replication here), and the recording
  // of captured transactions through the services the capture worker uses.
  await call('GET', '/capture/sources/nosuch', 404)
  await call('DELETE', '/capture/sources/nosuch', 404)
  await call('PUT', '/capture/sources/unreachable', [400, 502, 503], { connection: 'postgres://rewind@127.0.0.1:1/none', tables: { 'public.widget': { type: 'widget' } } })
  const tenants = new Tenants(h.db, 0, ephemeralSigner())
  const ctx = tenants.context(undefined, 'default')
  const config = { connection: 'postgres://rewind@127.0.0.1:1/none', tables: { 'public.widget': { type: 'widget' } }, publication: 'rewind_default_direct', slot: 'rewind_default_direct' }
  await saveCaptureSource(ctx, 'direct', config, new Map([['public.widget', ['id']]]), null)
  const now = new Date().toISOString()
  t.equal((await recordCaptured(ctx, [{ source: 'direct', xid: 1, commitTime: now, endLsn: '0/10', changes: [{ op: 'upsert', type: 'widget', key: '1', row: { id: 1, n: 1 }, unchanged: [] }] }], null, config)).recorded, true)
  t.equal((await recordCaptured(ctx, [{ source: 'direct', xid: 2, commitTime: now, endLsn: '0/20', changes: [{ op: 'upsert', type: 'widget', key: '1', row: { id: 1, n: 2 }, unchanged: ['n'] }, { op: 'delete', type: 'widget', key: '2' }] }], '0/10', config)).recorded, true)
  t.equal((await recordCaptured(ctx, [{ source: 'direct', xid: 3, commitTime: now, endLsn: '0/30', changes: [{ op: 'truncate', type: 'widget' }] }], '0/20', config)).recorded, true)
  await everyCaptureSource(h.db)
  await markCaptureSource(h.db, 'default', 'direct', 'reconnecting', 'unreachable')
  await holdCaptureLease(h.db, 'default', 'direct', 'tour', 1000)
  await releaseCaptureLease(h.db, 'default', 'direct', 'tour')
  await call('GET', '/capture/sources/direct', 200)
  await call('DELETE', '/capture/sources/direct', 204)

  // A second tenant, so that the jobs below have more than one.
  const acme = (await h.newKey(['admin'], 'acme')).key
  await call('PUT', '/entity-types/article', 201, {}, { key: acme })
  await write([ins('article', { id: 1, title: 'Acme' })], {}, undefined, acme)
  await call('GET', '/entities/article/1', 200, undefined, { key: acme })
  await call('GET', '/entities/article/1/versions', 200, undefined, { key: acme })
  await call('GET', '/transactions', 200, undefined, { key: acme })

  // Background jobs: checkpoints and retention for every tenant, idempotency purge, the operator's tools, first start.
  const jobs = startIntegrityJobs(tenants, { checkpointIntervalMs: 20, retentionIntervalMs: 20, log: h.app.log })
  await until('a checkpoint of acme', async () => (await as(h.app, acme, 'GET', '/integrity/checkpoints')).body?.items?.length > 0)
  await new Promise((resolve) => setTimeout(resolve, 60))
  await jobs.stop()
  await purgeIdempotencyKeys(h.db, 24)
  await listAllKeys(h.db, undefined)
  await listAllKeys(h.db, 'acme')
  await revokeKeyById(h.db, reader.body.id)
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rewind-tenant-scope-'))
  t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }) })
  t.equal(await bootstrapAdminKey(h.db, dataDir, undefined), undefined, 'keys exist: no bootstrap key')
  await call('GET', '/metrics', 200)
  await call('GET', '/health', 200)
  await call('GET', '/ready', 200)
  await call('GET', '/ui', 200)
  return visits
}

// ---------------------------------------------------------------------------------------------

/** Routes of the OpenAPI document the tour does not request, each with the reason. */
const NOT_TOURED: Record<string, string> = {}

/** The route template (`GET /entities/{type}/{id}`) a request matches, the one with the most literal segments. */
function routeOf (templates: string[], method: string, url: string): string | undefined {
  const pathname = url.split('?')[0]!
  const segments = pathname.split('/')
  let best: { route: string, literal: number } | undefined
  for (const template of templates) {
    const [m, p] = template.split(' ') as [string, string]
    if (m !== method) continue
    const parts = p.split('/')
    if (parts.length !== segments.length) continue
    if (!parts.every((part, i) => /^\{.*\}$/.test(part) || part === segments[i])) continue
    const literal = parts.filter((part) => !/^\{.*\}$/.test(part)).length
    if (best === undefined || literal > best.literal) best = { route: template, literal }
  }
  return best?.route
}

const normalize = (text: string): string => text.replace(/\s+/g, ' ').trim()

eachDatabase('every statement that touches a tenant-scoped table names the tenant', async (t, h) => {
  const known: Known = { tenant: new Set(TENANTS), webhook_id: new Set() }

  // Every table of the schema is classified.
  const { rows: tables } = await h.asOwner(async (owner) => await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = current_schema() order by 1`.execute(owner))
  t.strictSame(tables.map((r) => r.name).filter((name) => TABLES[name] === undefined && !isVersionPartition(name)), [], 'every table is classified in TABLES')

  // Our functions that touch tenant-scoped tables: their tenant argument, and their own statements.
  const { rows: functions } = await h.asOwner(async (owner) => await sql<{ name: string, args: string[] | null, body: string }>`
    select p.proname as name, p.proargnames as args, p.prosrc as body from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = current_schema() order by 1`.execute(owner))
  for (const f of functions) {
    const touches = Object.keys(TABLES).filter((table) => TABLES[table]!.scope !== 'global' && new RegExp(`\\b${table}\\b`).test(f.body))
    if (touches.length === 0 || PARTITION_FUNCTIONS[f.name] !== undefined) continue
    const declared = FUNCTIONS[f.name]
    t.ok(declared !== undefined, `${f.name} touches ${touches.join(', ')}: it is declared in FUNCTIONS`)
    if (declared === undefined) continue
    const position = (f.args ?? []).indexOf(declared.tenantArgument)
    t.ok(position >= 0, `${f.name} takes ${declared.tenantArgument}`)
    FUNCTIONS_SIGNATURES.set(f.name, position)
    // Each SQL statement of the body (plpgsql: split at semicolons, control words left out).
    for (const part of f.body.split(';')) {
      const statement = normalize(part.replace(/--[^\n]*/g, '')).replace(/^(declare .*? begin |begin |end if |end loop |if not found then |else |end )+/i, '')
      if (!/\b(select|insert|update|delete)\b/i.test(statement)) continue
      const inner = /\b(if (not )?exists )?\(?(select|insert|update|delete)\b.*$/is.exec(statement)?.[0] ?? statement
      const result = analyze(inner.replace(/^if (not )?exists /i, '').replace(/ then$/i, ''), [], known, FUNCTIONS_ARGUMENTS)
      t.strictSame(result.unread, [], `${f.name}: every table name read (${inner.slice(0, 80)})`)
      t.strictSame(result.unconstrained.map((r) => `${r.name} ${r.alias}`), [], `${f.name}: ${inner.slice(0, 100)}… constrains ${declared.tenantArgument}`)
    }
  }
  t.strictSame(Object.keys(FUNCTIONS).filter((name) => !functions.some((f) => f.name === name)), [], 'every function of FUNCTIONS exists')
  t.strictSame(Object.keys(PARTITION_FUNCTIONS).filter((name) => !functions.some((f) => f.name === name)), [], 'every function of PARTITION_FUNCTIONS exists')

  h.resetQueries()
  const started = Date.now()
  const visits = await tour(t, h, known)
  t.comment(`${h.kind}: the tour made ${visits.length} requests and ran ${h.statements.length} statements in ${Date.now() - started} ms`)

  // Every route of the OpenAPI document was toured.
  const document = (h.app as unknown as { swagger: () => { paths: Record<string, Record<string, unknown>> } }).swagger()
  const templates = Object.entries(document.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`))
  const toured = new Set(visits.map((v) => routeOf(templates, v.method, v.url)))
  t.strictSame(templates.filter((route) => !toured.has(route) && NOT_TOURED[route] === undefined), [], 'the tour requested every route of the OpenAPI document')

  // Each statement.
  const seen = new Map<Rule, number>()
  const gaps = new Map<Rule, string[]>()
  const failures = new Map<string, { count: number, parameters: readonly unknown[] }>()
  const fail = (what: string, parameters: readonly unknown[]): void => {
    const found = failures.get(what)
    if (found === undefined) failures.set(what, { count: 1, parameters })
    else found.count++
  }
  const distinct = new Map<string, { sql: string, parameters: readonly unknown[] }>()
  for (const s of h.statements) distinct.set(`${s.sql}\u0000${JSON.stringify(s.parameters, (_k, v: unknown) => typeof v === 'bigint' ? String(v) : v)}`, s)
  let checked = 0
  for (const statement of distinct.values()) {
    const text = normalize(statement.sql)
    let result: Analysis
    try {
      result = analyze(statement.sql, statement.parameters, known)
    } catch (error) {
      fail(`cannot read: ${String(error)}: ${text}`, statement.parameters)
      continue
    }
    const touches = result.refs.some((r) => r.kind === 'table' && TABLES[r.name] !== undefined && TABLES[r.name]!.scope !== 'global') || result.calls.length > 0
    if (!touches && result.unread.length === 0) continue
    checked++
    const exception = EXCEPTIONS.find((e) => e.match.test(text))
    if (exception !== undefined) { seen.set(exception, (seen.get(exception) ?? 0) + 1); continue }
    const problems = [
      ...result.unread.map((name) => `${name} appears where the reader does not understand it`),
      ...result.unconstrained.map((r) => `${r.name}${r.alias === r.name ? '' : ` ${r.alias}`} is not constrained by ${scopeColumn(r.name)!}`),
      ...result.calls.filter((c) => !c.ok).map((c) => `${c.name} is not called with a tenant`)
    ]
    if (problems.length === 0) continue
    const gap = KNOWN_GAPS.find((g) => g.match.test(text))
    if (gap !== undefined) { gaps.set(gap, [...new Set([...(gaps.get(gap) ?? []), `${problems.join('; ')}: ${text}`])]); continue }
    fail(`${problems.join('; ')}\n    ${text}`, statement.parameters)
  }
  t.comment(`${h.kind}: ${distinct.size} distinct statements, ${checked} touch tenant-scoped tables`)
  t.strictSame([...failures].map(([what, { count, parameters }]) => `${what}\n    (${count} time${count === 1 ? '' : 's'}, e.g. with ${JSON.stringify(parameters).slice(0, 200)})`), [],
    'every statement that touches a tenant-scoped table constrains the tenant')
  for (const exception of EXCEPTIONS.filter((e) => e.optional === undefined)) t.ok(seen.has(exception), `exception "${exception.name}" (${exception.where}) is still in use`)
  for (const gap of KNOWN_GAPS) {
    await t.test(`${gap.where}: ${gap.name}`, { todo: gap.reason }, async (tt) => {
      tt.strictSame(gaps.get(gap) ?? [], [], 'names the tenant')
    })
  }
}, { webhooks: true, webhookAllowedHosts: '127.0.0.1', webhookOptions: { pollMs: 25, retryDelaysMs: [], timeoutMs: 2000 } })

// The reader itself: each rule, on statements written to break it.
t.test('the statement reader catches what it must', async (t) => {
  const known: Known = { tenant: new Set(TENANTS), webhook_id: new Set(['wh_1']) }
  const bad = (text: string, parameters: unknown[] = ['default']): string[] => {
    const r = analyze(text, parameters, known)
    return [...r.unconstrained.map((x) => `${x.name} ${x.alias}`), ...r.unread]
  }
  t.strictSame(bad('select * from versions where tenant = $1'), [], 'a bare tenant predicate')
  t.strictSame(bad('select * from "versions" where "tenant" = $1 and "type" = $2', ['default', 'x']), [], 'quoted (Kysely)')
  t.strictSame(bad('select * from versions v where v.tenant = any($1::text[])', [['default', 'acme']]), [], '= any of tour tenants')
  t.strictSame(bad('select * from versions v where v.tenant = any($1::text[])', [['default', 'other']]), ['versions v'], '= any with a stranger')
  t.strictSame(bad('select * from versions where tenant = $1', ['nobody']), ['versions versions'], 'a parameter that is not a tenant')
  t.strictSame(bad('select * from versions where type = $1', ['default']), ['versions versions'], 'no tenant predicate')
  t.strictSame(bad('select * from versions where tenant = $1 or type = $2', ['default', 'x']), ['versions versions'], 'under OR')
  t.strictSame(bad('select * from versions where (tenant = $1 or true)'), ['versions versions'], 'under OR in parentheses')
  t.strictSame(bad('select * from versions where type = $2 and (tenant = $1 and seq > 0)', ['default', 'x']), [], 'in a parenthesised conjunction')
  t.strictSame(bad('select (tenant = $1) as mine from versions'), ['versions versions'], 'in a select list')
  t.strictSame(bad('select * from versions v join transactions t on t.id = v.transaction_id where v.tenant = $1'), ['transactions t'], 'a join without tenant')
  t.strictSame(bad('select * from versions v join transactions t on t.id = v.transaction_id and t.tenant = v.tenant where v.tenant = $1'), [], 'a join on tenant')
  t.strictSame(bad('select * from versions v join transactions t on t.tenant = v.tenant'), ['versions v', 'transactions t'], 'a join on tenant, neither bound')
  t.strictSame(bad('select * from versions v, transactions t where t.tenant = $1'), ['versions v'], 'a comma join')
  t.strictSame(bad('select * from versions v left join transactions t on t.tenant = $1 and t.id = v.transaction_id'), ['versions v'], 'a left join\'s on clause filters the joined table')
  t.strictSame(bad('select * from transactions t left join versions v on v.tenant = t.tenant and t.tenant = $1'), ['transactions t', 'versions v'], 'not the table on its left')
  t.strictSame(bad('select * from transactions t right join versions v on v.tenant = $1 and t.tenant = $1'), ['transactions t', 'versions v'], 'a right join\'s on clause filters neither')
  t.strictSame(bad('select * from versions v where v.tenant = $1 and exists (select 1 from versions n where n.type = v.type)'), ['versions n'], 'a second reference of the same table')
  t.strictSame(bad('select * from versions v where v.tenant = $1 and exists (select 1 from versions n where n.tenant = v.tenant)'), [], 'a correlated subquery on tenant')
  t.strictSame(bad('select * from transactions t where exists (select 1 from versions v where v.tenant = t.tenant and v.tenant = $1)'), ['transactions t'], 'a subquery does not constrain the outer query')
  t.strictSame(bad('select * from unnest($2::text[]) e(k) cross join lateral (select * from versions v where v.tenant = $1 and v.entity_key = e.k) v join transactions t on t.tenant = v.tenant and t.id = v.transaction_id', ['default', ['1']]), [], 'through a lateral derived table')
  t.strictSame(bad('select * from (select type from versions where tenant = $1) v join transactions t on t.tenant = v.tenant'), ['transactions t'], 'a derived table without the tenant column')
  t.strictSame(bad('insert into versions (tenant, type) values ($1, $2)', ['default', 'x']), [], 'an insert of a tenant')
  t.strictSame(bad('insert into versions (type, tenant) values ($1, $2)', ['default', 'x']), ['versions versions'], 'an insert of a non-tenant value')
  t.strictSame(bad('insert into versions (type) values ($1)'), ['versions versions'], 'an insert without tenant')
  t.strictSame(bad('insert into checkpoint_heads (tenant, type) select distinct on (type) tenant, type from versions where tenant = $1'), [], 'insert … select of a constrained tenant')
  t.strictSame(bad('insert into checkpoint_heads (tenant, type) select tenant, type from versions'), ['checkpoint_heads checkpoint_heads', 'versions versions'], 'insert … select of anyone\'s')
  t.strictSame(bad('update webhooks set position = $2 where id = $1', ['wh_1', 'x']), ['webhooks webhooks'], 'an update by id alone')
  t.strictSame(bad('delete from legal_holds where tenant = $1 and id = $2', ['default', 'h']), [], 'a delete by tenant')
  t.strictSame(bad('select * from webhook_deliveries where webhook_id = $1', ['wh_1']), [], 'deliveries by their webhook')
  t.strictSame(bad('select * from webhook_deliveries where id = $1', ['msg']), ['webhook_deliveries webhook_deliveries'], 'a delivery by its id alone')
  t.strictSame(bad('select * from webhook_deliveries d join webhooks w on w.id = d.webhook_id where w.tenant = $1'), [], 'deliveries joined to a tenant\'s webhooks')
  t.strictSame(bad('select * from webhook_deliveries d join webhooks w on w.id = d.webhook_id'), ['webhook_deliveries d', 'webhooks w'], 'deliveries of every webhook')
  t.strictSame(bad('with x as (select * from versions) select * from x'), ['versions versions'], 'inside a CTE')
  t.strictSame(bad('select * from "versions" as "v" where "v"."tenant" = $1'), [], 'quoted alias')
  t.strictSame(bad('select 1 where exists (select 1 from pg_class) and versions.x = 1'), [], 'a qualifier is not a reference')
  t.strictSame(analyze('select * from only versions, lateral versions v where v.tenant = $1', ['default'], known).unconstrained.map((r) => r.alias), ['versions'], 'only / lateral')
  FUNCTIONS_SIGNATURES.set('rewind_prune', 0)
  t.strictSame(analyze('select rewind_prune($1, $2, $3, $4)', ['default', 'a', 'b', 1], known).calls, [{ name: 'rewind_prune', ok: true }], 'a function called with the tenant')
  t.strictSame(analyze('select rewind_prune($2, $1, $3, $4)', ['default', 'a', 'b', 1], known).calls, [{ name: 'rewind_prune', ok: false }], 'a function called with something else')
  FUNCTIONS_SIGNATURES.delete('rewind_prune')
})
