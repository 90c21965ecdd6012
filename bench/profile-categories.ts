import { parentsOf, type CallFrame, type CpuProfile, type Sample } from './cpu-profile.js'

/*
 * Where the service's CPU goes, by kind of work, from a CPU profile's call frames (their
 * script URL and function name). A sample's *self* category is that of the innermost frame
 * of its stack that has one: Node's internals (node:net, streams, timers, crypto, promise
 * jobs) and V8's builtins (url '') have none of their own and count for their caller, so a
 * socket write made by the pg driver is the driver's, a SHA-256 made for a version hash is
 * integrity's. A sample's *total* categories are those of every frame of its stack.
 */

export type Category =
  | 'http' | 'plugins' | 'validation' | 'jsonParse' | 'domain' | 'integrity' | 'jsonEncode'
  | 'kysely' | 'pg' | 'service' | 'metricsLogging' | 'otherLibraries' | 'nodeOther' | 'program' | 'gc' | 'idle'

export const CATEGORY_LABELS: Record<Category, string> = {
  http: 'HTTP parsing and fastify routing (node:http, fastify, find-my-way)',
  plugins: 'fastify plugins (helmet, rate-limit, under-pressure)',
  validation: 'request validation (ajv, its compiled validators)',
  jsonParse: 'JSON parsing (the body; jsonb read back)',
  domain: 'unit of work / domain (src/versioning)',
  integrity: 'hashing and integrity (src/integrity, SHA-256)',
  jsonEncode: 'JSON encoding (JSON.stringify, toJsonText, canonicalize, the reply serializer)',
  kysely: 'Kysely (building and compiling SQL)',
  pg: 'pg driver (encoding, decoding, socket writes)',
  service: 'service, store and auth code (src/services, src/store, src/http, src/access)',
  metricsLogging: 'metrics and logging (prom-client, pino)',
  otherLibraries: 'other libraries',
  nodeOther: 'Node internals not called from any of the above (event loop, promise jobs, socket reads)',
  program: '(program): native code outside JavaScript (libuv, syscalls, V8 runtime)',
  gc: 'garbage collection',
  idle: 'idle (waiting for I/O)'
}

const PG_PACKAGES = /\/node_modules\/(pg|pg-protocol|pg-types|pg-pool|pg-int8|pgpass|pg-connection-string|postgres-array|postgres-date|postgres-bytea|postgres-interval)\//
const HTTP_PACKAGES = /\/node_modules\/(fastify|find-my-way|avvio|fastq|toad-cache|light-my-request|process-warning|abstract-logging|rfdc|fast-querystring|ret|safe-regex2|@fastify\/(error|proxy-addr|forwarded|merge-json-schemas))\//
const PLUGIN_PACKAGES = /\/node_modules\/(@fastify\/(helmet|rate-limit|under-pressure|swagger|swagger-ui|static)|helmet|fastify-plugin)\//
const VALIDATION_PACKAGES = /\/node_modules\/(ajv|ajv-formats|fast-uri|@fastify\/ajv-compiler)\//
const ENCODE_PACKAGES = /\/node_modules\/(fast-json-stringify|@fastify\/fast-json-stringify-compiler|canonicalize)\//
const PARSE_PACKAGES = /\/node_modules\/(lossless-json|secure-json-parse)\//
const METRICS_PACKAGES = /\/node_modules\/(prom-client|pino|pino-std-serializers|sonic-boom|thread-stream|bintrees|tdigest)\//

