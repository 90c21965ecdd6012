import { randomUUID } from 'node:crypto'
import { createRewindClient, type Problem } from '../src/index.js'

const rewind = createRewindClient({
  baseUrl: process.env.REWIND_URL ?? 'http://localhost:3000',
  key: process.env.REWIND_KEY ?? '' // e.g. REWIND_KEY=$(cat data/admin-key)
})

/** The body of a 2xx answer; a 4xx or 5xx answer (its RFC 9457 problem) is thrown. */
function ok<T> ({ data, error, response }: { data?: T, error?: Problem, response: Response }): T {
  if (error !== undefined) throw new Error(`${error.status} ${error.title}: ${error.detail}`)
  if (data === undefined) throw new Error(`${response.status}: no body`)
  return data
}

// Register a versioned type (201 the first time, 200 when unchanged).
const articleType = ok(await rewind.PUT('/entity-types/{type}', {
  params: { path: { type: 'article' } },
  body: { idFields: ['id'] }
}))
console.log(`type ${articleType.type}, revision ${articleType.revision}`)

// Record the changes of two of the backend's transactions: an insert, then an update.
const id = randomUUID()
const created = ok(await rewind.POST('/transactions', {
  body: { actor: 'user-42', changes: [{ type: 'article', op: 'insert', data: { id, title: 'Draft', body: 'Hello' } }] }
}))
const first = created.transaction?.id
if (first === undefined) throw new Error('the insert recorded no transaction')
ok(await rewind.POST('/transactions', {
  body: { actor: 'user-42', changes: [{ type: 'article', op: 'update', id, data: { title: 'Published' } }] }
}))

// List the article's versions, oldest first, with what each transaction changed.
const versions = ok(await rewind.GET('/entities/{type}/{id}/versions', {
  params: { path: { type: 'article', id }, query: { order: 'asc' } }
}))
for (const version of versions.items) {
  console.log(`transaction ${version.transactionId}: ${version.operation}`, version.changeset)
}

// Revert it to its first version: the revert is recorded too, and `changes` is what the
// backend applies to its own database.
const reverted = ok(await rewind.POST('/entities/{type}/{id}/revert', {
  params: { path: { type: 'article', id } },
  body: { to: first, actor: 'admin' }
}))
console.log(`revert recorded as transaction ${reverted.transaction?.id}; apply:`, reverted.changes)
