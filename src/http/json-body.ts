import type { FastifyInstance } from 'fastify'
import { invalid } from '../versioning/errors.js'
import { hasNonFiniteNumber, jsonTextDepth, parseJson } from '../versioning/json.js'

export const MAX_DEPTH = 64
const MAYBE_HUGE_NUMBER = /[eE]\+?\d{3}|\d{300}/

/**
 * Parses JSON bodies: at most MAX_DEPTH levels deep, integers beyond ±(2^53−1) kept exact,
 * and keys such as `__proto__` kept as ordinary data (own properties, never prototypes).
 */
export function registerJsonParser (app: FastifyInstance): void {
  // Only JSON is accepted: anything else (text/plain included) is a 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(null, undefined) // an empty body is read as no body
    if (jsonTextDepth(text) > MAX_DEPTH) return done(invalid(`the body nests deeper than ${MAX_DEPTH} levels`), undefined)
    let value: unknown
    try {
      value = parseJson(text) // integers past ±(2^53−1) stay exact
    } catch (error) {
      return done(invalid(`the body is not valid JSON: ${(error as Error).message}`), undefined)
    }
    // Only a literal with a long exponent or 300+ digits can overflow; look closer then.
    if (MAYBE_HUGE_NUMBER.test(text) && hasNonFiniteNumber(value)) {
      return done(invalid('the body holds a number too large to represent (a JSON number must be finite)'), undefined)
    }
    done(null, value)
  })
}
