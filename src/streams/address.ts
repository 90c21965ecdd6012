import { lookup } from 'node:dns'
import { BlockList, isIP } from 'node:net'

/*
 * Server-side request forgery: a webhook may only reach public addresses. Loopback,
 * private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, unique-local,
 * multicast and unspecified addresses are refused unless the URL's host is listed in
 * WEBHOOK_ALLOWED_HOSTS. The check runs where the connection is made (the address a name
 * resolves to then is the one connected to), so a name that changes its answer cannot slip by.
 */
const blocked = new BlockList()
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) blocked.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['::ffff:0:0', 96], ['64:ff9b::', 96]] as const) blocked.addSubnet(net, prefix, 'ipv6')

/** True when `address` (an IP) is not a public one. */
export const isPrivateAddress = (address: string): boolean => blocked.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')

export class ForbiddenTarget extends Error {}

/** The hosts (names or addresses, lower case) that may be private: WEBHOOK_ALLOWED_HOSTS. */
export type AllowedHosts = ReadonlySet<string>

export const parseAllowedHosts = (value: string | undefined): AllowedHosts =>
  new Set((value ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))

/** A `lookup` for http.request that refuses private addresses of hosts not allowed. */
export function checkedLookup (allowed: AllowedHosts): typeof lookup {
  return ((hostname: string, options: unknown, callback: (error: Error | null, address: string | Array<{ address: string, family: number }>, family?: number) => void) => {
    lookup(hostname, { all: true }, (error, addresses) => {
      if (error !== null) { callback(error, ''); return }
      const refused = allowed.has(hostname.toLowerCase()) ? undefined : addresses.find((a) => isPrivateAddress(a.address))
      if (refused !== undefined) { callback(new ForbiddenTarget(`${hostname} resolves to ${refused.address}, which is not a public address (list the host in WEBHOOK_ALLOWED_HOSTS to allow it)`), ''); return }
      if ((options as { all?: boolean }).all === true) callback(null, addresses)
      else callback(null, addresses[0]!.address, addresses[0]!.family)
    })
  }) as unknown as typeof lookup
}

/** Checks a webhook URL now (its scheme, and the addresses its host resolves to): the reason it is refused, or undefined. */
export async function refusedTarget (url: string, allowed: AllowedHosts): Promise<string | undefined> {
  let parsed: URL
  try { parsed = new URL(url) } catch { return 'is not a URL' }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an http or https URL'
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials'
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  if (allowed.has(host.toLowerCase())) return undefined
  if (isIP(host) !== 0) return isPrivateAddress(host) ? `${host} is not a public address (list it in WEBHOOK_ALLOWED_HOSTS to allow it)` : undefined
  return await new Promise((resolve) => {
    checkedLookup(allowed)(host, {}, (error: Error | null) => { resolve(error === null ? undefined : error instanceof ForbiddenTarget ? error.message : `${host} cannot be resolved: ${error.message}`) })
  })
}
