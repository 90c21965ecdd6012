import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DomainError, type ProblemKind } from '../versioning/errors.js'
import { describeValidation, type AjvError } from './validation-errors.js'

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 408: 'Request Timeout', 429: 'Too Many Requests', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone', 413: 'Content Too Large', 414: 'URI Too Long',
  415: 'Unsupported Media Type', 422: 'Unprocessable Content', 500: 'Internal Server Error', 503: 'Service Unavailable'
}
const DOMAIN_STATUS: Record<ProblemKind, number> = {
  'invalid-request': 400, 'not-found': 404, conflict: 409, 'idempotency-key-reused': 422, unavailable: 503,
  unauthorized: 401, forbidden: 403, 'limit-exceeded': 400, gone: 410
}
const SLUGS: Record<number, string> = {
  400: 'invalid-request', 404: 'not-found', 405: 'method-not-allowed', 409: 'conflict', 410: 'gone', 413: 'body-too-large',
  414: 'uri-too-long', 415: 'unsupported-media-type', 422: 'idempotency-key-reused', 500: 'internal-error', 503: 'unavailable',
  401: 'unauthorized', 403: 'forbidden', 408: 'request-timeout', 429: 'rate-limited', 431: 'headers-too-large'
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  [extension: string]: unknown
}

export function problem (status: number, detail: string, extensions: Record<string, unknown> = {}, slug?: string): ProblemBody {
  return {
    ...extensions,
    type: `urn:rewind:problem/${slug ?? SLUGS[status] ?? 'error'}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail
  }
}

export function sendProblem (reply: FastifyReply, body: ProblemBody): FastifyReply {
  if (body.status === 503) reply.header('retry-after', '5')
  if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="rewind"')
  if (body.status === 403) reply.header('www-authenticate', 'Bearer realm="rewind", error="insufficient_scope"')
  return reply.code(body.status).type('application/problem+json').send(body)
}

function toProblem (error: FastifyError, request: FastifyRequest): ProblemBody {
  if (error instanceof DomainError) return problem(DOMAIN_STATUS[error.kind], error.message, error.extensions, error.kind)
  if (error.validation !== undefined) return validationProblem(error)
  if (error.code === 'FST_ERR_HANDLER_TIMEOUT') return problem(503, 'the request took longer than REQUEST_TIMEOUT_MS and was stopped; retry later')
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return problem(413, 'the request body is larger than the limit')
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return problem(415, `content type "${request.headers['content-type'] ?? ''}" is not supported: send application/json`)
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) return problem(status, error.message)
  return problem(500, 'an internal error occurred')
}

/** A schema validation failure: every problem named with its field (`errors` lists them). */
function validationProblem (error: FastifyError): ProblemBody {
  const { detail, errors } = describeValidation(error.validation as unknown as AjvError[], error.validationContext ?? 'request')
  return problem(400, detail, errors.length > 0 ? { errors } : {})
}

/** Errors Fastify meets before routing (a malformed URL, a too long path parameter). */
export function frameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
  sendProblem(reply, { ...problem(status, error.message), instance: request.url })
}

/** Every error leaves as application/problem+json; internal details stay in the log. */
export function registerProblemHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = toProblem(error, request)
    if (body.status >= 500) request.log.error({ err: error }, 'request failed')
    return sendProblem(reply, { ...body, instance: request.url })
  })
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { ...problem(404, `no route ${request.method} ${request.url.split('?')[0] ?? ''}`), instance: request.url }))
}
