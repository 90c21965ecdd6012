import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createRewindClient, type Problem, type Version } from '../clients/typescript/src/index.js'
import { CLIENT_SCHEMA_FILE, clientSchema } from '../scripts/client-schema.js'
import { eachDatabase, type Harness } from './helpers/harness.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const EXAMPLE = fileURLToPath(new URL('../clients/typescript/examples/quickstart.ts', import.meta.url))
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const HASH = /^[0-9a-f]{64}$/

t.test('clients/typescript/src/schema.ts is what openapi/openapi.json generates (run `npm run openapi`)', async (t) => {
  const document = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  t.equal(await clientSchema(document), readFileSync(CLIENT_SCHEMA_FILE, 'utf8'))
})

t.test('the README example is examples/quickstart.ts, word for word', async (t) => {
  const readme = readFileSync(new URL('../clients/typescript/README.md', import.meta.url), 'utf8')
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1])
  t.strictSame(blocks, [readFileSync(EXAMPLE, 'utf8')])
})

/** The service of `h` listening on a port of 127.0.0.1 (closed with the app), and its URL. */
async function serve (h: Harness): Promise<string> {
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
}

eachDatabase('the typed client against a running service: register, record, list versions, revert', async (t, h) => {
  const rewind = createRewindClient({ baseUrl: await serve(h), key: h.adminKey })

  const registered = await rewind.PUT('/entity-types/{type}', { params: { path: { type: 'article' } }, body: {} })
  t.equal(registered.response.status, 201)
  t.equal(registered.error, undefined)
  const { createdAt, updatedAt, ...type } = registered.data!
  t.strictSame(type, { type: 'article', revision: 1, definition: { idFields: ['id'], exclude: [], relations: {} } })
  t.match(createdAt, ISO_TIME)
  t.equal(updatedAt, createdAt)

  const inserted = await rewind.POST('/transactions', {
    body: { actor: 'user-1', changes: [{ type: 'article', op: 'insert', data: { id: 1, name: 'Initial Name', content: 'Initial Content' } }] }
  })
  t.equal(inserted.response.status, 201)
  t.equal(inserted.error, undefined)
  const first = inserted.data!.transaction!
  t.strictSame(first, {
    id: first.id,
    issuedAt: first.issuedAt,
    recordedAt: first.recordedAt,
    actor: 'user-1',
    meta: {},
    recordedBy: { keyId: first.recordedBy!.keyId, keyName: 'bootstrap admin' }
  })
  t.ok(Number.isInteger(first.id) && first.id > 0, 'a transaction id')
  t.match(first.issuedAt, ISO_TIME)
  t.match(first.recordedBy!.keyId, /^key_/)
  const insertVersion: Version = {
    type: 'article',
    id: '1',
    transactionId: first.id,
    endTransactionId: null,
    operation: 'insert',
    index: 0,
    data: { id: 1, name: 'Initial Name', content: 'Initial Content' },
    changeset: { id: [null, 1], name: [null, 'Initial Name'], content: [null, 'Initial Content'] },
    hash: inserted.data!.versions[0]!.hash
  }
  t.strictSame(inserted.data!.versions, [insertVersion])
  t.match(insertVersion.hash, HASH)

  const updated = await rewind.POST('/transactions', {
    body: { actor: 'user-1', changes: [{ type: 'article', op: 'update', id: '1', data: { name: 'Updated Name' } }] }
  })
  t.equal(updated.response.status, 201)
  const second = updated.data!.transaction!.id
  t.ok(second > first.id, 'transaction ids increase')

  const listed = await rewind.GET('/entities/{type}/{id}/versions', { params: { path: { type: 'article', id: '1' } } })
  t.equal(listed.response.status, 200)
  t.equal(listed.error, undefined)
  const updateVersion = listed.data!.items[1]!
  t.match(updateVersion.hash, HASH)
  t.strictSame(listed.data, {
    items: [
      { ...insertVersion, endTransactionId: second },
      {
        type: 'article',
        id: '1',
        transactionId: second,
        endTransactionId: null,
        operation: 'update',
        index: 1,
        data: { id: 1, name: 'Updated Name', content: 'Initial Content' },
        changeset: { name: ['Initial Name', 'Updated Name'] },
        hash: updateVersion.hash
      }
    ],
    nextCursor: null
  })

  const newestFirst = await rewind.GET('/entities/{type}/{id}/versions', { params: { path: { type: 'article', id: '1' }, query: { order: 'desc', limit: 1 } } })
  t.equal(newestFirst.response.status, 200)
  t.strictSame(newestFirst.data!.items.map((v) => v.transactionId), [second], 'query parameters are sent')
  t.type(newestFirst.data!.nextCursor, 'string')

  const reverted = await rewind.POST('/entities/{type}/{id}/revert', {
    params: { path: { type: 'article', id: '1' } },
    body: { to: first.id, actor: 'admin' }
  })
  t.equal(reverted.response.status, 201)
  t.equal(reverted.error, undefined)
  const revert = reverted.data!
  t.strictSame(revert.changes, [{ type: 'article', op: 'update', id: '1', data: { name: 'Initial Name' } }])
  t.strictSame(revert.transaction, {
    id: revert.transaction!.id,
    issuedAt: revert.transaction!.issuedAt,
    recordedAt: revert.transaction!.recordedAt,
    actor: 'admin',
    meta: {},
    recordedBy: { keyId: first.recordedBy!.keyId, keyName: 'bootstrap admin' },
    revertOf: { type: 'article', id: '1', to: first.id }
  })
  t.ok(revert.transaction!.id > second, 'the revert is a new transaction')
  t.strictSame(revert.versions, [{
    type: 'article',
    id: '1',
    transactionId: revert.transaction!.id,
    endTransactionId: null,
    operation: 'update',
    index: 2,
    data: { id: 1, name: 'Initial Name', content: 'Initial Content' },
    changeset: { name: ['Updated Name', 'Initial Name'] },
    hash: revert.versions[0]!.hash
  }])

  const state = await rewind.GET('/entities/{type}/{id}', { params: { path: { type: 'article', id: '1' } } })
  t.equal(state.response.status, 200)
  t.strictSame(state.data, { type: 'article', id: '1', data: { id: 1, name: 'Initial Name', content: 'Initial Content' }, transactionId: revert.transaction!.id })
})

