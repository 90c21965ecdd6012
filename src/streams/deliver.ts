import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { checkedLookup, refusedTarget, type AllowedHosts } from './address.js'

export interface DeliveryResult { status: number | null, error: string | null, ms: number }

/**
 * POSTs one signed message (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature` over id, timestamp and body with the endpoint's `whsec_` secret) to
 * a URL checked again now against private addresses; redirects are not followed (a 3xx
 * is a failed attempt). A 2xx within `timeoutMs` is a delivery.
 */
export async function deliver (
  url: string, secret: string, id: string, payload: string, allowed: AllowedHosts, timeoutMs: number
): Promise<DeliveryResult> {
  const started = Date.now()
  const done = (status: number | null, error: string | null): DeliveryResult => ({ status, error, ms: Date.now() - started })
  const target = new URL(url)
  const host = target.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) {
    const refused = await refusedTarget(url, allowed)
    if (refused !== undefined) return done(null, `refused: ${refused}`)
  }
  const timestamp = new Date()
  const signature = new Webhook(secret).sign(id, timestamp, payload)
  return await new Promise((resolve) => {
    const request = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'POST',
      lookup: checkedLookup(allowed),
      timeout: timeoutMs,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Rewind-Webhooks/1',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signature,
        'content-length': Buffer.byteLength(payload)
      }
    }, (response) => {
      response.resume()
      response.on('end', () => { resolve(done(response.statusCode ?? null, null)) })
      response.on('error', (error) => { resolve(done(response.statusCode ?? null, error.message)) })
    })
    request.on('timeout', () => { request.destroy(new Error(`no answer within ${timeoutMs} ms`)) })
    request.on('error', (error) => { resolve(done(null, error.message)) })
    request.end(payload)
  })
}
