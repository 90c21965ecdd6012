import { Ajv, type Options, type ValidateFunction } from 'ajv'
import * as ajvFormats from 'ajv-formats'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { memoized } from './compiled-schemas.js'

// ajv-formats is CommonJS: under ESM its function arrives as the default export.
const addFormats = ajvFormats.default as unknown as (ajv: Ajv) => Ajv

/**
 * At most this many ajv errors reach the error handler (which lists at most 10 of them,
 * see validation-errors.ts): a body of 10,000 bad changes must not build 50,000.
 */
export const MAX_VALIDATION_ERRORS = 200

function makeAjv (options: Options): Ajv {
  // allErrors: a 400 lists every problem of the request, not only the first one.
  // verbose: each error carries its schema, parent schema and value, from which
  // validation-errors.ts names the allowed values and the known property names.
  const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true, removeAdditional: false, strict: false, ...options })
  addFormats(ajv)
  return ajv
}

/** The compiled validator, with its errors cut to MAX_VALIDATION_ERRORS. */
function capped (validate: ValidateFunction): ValidateFunction {
  const wrapped = function (this: unknown, data: unknown, dataCxt?: Parameters<ValidateFunction>[1]): boolean {
    const valid = validate.call(this, data, dataCxt)
    const errors = validate.errors
    wrapped.errors = valid || errors == null ? null : errors.length > MAX_VALIDATION_ERRORS ? errors.slice(0, MAX_VALIDATION_ERRORS) : errors
    return valid
  } as ValidateFunction
  // Fastify passes the parent data (so that defaults can apply to the root) when it sees schemaEnv.
  wrapped.schemaEnv = validate.schemaEnv
  wrapped.schema = validate.schema
  return wrapped
}

/**
 * Bodies are validated as sent (no type coercion, unknown members rejected where a
 * schema says so); path and query strings are coerced to the declared scalar types.
 * The validators are compiled once per process (see compiled-schemas.ts).
 */
export function registerValidators (app: FastifyInstance, schemas: readonly unknown[]): void {
  let ajvs: { strict: Ajv, coercing: Ajv } | undefined
  const ajvFor = (httpPart: string | undefined): Ajv => {
    ajvs ??= { strict: withSchemas(makeAjv({ coerceTypes: false }), schemas), coercing: withSchemas(makeAjv({ coerceTypes: true }), schemas) }
    return httpPart === 'body' ? ajvs.strict : ajvs.coercing
  }
  app.setValidatorCompiler(memoized(schemas, ({ httpPart }: { schema: FastifySchema, httpPart?: string }) => httpPart === 'body' ? 'body' : 'coerced',
    ({ schema, httpPart }) => capped(ajvFor(httpPart).compile(schema as object))))
}

function withSchemas (ajv: Ajv, schemas: readonly unknown[]): Ajv {
  for (const schema of schemas) ajv.addSchema(schema as object)
  return ajv
}

/** The query string of a route that names no parameter: none may be sent. */
const NO_PARAMETERS = { type: 'object', properties: {}, additionalProperties: false }

/**
 * An unknown query parameter is a 400 on every route of the API, also on those that take
 * none (routes with a `querystring` schema refuse unknown ones through it). /docs is not ours.
 */
export function refuseUnknownQueryParameters (app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined || route.schema === undefined || route.schema.querystring !== undefined) return
    route.schema = { ...route.schema, querystring: NO_PARAMETERS }
  })
}
