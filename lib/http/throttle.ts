/**
 * Failed-login throttling per client address: after `limit` failures within
 * `windowMs`, the address is refused (429) until the window passes. Memory
 * is bounded: the oldest entries are dropped past `maxEntries`.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, { count: number; first: number }>()

  constructor(
    private readonly limit = 5,
    private readonly windowMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  /** seconds to wait, or 0 when the address may try */
  blockedFor(address: string, now = Date.now()): number {
    const e = this.failures.get(address)
    if (!e) return 0
    if (now - e.first > this.windowMs) {
      this.failures.delete(address)
      return 0
    }
    return e.count >= this.limit ? Math.ceil((e.first + this.windowMs - now) / 1000) : 0
  }

  fail(address: string, now = Date.now()): void {
    const e = this.failures.get(address)
    if (!e || now - e.first > this.windowMs) {
      this.failures.delete(address)
      this.failures.set(address, { count: 1, first: now })
    } else {
      e.count += 1
    }
    while (this.failures.size > this.maxEntries) {
      this.failures.delete(this.failures.keys().next().value as string)
    }
  }

  succeed(address: string): void {
    this.failures.delete(address)
  }
}
