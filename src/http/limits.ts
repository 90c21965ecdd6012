import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { unavailable } from '../versioning/errors.js'

export interface TrafficLimits {
  /** Requests per second one API key may send. */
  ratePerSecond: number
  /** Event-loop delay (ms) past which the service sheds load with 503. */
  maxEventLoopDelayMs: number
}

/**
 * Limits that keep one caller from hurting the rest: a rate per API key (429 with
 * Retry-After) and load shedding under pressure (503 with Retry-After; the probes
 * /health and /ready answer regardless).
 */
export async function registerTrafficLimits (app: FastifyInstance, limits: TrafficLimits): Promise<void> {
  await app.register(rateLimit, {
    max: limits.ratePerSecond,
    timeWindow: 1000,
    // After authentication (onRequest), so that the key, not the address, is what is counted.
    hook: 'preHandler',
    keyGenerator: (request: FastifyRequest) => request.caller?.keyId ?? request.ip,
    allowList: (request: FastifyRequest) => request.caller === undefined,
    errorResponseBuilder: (_request, context) => Object.assign(
      new Error(`this API key sent more than ${context.max} requests in a second; retry after ${context.after}`), { statusCode: 429 })
  })
  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    retryAfter: 5,
    // A rejection reaches the error handler: 503 problem+json with Retry-After.
    pressureHandler: async (request: FastifyRequest) => {
      if (request.routeOptions.config?.access === 'public') return // the probes always answer
      throw unavailable('the service is overloaded right now; retry later')
    }
  })
}
