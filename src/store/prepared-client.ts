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
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && typeof callback !== 'function') {
      return super.query({ name: statementName(config), text: config, values })
    }
    return (super.query as (...args: unknown[]) => unknown)(config, values, callback)
  }
}

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
