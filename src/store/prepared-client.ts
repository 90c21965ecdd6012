import { createHash } from 'node:crypto'
import pg from 'pg'

/**
 * A `pg` client that runs parameterized statements as named prepared statements, so
 * PostgreSQL parses and plans each distinct statement once per connection instead of
 * on every call. Names come from the statement text, so the same text always maps to
 * the same name. Rewind's statements have a fixed text whatever the number of
 * entities (lists travel as array or JSON parameters), so each connection holds a
 * small, bounded set of them.
 */
export class PreparingClient extends pg.Client {
  override query (config: unknown, values?: unknown, callback?: unknown): any {
    const query = super.query as (...args: unknown[]) => unknown
    if (typeof callback === 'function' || typeof values === 'function' || isSubmittable(config)) return query.call(this, config, values, callback)
    const prepared = typeof config === 'string' && Array.isArray(values) && values.length > 0 ? { name: statementName(config), text: config, values } : undefined
    // Asked for a promise (as Kysely asks), the query still runs with a callback: pg's own
    // promise keeps each result alive past the young generation's next collection, so that
    // every read's rows were copied and promoted, and the collections that did it paused
    // the process for 10–30 ms (docs/profile.md, "Garbage collection, taken: reads no longer
    // promote their rows").
    return new Promise((resolve, reject) => {
      const done = (error: Error | null, result: unknown): void => { if (error === null || error === undefined) resolve(result); else reject(error) }
      if (prepared !== undefined) query.call(this, prepared, done)
      else query.call(this, config, values, done)
    })
  }
}

/** A query object of its own (a cursor, a stream): pg runs it as it is. */
const isSubmittable = (config: unknown): boolean =>
  typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function'

// Statement texts are a small, fixed set: name each once rather than hash it on every call.
const names = new Map<string, string>()
const MAX_NAMES = 10_000 // a bound, should texts ever vary (they do not)

function statementName (text: string): string {
  let name = names.get(text)
  if (name === undefined) {
    name = `rw_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`
    if (names.size >= MAX_NAMES) names.clear()
    names.set(text, name)
  }
  return name
}