/** The category of one call frame, or undefined when it only works for its caller (Node internals, V8 builtins). */
export function frameCategory (frame: CallFrame): Category | undefined {
  const { functionName: fn, url } = frame
  if (fn === '(idle)') return 'idle'
  if (fn === '(garbage collector)') return 'gc'
  if (fn === '(program)') return 'program'
  if (fn === '(root)') return undefined
  if (url === '') {
    if (fn === 'stringify') return 'jsonEncode' // JSON.stringify
    if (fn === 'parse') return 'jsonParse' // JSON.parse
    if (/^validate\d*$/.test(fn)) return 'validation' // ajv's compiled validators (new Function: no script url)
    return undefined
  }
  if (url.startsWith('node:')) return /^node:_?http/.test(url) ? 'http' : undefined
  if (url.includes('/node_modules/')) {
    if (PG_PACKAGES.test(url)) return 'pg'
    if (/\/node_modules\/kysely\//.test(url)) return 'kysely'
    if (VALIDATION_PACKAGES.test(url) || /\/node_modules\/fastify\/lib\/validation\.js$/.test(url)) return 'validation'
    if (ENCODE_PACKAGES.test(url) || (/\/node_modules\/fastify\//.test(url) && /^serialize/i.test(fn))) return 'jsonEncode'
    if (PARSE_PACKAGES.test(url)) return 'jsonParse'
    if (PLUGIN_PACKAGES.test(url)) return 'plugins'
    if (HTTP_PACKAGES.test(url)) return 'http'
    if (METRICS_PACKAGES.test(url)) return 'metricsLogging'
    return 'otherLibraries'
  }
  const src = /\/(src)\/(.*)$/.exec(url)?.[2]
  if (src === undefined) return 'otherLibraries'
  if (src === 'http/json-body.ts') return 'jsonParse'
  if (src === 'versioning/json.ts') {
    if (/^(parseJson|jsonTextDepth|hasNonFiniteNumber)$/.test(fn)) return 'jsonParse'
    if (/^(toJsonText|unmarkExactIntegers)$/.test(fn)) return 'jsonEncode'
    return 'domain'
  }
  if (src === 'integrity/canonical.ts' && /^(canonicalJson|canonicalValue|canonicalString|canonicalStringMap|expandExponent)$/.test(fn)) return 'jsonEncode'
  if (src.startsWith('integrity/')) return 'integrity'
  if (src.startsWith('versioning/')) return 'domain'
  if (src.startsWith('http/validation')) return 'validation'
  if (src.startsWith('metrics/')) return 'metricsLogging'
  return 'service'
}

export interface CategoryTime {
  category: Category
  label: string
  /** µs of samples whose innermost categorized frame is of this category. */
  selfMicros: number
  /** µs of samples with a frame of this category anywhere in their stack. */
  totalMicros: number
}

export interface FunctionTime { functionName: string, location: string, category: Category, selfMicros: number }

export interface Breakdown {
  /** µs of every sample (idle included): the length of the window. */
  sampledMicros: number
  /** µs of samples other than (idle): the main thread's CPU. */
  busyMicros: number
  samples: number
  categories: CategoryTime[]
  /** The functions with the most self time (the frame a sample hit), by the category they counted for (a native function serves several). */
  topFunctions: FunctionTime[]
}

/** Where a frame is: its script (the service's own from src/; tsx's line numbers are the transpiled code's, so none for .ts) and line. */
const location = (f: CallFrame): string => f.url === ''
  ? '(native)'
  : `${f.url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/')}${f.url.endsWith('.ts') ? '' : `:${f.lineNumber + 1}`}`

/** Self and total time by category of `samples` (of `profile`), and the `top` functions by self time. */
export function breakdown (profile: CpuProfile, samples: readonly Sample[], top = 30): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parents = parentsOf(profile)
  // Per node: its own category (or none), then the category its samples count for, and every category on its path.
  const own = new Map(profile.nodes.map((n) => [n.id, frameCategory(n.callFrame)]))
  const selfOf = new Map<number, Category>()
  const pathOf = new Map<number, Set<Category>>()
  const resolve = (id: number): void => {
    if (selfOf.has(id)) return
    const chain: number[] = []
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) chain.push(at)
    const self = chain.map((n) => own.get(n)).find((c) => c !== undefined) ?? 'nodeOther'
    const categories = new Set<Category>(chain.map((n) => own.get(n)).filter((c): c is Category => c !== undefined))
    categories.add(self)
    selfOf.set(id, self)
    pathOf.set(id, categories)
  }
  const times = new Map<Category, { self: number, total: number }>()
  const functions = new Map<string, FunctionTime>()
  let sampledMicros = 0
  let busyMicros = 0
  for (const s of samples) {
    resolve(s.node)
    const self = selfOf.get(s.node)!
    sampledMicros += s.micros
    if (self !== 'idle') busyMicros += s.micros
    const entry = times.get(self) ?? { self: 0, total: 0 }
    entry.self += s.micros
    times.set(self, entry)
    for (const c of pathOf.get(s.node)!) {
      if (c === self) { entry.total += s.micros; continue }
      const other = times.get(c) ?? { self: 0, total: 0 }
      other.total += s.micros
      times.set(c, other)
    }
    const frame = byId.get(s.node)!.callFrame
    const key = `${frame.functionName}@${frame.url}:${frame.lineNumber}@${self}`
    const f = functions.get(key) ?? { functionName: frame.functionName === '' ? '(anonymous)' : frame.functionName, location: location(frame), category: self, selfMicros: 0 }
    f.selfMicros += s.micros
    functions.set(key, f)
  }
  const categories = (Object.keys(CATEGORY_LABELS) as Category[])
    .map((category) => ({ category, label: CATEGORY_LABELS[category], selfMicros: times.get(category)?.self ?? 0, totalMicros: times.get(category)?.total ?? 0 }))
  return {
    sampledMicros,
    busyMicros,
    samples: samples.length,
    categories,
    topFunctions: [...functions.values()].sort((a, b) => b.selfMicros - a.selfMicros).slice(0, top)
  }
}
