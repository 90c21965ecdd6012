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
      const name = `rw_${createHash('sha1').update(config).digest('hex').slice(0, 20)}`
      return super.query({ name, text: config, values })
    }
    return (super.query as (...args: unknown[]) => unknown)(config, values, callback)
  }
}
