import { Ajv, type Options } from 'ajv'
import * as ajvFormats from 'ajv-formats'
import type { FastifyInstance, FastifySchema } from 'fastify'

// ajv-formats is CommonJS: under ESM its function arrives as the default export.
const addFormats = ajvFormats.default as unknown as (ajv: Ajv) => Ajv

function makeAjv (options: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, useDefaults: true, removeAdditional: false, strict: false, ...options })
  addFormats(ajv)
  return ajv
}

/**
 * Bodies are validated as sent (no type coercion, unknown members rejected where a
 * schema says so); path and query strings are coerced to the declared scalar types.
 */
export function registerValidators (app: FastifyInstance, schemas: readonly unknown[]): void {
  const strict = makeAjv({ coerceTypes: false })
  const coercing = makeAjv({ coerceTypes: true })
  for (const schema of schemas) {
    strict.addSchema(schema as object)
    coercing.addSchema(schema as object)
  }
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema, httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object))
}
