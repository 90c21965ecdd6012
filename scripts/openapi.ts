import { writeFileSync } from 'node:fs'
import { openApiDocument } from '../src/http/openapi-document.js'

// `npm run openapi`: writes the OpenAPI document the routes produce to openapi/openapi.json.
const target = new URL('../openapi/openapi.json', import.meta.url)
writeFileSync(target, await openApiDocument())
console.log(`wrote ${target.pathname}`)
