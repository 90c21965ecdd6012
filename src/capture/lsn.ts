/** A PostgreSQL log sequence number (`X/Y`, hexadecimal) as a number of bytes. */
export function lsnValue (lsn: string): bigint {
  const [high, low] = lsn.split('/')
  if (high === undefined || low === undefined || !/^[0-9A-Fa-f]{1,8}$/.test(high) || !/^[0-9A-Fa-f]{1,8}$/.test(low)) throw new Error(`not an LSN: ${lsn}`)
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

/** True when `a` is at or before `b`. */
export const lsnAtOrBefore = (a: string, b: string): boolean => lsnValue(a) <= lsnValue(b)

/** Bytes from `from` to `to` (0 when `to` is not after `from`). */
export const lsnDistance = (from: string, to: string): number => {
  const d = lsnValue(to) - lsnValue(from)
  return d > 0n ? Number(d) : 0
}

/** An LSN as PostgreSQL writes it (`16/B374D848`: no leading zeros, upper case). */
export function normalLsn (lsn: string): string {
  const value = lsnValue(lsn)
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xFFFFFFFFn).toString(16).toUpperCase()}`
}
