import { invalid } from './errors.js'

/** `meta.source` says where capture took a transaction from: no caller may claim it. */
export function checkMeta (meta: object | undefined): void {
  if (meta !== undefined && Object.hasOwn(meta, 'source')) throw invalid('meta.source is reserved for capture from PostgreSQL: use another member')
}
