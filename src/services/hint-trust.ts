/**
 * How far this process's latest-version hints can be trusted, per tenant. A hint is stale when
 * another instance appended to the entity since this one wrote it: the append planned on it is
 * refused, and the write is done again from a fresh read, a wasted statement (in a group commit,
 * a failed batch whose appends are each tried again). When instances share the entities they
 * write, a transaction of ten entities nearly always meets one such: the hints then cost more
 * than they save, and writes do better to read first.
 *
 * The share of refused hinted appends is a moving average (each outcome weighs WEIGHT). At or
 * past DISTRUST, writes skip the hints, except every PROBE_EVERY-th, which still tries them: when
 * the other writers go away, those succeed and the trust comes back.
 */
export class HintTrust {
  static readonly WEIGHT = 0.05
  static readonly DISTRUST = 0.5
  static readonly PROBE_EVERY = 16

  private readonly refusedShare = new Map<string, number>()
  private readonly skipped = new Map<string, number>()

  /** Whether the next write of `tenant` plans on its hints (or reads first). */
  useHints (tenant: string): boolean {
    if ((this.refusedShare.get(tenant) ?? 0) < HintTrust.DISTRUST) return true
    const skipped = ((this.skipped.get(tenant) ?? 0) + 1) % HintTrust.PROBE_EVERY
    this.skipped.set(tenant, skipped)
    return skipped === 0
  }

  /** The outcome of an append planned on hints: `refused` when another writer had appended first. */
  record (tenant: string, refused: boolean): void {
    const share = this.refusedShare.get(tenant) ?? 0
    const next = share + HintTrust.WEIGHT * ((refused ? 1 : 0) - share)
    if (next < 0.001) this.refusedShare.delete(tenant)
    else this.refusedShare.set(tenant, next)
  }
}
