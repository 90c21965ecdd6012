import { writeFileSync } from 'node:fs'
import { openApiDocument } from '../src/http/openapi-document.js'
import { CLIENT_SCHEMA_FILE, clientSchema } from './client-schema.js'

// `npm run openapi`: writes the OpenAPI document the routes produce to openapi/openapi.json,
// then the typed client's schema generated from it to clients/typescript/src/schema.ts.
const target = new URL('../openapi/openapi.json', import.meta.url)
const document = await openApiDocument()
writeFileSync(target, document)
console.log(`wrote ${target.pathname}`)
writeFileSync(CLIENT_SCHEMA_FILE, await clientSchema(document))
console.log(`wrote ${CLIENT_SCHEMA_FILE.pathname}`)
