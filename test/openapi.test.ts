import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { openApiDocument } from '../src/http/openapi-document.js'

const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
// The contract lives in the team's shared folder, beside the repository.
const contractFile = new URL('../../shared/API.md', import.meta.url)

t.test('openapi/openapi.json is what the routes produce (run `npm run openapi` after changing a route)', async (t) => {
  t.equal(await openApiDocument(), committed)
})

t.test('the document is OpenAPI 3 and has every path of the contract', { skip: existsSync(contractFile) ? false : 'no ../shared/API.md beside the repository' }, async (t) => {
  const contract = readFileSync(contractFile, 'utf8')
  const doc = JSON.parse(committed)
  t.match(doc.openapi, /^3\./)
  const paths = [...contract.matchAll(/`(GET|PUT|POST|DELETE|PATCH) (\/[^ `?]*)/g)]
    .filter((m) => !m[2]!.startsWith('/docs'))
  t.ok(paths.length > 10, 'the contract names its paths')
  for (const [, method, path] of paths) {
    t.ok(doc.paths[path!]?.[method!.toLowerCase()], `${method} ${path} is documented`)
  }
})

t.test('every operation documents its responses and problem+json errors', async (t) => {
  const doc = JSON.parse(committed)
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    if (path.startsWith('/docs')) continue
    for (const [method, op] of Object.entries<any>(ops)) {
      const statuses = Object.keys(op.responses ?? {})
      t.ok(statuses.some((s) => s.startsWith('2')), `${method} ${path} has a success response`)
      for (const s of statuses.filter((s) => s.startsWith('4'))) {
        t.ok(op.responses[s].content?.['application/problem+json'], `${method} ${path} ${s} is problem+json`)
      }
    }
  }
})
