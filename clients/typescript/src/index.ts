import createClient, { type Client, type ClientOptions } from 'openapi-fetch'
import type { components, operations, paths } from './schema.js'

// The types generated from openapi/openapi.json (`npm run openapi` regenerates schema.ts).
export type { components, operations, paths } from './schema.js'

/** The JSON body an operation answers with `status`. */
export type ResponseBody<Op extends keyof operations, Status extends keyof operations[Op]['responses']> =
  operations[Op]['responses'][Status] extends { content: { 'application/json': infer Body } } ? Body : never

/** The JSON body an operation takes. */
export type RequestBody<Op extends keyof operations> =
  operations[Op] extends { requestBody: { content: { 'application/json': infer Body } } } ? Body : never

type Schemas = components['schemas']
/** An RFC 9457 problem: the body of every 4xx and 5xx answer. */
export type Problem = Schemas['Problem']
export type Version = Schemas['Version']
export type Transaction = Schemas['Transaction']
export type Change = Schemas['Change']
export type Checkpoint = Schemas['Checkpoint']
export type EntityType = ResponseBody<'getEntityType', 200>
/** The body of PUT /entity-types/{type}. */
export type EntityTypeDefinition = RequestBody<'putEntityType'>
/** The body of POST /transactions. */
export type TransactionRequest = RequestBody<'recordTransaction'>
export type RecordedTransaction = ResponseBody<'recordTransaction', 201>
export type VersionPage = ResponseBody<'listVersions', 200>
/** The body of POST /entities/{type}/{id}/revert. */
export type RevertRequest = RequestBody<'revertEntity'>
export type RevertResult = ResponseBody<'revertEntity', 201>

export interface RewindClientOptions extends Omit<ClientOptions, 'baseUrl' | 'headers'> {
  /** Where the service answers, e.g. `http://localhost:3000`. */
  baseUrl: string
  /** An API key (`rwd_…`), sent as `Authorization: Bearer <key>`. */
  key: string
  /** Headers sent with every request, besides the authorization. */
  headers?: Record<string, string>
}

export type RewindClient = Client<paths>

/**
 * An openapi-fetch client for Rewind: `client.GET('/entities/{type}/{id}/versions', { params: { path: { type, id } } })`
 * resolves to `{ data }` (typed by the path, method and status) or `{ error }` (the problem body), with `response`.
 */
export function createRewindClient ({ baseUrl, key, headers, ...options }: RewindClientOptions): RewindClient {
  return createClient<paths>({ ...options, baseUrl, headers: { ...headers, authorization: `Bearer ${key}` } })
}
