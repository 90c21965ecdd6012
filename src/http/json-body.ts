import type { FastifyInstance } from 'fastify'
import { invalid } from '../versioning/errors.js'
import { jsonTextDepth } from '../versioning/json.js'

export const MAX_DEPTH = 64

/**
 * Parses JSON bodies: at most MAX_DEPTH levels deep, and keys such as `__proto__` kept as
 * ordinary data (JSON.parse defines them as own properties, never as prototypes).
 */
export function registerJsonParser (app: FastifyInstance): void {
  // Only JSON is accepted: anything else (text/plain included) is a 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(null, undefined) // an empty body is read as no body
    if (jsonTextDepth(text) > MAX_DEPTH) return done(invalid(`the body nests deeper than ${MAX_DEPTH} levels`), undefined)
    try {
      done(null, JSON.parse(text))
    } catch (error) {
      done(invalid(`the body is not valid JSON: ${(error as Error).message}`), undefined)
    }
  })
}
