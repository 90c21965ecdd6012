import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui'

/** The options of @fastify/swagger (the OpenAPI document) and @fastify/swagger-ui (/docs). */

export const API_TITLE = 'Rewind'

const DESCRIPTION = [
  'Versioning and audit history as a service: SQLAlchemy-Continuum\'s model over HTTP.',
  'A backend registers its entity types, then posts the changes of each of its database transactions; Rewind records ' +
    'one version per changed entity. Every operation but the probes needs an API key: press "Authorize" and paste one ' +
    '(the first start writes an admin key to `./data/admin-key`). On a fresh database, "Try it out" with the examples in this order walks the ' +
    'quickstart: `PUT /entity-types/article`, `POST /transactions` (insert, then update), ' +
    '`GET /entities/article/1/versions`, `POST /entities/article/1/revert` (transaction 3), ' +
    '`POST /transactions/3/revert` (transaction 4). To look at the history rather than read JSON, open the viewer at ' +
    '[/ui](/ui) and sign in with the same key.',
  'Errors are `application/problem+json` (RFC 9457). A 400 for a request that does not match its schema names each ' +
    'field in `detail` and lists them in `errors`: `[{ "field": "body.changes[0].op", "message": "must be one of insert, update, delete" }]`.'
].join('\n\n')

/** The tags of the operations, in the order /docs shows them. */
export const TAGS = [
  {
    name: 'entity types',
    description: 'Register the entity types to version (`PUT /entity-types/{type}`): their id fields, the fields left out of ' +
      'versioning, and their relations (`manyToOne`, `oneToMany`, `manyToMany` through an association type). Every change of ' +
      'a definition is kept as a revision.'
  },
  {
    name: 'transactions',
    description: 'Record the changes of one database transaction of the backend (inserts, updates, deletes) as one transaction ' +
      'with its actor and metadata, then list and read transactions with the versions they created. ' +
      'An `Idempotency-Key` header makes a retry safe.'
  },
  {
    name: 'versions',
    description: 'An entity\'s history: its versions in transaction order, each with its changeset, its previous and next ' +
      'versions, and on request its relations as they were; the changeset between any two states.'
  },
  {
    name: 'entities',
    description: 'An entity\'s state: the current one, or as of any transaction (`?at=`), with its relations as they were.'
  },
  {
    name: 'revert',
    description: 'Bring an entity (with the named relations) back to an earlier state, or undo a whole transaction. A revert ' +
      'is recorded as a new transaction, and the answer lists the changes for the backend to apply to its own database.'
  },
  {
    name: 'access',
    description: 'API keys of the caller\'s tenant (scope `admin`). Every route but the probes and /docs needs ' +
      '`Authorization: Bearer <key>`; a key sees and writes its own tenant\'s history only.'
  },
  {
    name: 'integrity',
    description: 'Proving history: each version\'s hash chains to the one before; signed checkpoints (Ed25519) cover every ' +
      'entity\'s latest hash under a Merkle root; a proof shows one version is in a checkpoint; verification re-computes it all ' +
      'and finds tampering; the export carries everything `rewind verify` needs offline.'
  },
  {
    name: 'redaction and retention',
    description: 'Erasing personal data from every version without breaking the proofs (salted commitments), pruning old ' +
      'versions under a type\'s retention rule, and legal holds that stop pruning.'
  },
  {
    name: 'capture',
    description: 'Capture from PostgreSQL: a source database\'s changes recorded through logical replication (pgoutput), one ' +
      'Rewind transaction per source transaction, exactly once, with no application change.'
  },
  {
    name: 'streams',
    description: 'Following history as it is recorded: the change stream (Server-Sent Events, resumable, nothing skipped or ' +
      'repeated) and webhooks signed per Standard Webhooks.'
  },
  {
    name: 'viewer',
    description: 'The history viewer at `/ui`: a web page that signs in with an API key or a viewer token and shows entities, ' +
      'their timelines with field-level diffs, relations as they were, transactions, and reverts (previewed, then confirmed).'
  },
  {
    name: 'service',
    description: 'Liveness (`/health`) and readiness (`/ready`: the database is reachable) probes, and Prometheus metrics (`/metrics`).'
  }
]

/** The options of @fastify/swagger, for the API version app.ts declares. */
export function swaggerOptions (version: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.0.3',
      info: { title: API_TITLE, version, description: DESCRIPTION },
      servers: [{ url: '/', description: 'the service that serves this document' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (rwd_…): the first start writes an admin key to $DATA_DIR/admin-key; `npx rewind keys create` makes more.'
          }
        }
      },
      security: [{ apiKey: [] }]
    },
    // The body of POST /transactions/{id}/revert may be left out altogether (every member is optional).
    transformObject: (documentObject) => {
      const document = (documentObject as { openapiObject: { paths?: Record<string, Record<string, { requestBody?: { required?: boolean } }>> } }).openapiObject
      const body = document.paths?.['/transactions/{id}/revert']?.post?.requestBody
      if (body !== undefined) body.required = false
      return document as never
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  }
}

/** The Rewind mark: an arrow turning back (counterclockwise) around a rewind sign. */
const MARK = '<circle cx="20" cy="20" r="17" fill="#0f766e"/>' +
  '<g transform="matrix(-1 0 0 1 40 0)"><path d="M29.5 12.5A12 12 0 1 0 32 20" fill="none" stroke="#ecfeff" stroke-width="3" stroke-linecap="round"/>' +
  '<path d="M32.6 9.4 L32.3 15.8 L26.3 13.7 Z" fill="#ecfeff"/></g>' +
  '<path d="M20 14.5 L13.5 20 L20 25.5 Z M27 14.5 L20.5 20 L27 25.5 Z" fill="#ecfeff"/>'

/** The logo in the top bar of /docs (light on Swagger UI's dark bar). */
export const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="150" height="40" viewBox="0 0 150 40" role="img" aria-label="Rewind">' +
  MARK +
  '<text x="46" y="28" font-family="Helvetica, Arial, sans-serif" font-size="24" font-weight="700" fill="#ffffff">Rewind</text></svg>'

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40">${MARK}</svg>`

export const swaggerUiOptions: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  logo: { type: 'image/svg+xml', content: LOGO_SVG },
  theme: {
    title: 'Rewind API',
    favicon: [{ filename: 'favicon.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: FAVICON_SVG }]
  },
  uiConfig: { deepLinking: true }
}
