/**
 * Readable 400s: the errors ajv reports for one part of a request (body, querystring,
 * params, headers) as a `detail` sentence and a list of `{ field, message }`, each naming
 * the field (`body.changes[0].op`), the values it allows, or the unknown property (with
 * the closest known name). Needs ajv's `allErrors` and `verbose` (validation.ts): `verbose`
 * gives each error its schema, parent schema and value. A failed union (anyOf/oneOf) comes
 * after the errors of its branches (their schemaPath starts with the union's); they give
 * way to what the branch the value was meant for says: the allowed values of a union of
 * constants, the discriminating member (`kind`) of a union of objects told apart by one,
 * else the problems of the branch that fits the value's type.
 */

/** The members of an ajv error object (with `verbose: true`) that are read here. */
export interface AjvError {
  keyword: string, instancePath: string, schemaPath: string, params: Record<string, any>
  message?: string, schema?: unknown, parentSchema?: unknown, data?: unknown
}

export interface FieldProblem {
  /** A readable path: `body.changes[0].op`, `querystring.limit`, `params.type`. */
  field: string
  message: string
}

/** At most this many problems are listed in one answer. */
export const MAX_LISTED_PROBLEMS = 10
/** validation.ts passes at most this many ajv errors on (more are cut). */
export const MAX_VALIDATION_ERRORS = 200

interface Issue { path: string[], message: string }
/** An ajv error, or a failed union, with what it says. */
interface Item {
  keyword: string, instancePath: string, schemaPath: string, issues: Issue[]
  /** The value is not of a type (or constant) the schema allows at that very place. */
  mismatch: boolean
}

type Schema = Record<string, any>
const MISMATCH_KEYWORDS = new Set(['type', 'const', 'enum'])
const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/

