// The part of autocannon 9's programmatic API that the benchmark uses (it ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  namespace autocannon {
    interface RequestParams {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
    }

    interface Request extends RequestParams {
      setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams | null | undefined
      onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, unknown>) => void
    }

    interface Options {
      url: string
      connections?: number
      duration?: number
      amount?: number
      pipelining?: number
      timeout?: number
      method?: string
      headers?: Record<string, string>
      body?: string
      requests?: Request[]
      setupClient?: (client: Client) => void
      maxOverallRequests?: number
      excludeErrorStats?: boolean
    }

    interface Client extends EventEmitter {
      setBody: (body: string | Buffer) => void
      setHeaders: (headers: Record<string, string>) => void
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p90: number
      p99: number
      p99_9: number
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      '2xx': number
      '4xx': number
      '5xx': number
      latency: Histogram
      requests: Histogram
      statusCodeStats: Record<string, { count: number }>
    }
  }

  function autocannon (options: autocannon.Options, callback: (error: Error | null, result: autocannon.Result) => void): EventEmitter
  export default autocannon
}
