import http from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { unavailable } from '../versioning/errors.js'
import { problem } from './problem.js'

export interface TrafficLimits {
  /** Requests per second one API key may send. */
  ratePerSecond: number
  /** Event-loop delay (ms) past which the service sheds load with 503; 0: never. */
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
    // Only a refused request says when to retry; the others carry no rate-limit headers.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': true },
    errorResponseBuilder: (_request, context) => Object.assign(
      new Error(`this API key sent more than ${context.max} requests in a second; retry after ${context.after}`), { statusCode: 429 })
  })
  if (limits.maxEventLoopDelayMs <= 0) return
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

/**
 * The HTTP server: a client must send its whole request (headers and body) within
 * `bodyTimeoutMs`, checked every second; one that trickles its body is answered 408.
 */
export function serverWithTimeouts (bodyTimeoutMs: number): (handler: http.RequestListener) => http.Server {
  return (handler) => http.createServer({
    requestTimeout: bodyTimeoutMs,
    headersTimeout: Math.min(bodyTimeoutMs, 60_000),
    connectionsCheckingInterval: Math.min(1000, bodyTimeoutMs)
  }, handler)
}

/** Errors of the connection before a request reaches Fastify: a timed-out body (408) or a malformed request (400). */
export function clientError (error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) return
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
  const status = timedOut ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  const body = JSON.stringify(problem(status, timedOut
    ? 'the request was not received in time: send the whole body within BODY_TIMEOUT_MS'
    : 'the request is not valid HTTP'))
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/problem+json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * Reads that run past the request timeout are answered 503 (Fastify's handlerTimeout, set
 * here on each route that only reads). A write has none: it answers its outcome, so that a
 * write that committed is never reported as failed; PostgreSQL's statement_timeout and
 * idle_in_transaction_session_timeout bound it. (Without a timeout, Fastify also makes no
 * AbortController and timer for each write.)
 */
export function timeReadsOnly (app: FastifyInstance, requestTimeoutMs: number): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (route.handlerTimeout === undefined && methods.every((m) => m === 'GET' || m === 'HEAD')) route.handlerTimeout = requestTimeoutMs
  })
}