eachDatabase('the typed client: a 4xx answer is `error` with the problem body', async (t, h) => {
  const baseUrl = await serve(h)
  const rewind = createRewindClient({ baseUrl, key: h.adminKey })

  const missing = await rewind.GET('/entities/{type}/{id}/versions', { params: { path: { type: 'article', id: '1' } } })
  t.equal(missing.response.status, 404)
  t.equal(missing.data, undefined)
  t.equal(missing.response.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  const notFound: Problem | undefined = missing.error
  t.strictSame(notFound, {
    type: 'urn:rewind:problem/not-found',
    title: 'Not Found',
    status: 404,
    detail: notFound?.detail,
    instance: '/entities/article/1/versions'
  })
  t.type(notFound?.detail, 'string')

  const invalid = await rewind.POST('/transactions', { body: { changes: [{ type: 'article', op: 'insert', data: { id: 1 } }] } })
  t.equal(invalid.response.status, 404, 'an unregistered type')
  t.equal(invalid.data, undefined)
  t.equal(invalid.error?.status, 404)
  t.equal(await h.count('transactions'), 0, 'nothing recorded')

  const stranger = createRewindClient({ baseUrl, key: 'rwd_not-a-key' })
  const refused = await stranger.GET('/entity-types')
  t.equal(refused.response.status, 401)
  t.equal(refused.data, undefined)
  t.strictSame(refused.error, {
    type: 'urn:rewind:problem/unauthorized',
    title: 'Unauthorized',
    status: 401,
    detail: refused.error?.detail,
    instance: '/entity-types'
  })
})

eachDatabase('clients/typescript/examples/quickstart.ts runs against a running service', async (t, h) => {
  const baseUrl = await serve(h)
  const { NODE_OPTIONS: _loaders, ...env } = process.env
  const { code, stdout, stderr } = await new Promise<{ code: number, stdout: string, stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', EXAMPLE], { cwd: ROOT, env: { ...env, REWIND_URL: baseUrl, REWIND_KEY: h.adminKey }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
  t.equal(code, 0, stderr)
  const id = /id: \[ null, '([0-9a-f-]{36})' \]/.exec(stdout)?.[1] ?? 'no id printed'
  t.equal(stdout.replaceAll(id, '<id>'), [
    'type article, revision 1',
    'transaction 1: insert {',
    "  id: [ null, '<id>' ],",
    "  body: [ null, 'Hello' ],",
    "  title: [ null, 'Draft' ]",
    '}',
    "transaction 2: update { title: [ 'Draft', 'Published' ] }",
    'revert recorded as transaction 3; apply: [',
    '  {',
    "    type: 'article',",
    "    op: 'update',",
    "    id: '<id>',",
    "    data: { title: 'Draft' }",
    '  }',
    ']',
    ''
  ].join('\n'))
  t.equal(await h.count('versions'), 3, 'insert, update and revert recorded')
})

// Compile-time checks (`npx tsc --noEmit -p .`): the client rejects what the document does not allow.
export function typeChecks (rewind: ReturnType<typeof createRewindClient>): void {
  // @ts-expect-error: no such path
  void rewind.GET('/entities/{type}/{id}/version', { params: { path: { type: 'article', id: '1' } } })
  // @ts-expect-error: a path parameter is missing
  void rewind.GET('/entities/{type}/{id}/versions', { params: { path: { type: 'article' } } })
  // @ts-expect-error: `to` is a transaction id (a number)
  void rewind.POST('/entities/{type}/{id}/revert', { params: { path: { type: 'article', id: '1' } }, body: { to: '1' } })
  // @ts-expect-error: an operation the document does not list
  void rewind.DELETE('/transactions')
}
