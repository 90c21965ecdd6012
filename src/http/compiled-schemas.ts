import { createHash } from 'node:crypto'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

/**
 * Compiling a route's schemas (ajv validators, fast-json-stringify serializers) is most of the
 * second an app takes to build. The routes' schemas are the same in every app of a process
 * (the test suite builds hundreds), so what was compiled once is kept, by the schemas' JSON,
 * for the process: a compiled function depends on nothing else. The keys are bounded by the
 * routes and the configurations a process uses.
 */
export function memoized<C extends { schema?: unknown }, F> (scope: unknown, extra: (context: C) => string, compile: (context: C) => F): (context: C) => F {
  const prefix = digest(JSON.stringify(scope) ?? '')
  return (context) => {
    const key = `${prefix}:${extra(context)}:${digest(JSON.stringify(context.schema) ?? '')}`
    let compiled = cache.get(key) as F | undefined
    if (compiled === undefined) {
      compiled = compile(context)
      cache.set(key, compiled)
    }
    return compiled
  }
}

const cache = new Map<string, unknown>()
const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

const serializers = SerializerSelector()

/** Fastify's own serializer compiler (fast-json-stringify), with what it compiled kept for the process. */
export const sharedSerializers: ReturnType<typeof SerializerSelector> = (externalSchemas, options) => {
  let build: ReturnType<ReturnType<typeof SerializerSelector>> | undefined
  return memoized([externalSchemas, options], (route) => String(route.httpStatus),
    (route) => (build ??= serializers(externalSchemas, options))(route))
}
