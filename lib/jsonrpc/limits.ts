/** Per-connection command rate (token bucket) and per-address connection counts; both bounded. */

/** At most `perSecond()` commands per second, with bursts up to the same number. 0 = no limit. Read at each take (SIGHUP). */
export class CommandRate {
  private tokens: number
  private last: number

  constructor(
    private readonly perSecond: () => number,
    now = Date.now(),
  ) {
    this.tokens = perSecond()
    this.last = now
  }

  take(now = Date.now()): boolean {
    const rate = this.perSecond()
    if (rate <= 0) return true
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

/** Open connections per remote address; an entry lives only while its address has a connection. */
export class AddressCounter {
  private readonly counts = new Map<string, number>()
  total = 0

  count(address: string): number {
    return this.counts.get(address) ?? 0
  }

  add(address: string): void {
    this.counts.set(address, this.count(address) + 1)
    this.total += 1
  }

  remove(address: string): void {
    const n = this.count(address) - 1
    if (n <= 0) this.counts.delete(address)
    else this.counts.set(address, n)
    this.total -= 1
  }
}