/** The problems of one request part, deduplicated, in the order of the schema. */
export function fieldProblems (errors: readonly AjvError[], httpPart: string): FieldProblem[] {
  const seen = new Set<string>()
  const out: FieldProblem[] = []
  for (const item of collapse(errors)) {
    for (const issue of item.issues) {
      const problem = { field: fieldName(httpPart, issue.path), message: issue.message }
      const key = `${problem.field}\u0000${problem.message}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(problem)
    }
  }
  return out
}

/** The `detail` of the 400 and the problems it lists (at most MAX_LISTED_PROBLEMS). */
export function describeValidation (errors: readonly AjvError[], httpPart: string): { detail: string, errors: FieldProblem[] } {
  let all: FieldProblem[]
  try {
    all = fieldProblems(errors, httpPart)
  } catch {
    // Never a 500 for a bad request: ajv's own words, should an error have an unforeseen shape.
    all = errors.map((e) => ({ field: fieldName(httpPart, segments(String(e.instancePath ?? ''))), message: String(e.message ?? 'is not valid') }))
  }
  if (all.length === 0) return { detail: `${httpPart} is not valid`, errors: [] }
  const listed = all.slice(0, MAX_LISTED_PROBLEMS)
  let detail = listed.map((p) => `${p.field} ${p.message}`).join('; ')
  if (all.length > listed.length) {
    const rest = all.length - listed.length
    detail += errors.length >= MAX_VALIDATION_ERRORS ? '; and more' : `; and ${rest} more`
  }
  return { detail, errors: listed }
}

function collapse (errors: readonly AjvError[]): Item[] {
  let items: Item[] = []
  for (const error of errors) {
    if ((error.keyword === 'anyOf' || error.keyword === 'oneOf') && error.params.passingSchemas == null) {
      const prefix = `${error.schemaPath}/`
      const branches = new Map<number, Item[]>()
      items = items.filter((item) => {
        if (!item.schemaPath.startsWith(prefix) || !item.instancePath.startsWith(error.instancePath)) return true
        const index = Number.parseInt(item.schemaPath.slice(prefix.length), 10)
        branches.set(index, [...(branches.get(index) ?? []), item])
        return false
      })
      items.push(union(error, branches))
    } else {
      items.push(single(error))
    }
  }
  return items
}

function segments (instancePath: string): string[] {
  if (instancePath === '') return []
  return instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function fieldName (httpPart: string, path: readonly string[]): string {
  let name = httpPart
  for (const segment of path) {
    if (/^(0|[1-9]\d*)$/.test(segment)) name += `[${segment}]`
    else if (IDENTIFIER.test(segment)) name += `.${segment}`
    else name += `[${JSON.stringify(clip(segment))}]`
  }
  return name
}

const clip = (text: string, max = 60): string => text.length > max ? `${text.slice(0, max)}…` : text

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** ` (got …)`: the value that was sent, short. */
function got (value: unknown): string {
  if (value === undefined) return ''
  if (value === null) return ' (got null)'
  if (typeof value === 'string') return value.length <= 40 ? ` (got ${JSON.stringify(value)})` : ` (got a string of ${value.length} characters)`
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return ` (got ${String(value)})`
  return Array.isArray(value) ? ' (got an array)' : ' (got an object)'
}

/** A constant as listed in "must be one of …": strings bare, anything else as JSON. */
const literal = (value: unknown): string => typeof value === 'string' ? value : JSON.stringify(value)
const count = (n: unknown, noun: string): string => `${String(n)} ${noun}${n === 1 ? '' : 's'}`

const TYPE_NOUNS: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean', object: 'an object', array: 'an array', null: 'null'
}
const typeNouns = (type: unknown): string[] =>
  (Array.isArray(type) ? type : String(type).split(',')).map((t) => TYPE_NOUNS[String(t)] ?? String(t))

/** "a, b or c" */
function either (words: readonly string[]): string {
  const unique = [...new Set(words)]
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]!}`
}

/** The values of a union of constants (or enums), else undefined. */
function literalValues (alternatives: readonly unknown[]): unknown[] | undefined {
  const values: unknown[] = []
  for (const alternative of alternatives) {
    if (!isObject(alternative)) return undefined
    if ('const' in alternative) values.push(alternative.const)
    else if (Array.isArray(alternative.enum)) values.push(...alternative.enum)
    else return undefined
  }
  return values.length > 0 ? values : undefined
}

/** What a union allows, as words: "an integer or null", "one of a, b". */
function describeAlternatives (alternatives: readonly unknown[]): string {
  const words: string[] = []
  for (const alternative of alternatives) {
    if (!isObject(alternative)) continue
    if ('const' in alternative) words.push(JSON.stringify(alternative.const))
    else if (Array.isArray(alternative.enum)) words.push(...alternative.enum.map((v) => JSON.stringify(v)))
    else if (alternative.type !== undefined) words.push(...typeNouns(alternative.type))
    else if (Array.isArray(alternative.anyOf)) words.push(describeAlternatives(alternative.anyOf))
  }
  return words.length > 0 ? either(words) : 'of one of the allowed shapes'
}

/** The member that tells the objects of a union apart (each has it as a distinct constant). */
function discriminator (alternatives: readonly unknown[]): { key: string, values: unknown[] } | undefined {
  const first = alternatives[0]
  if (!isObject(first) || !isObject(first.properties)) return undefined
  for (const key of Object.keys(first.properties)) {
    const values = alternatives.map((a) => isObject(a) && isObject(a.properties) && isObject(a.properties[key]) && 'const' in a.properties[key]
      ? a.properties[key].const
      : undefined)
    if (values.every((v) => v !== undefined) && new Set(values).size === values.length) return { key, values }
  }
  return undefined
}

function union (error: AjvError, branches: Map<number, Item[]>): Item {
  const path = segments(error.instancePath)
  const alternatives = Array.isArray(error.schema) ? error.schema as unknown[] : []
  const data = error.data
  const result = (issues: Issue[], mismatch = false): Item =>
    ({ keyword: error.keyword, instancePath: error.instancePath, schemaPath: error.schemaPath, issues, mismatch })

  const literals = literalValues(alternatives)
  if (literals !== undefined) return result([{ path, message: `must be one of ${literals.map(literal).join(', ')}${got(data)}` }], true)

  const tag = discriminator(alternatives)
  if (tag !== undefined && isObject(data)) {
    const allowed = tag.values.map(literal).join(', ')
    if (!Object.hasOwn(data, tag.key)) return result([{ path: [...path, tag.key], message: `is required (one of ${allowed})` }])
    const index = tag.values.findIndex((v) => v === data[tag.key])
    if (index < 0) return result([{ path: [...path, tag.key], message: `must be one of ${allowed}${got(data[tag.key])}` }])
    const chosen = branches.get(index)
    if (chosen !== undefined) return result(chosen.flatMap((item) => item.issues))
  }

  // The branches whose type the value has; of those, the one with the fewest problems.
  const fitting = [...branches.entries()]
    .filter(([, items]) => !items.some((item) => item.instancePath === error.instancePath && (item.mismatch || MISMATCH_KEYWORDS.has(item.keyword))))
    .map(([, items]) => items.flatMap((item) => item.issues))
    .sort((a, b) => a.length - b.length)
  if (fitting.length > 0 && fitting[0]!.length > 0) return result(fitting[0]!)
  return result([{ path, message: `must be ${describeAlternatives(alternatives)}${got(data)}` }], true)
}

function single (error: AjvError): Item {
  const path = segments(error.instancePath)
  const parent = isObject(error.parentSchema) ? error.parentSchema as Schema : {}
  const issue = (message: string, at = path): Item => ({
    keyword: error.keyword, instancePath: error.instancePath, schemaPath: error.schemaPath, issues: [{ path: at, message }], mismatch: false
  })
  const { params, data } = error
  switch (error.keyword) {
    case 'required': return issue('is required', [...path, String(params.missingProperty)])
    case 'additionalProperties': return issue(unknownProperty(String(params.additionalProperty), parent))
    case 'type': return issue(`must be ${either(typeNouns(params.type))}${got(data)}`)
    case 'const': return issue(`must be ${JSON.stringify(params.allowedValue)}${got(data)}`)
    case 'enum': return issue(`must be one of ${(params.allowedValues as unknown[]).map(literal).join(', ')}${got(data)}`)
    case 'minimum': case 'maximum': return issue(`${range(parent, error.keyword, params.limit)}${got(data)}`)
    case 'exclusiveMinimum': return issue(`must be greater than ${String(params.limit)}${got(data)}`)
    case 'exclusiveMaximum': return issue(`must be less than ${String(params.limit)}${got(data)}`)
    case 'multipleOf': return issue(`must be a multiple of ${String(params.multipleOf)}${got(data)}`)
    case 'minLength': return issue(params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long${got(data)}`)
    case 'maxLength': return issue(`must be at most ${String(params.limit)} characters long${got(data)}`)
    case 'minItems': return issue(`must have at least ${count(params.limit, 'item')}`)
    case 'maxItems': return issue(`must have at most ${count(params.limit, 'item')}${Array.isArray(data) ? ` (got ${data.length})` : ''}`)
    case 'minProperties': return issue(`must have at least ${count(params.limit, 'member')}`)
    case 'maxProperties': return issue(`must have at most ${count(params.limit, 'member')}`)
    case 'uniqueItems': return issue(`must not hold the same item twice (items ${String(params.j)} and ${String(params.i)} are equal)`)
    case 'pattern': return issue(`must match ${String(params.pattern)}${got(data)}`)
    case 'format': return issue(`${format(String(params.format))}${got(data)}`)
    default: return issue(error.message ?? 'is not valid')
  }
}

/** "must be between 1 and 1000", or one bound when the schema has only one (or a huge one). */
function range (parent: Schema, keyword: string, limit: unknown): string {
  const { minimum, maximum } = parent
  if (typeof minimum === 'number' && typeof maximum === 'number' && maximum < Number.MAX_SAFE_INTEGER) return `must be between ${minimum} and ${maximum}`
  return `must be at ${keyword === 'minimum' ? 'least' : 'most'} ${String(limit)}`
}

function format (name: string): string {
  if (name === 'date-time') return 'must be a date-time with a time zone, such as 2024-01-31T09:30:00Z'
  if (name === 'date') return 'must be a date such as 2024-01-31'
  return `must be a valid ${name}`
}

function unknownProperty (name: string, parent: Schema): string {
  const quoted = JSON.stringify(clip(name))
  const known = isObject(parent.properties) ? Object.keys(parent.properties) : []
  const patterns = isObject(parent.patternProperties) ? Object.keys(parent.patternProperties) : []
  if (known.length === 0 && patterns.length > 0) return `has a property ${quoted} whose name does not match ${patterns.join(' or ')}`
  const suggestion = closest(name, known)
  if (suggestion !== undefined) return `has an unknown property ${quoted}; did you mean ${JSON.stringify(suggestion)}?`
  if (known.length > 0 && known.length <= 12) return `has an unknown property ${quoted} (known properties: ${known.join(', ')})`
  return `has an unknown property ${quoted}`
}

/** The known name an unknown one is most likely a typo of, when one is an obvious match. */
export function closest (name: string, known: readonly string[]): string | undefined {
  if (name.length > 64) return undefined
  const normal = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '')
  const same = known.filter((k) => normal(k) === normal(name))
  if (same.length === 1) return same[0]
  const budget = Math.max(1, Math.min(2, Math.floor(name.length / 4)))
  let best: string | undefined
  let bestDistance = Infinity
  let tie = false
  for (const candidate of known) {
    const d = distance(normal(name), normal(candidate))
    if (d < bestDistance) { best = candidate; bestDistance = d; tie = false } else if (d === bestDistance) tie = true
  }
  return best !== undefined && bestDistance <= budget && !tie ? best : undefined
}

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
function distance (a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = d
    }
  }
  return rows[a.length]![b.length]!
}
