/**
 * Per-address request rate limit: at most `perMinute` requests in any one
 * fixed minute window. Memory is bounded (oldest addresses dropped first).
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>()

  constructor(
    public perMinute: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** true when this request may go on */
  take(address: string, now = Date.now()): boolean {
    if (this.perMinute <= 0) return true
    let w = this.windows.get(address)
    if (!w || now - w.start >= 60_000) {
      this.windows.delete(address)
      w = { start: now, count: 0 }
      this.windows.set(address, w)
      while (this.windows.size > this.maxEntries) this.windows.delete(this.windows.keys().next().value as string)
    }
    w.count += 1
    return w.count <= this.perMinute
  }
}
