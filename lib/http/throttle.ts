/**
 * Failed-login throttling per (client address, user name). After `limit`
 * failures within `windowMs` the pair is throttled until the window passes:
 * requests without a Digest answer get 429, and a Digest answer is still
 * checked, but only one every `2^(failures - limit)` seconds (at most
 * `maxIntervalMs`), so a right password gets in while guessing stays slow.
 * A success clears only its own pair: one good login behind a shared
 * address does not reset the count of anyone else. Memory is bounded: the
 * oldest entries are dropped past `maxEntries`.
 */
interface Entry {
  count: number
  first: number
  /** when the next Digest answer may be checked while throttled */
  nextTry: number
}

export type ThrottleState = { throttled: false } | { throttled: true; mayTry: boolean; retryAfterS: number }

export class FailureThrottle {
  private readonly failures = new Map<string, Entry>()

  constructor(
    public limit = 5,
    private readonly windowMs = 60_000,
    private readonly maxIntervalMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  private static key(address: string, user: string): string {
    return `${address}\u0000${user}`
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.failures.get(key)
    if (e && now - e.first > this.windowMs) {
      this.failures.delete(key)
      return undefined
    }
    return e
  }

  /** whether the pair is throttled, and whether a Digest answer may be checked now */
  state(address: string, user: string, now = Date.now()): ThrottleState {
    const e = this.live(FailureThrottle.key(address, user), now)
    if (!e || e.count < this.limit) return { throttled: false }
    const untilWindow = e.first + this.windowMs - now
    const untilTry = Math.max(0, e.nextTry - now)
    return { throttled: true, mayTry: untilTry === 0, retryAfterS: Math.max(1, Math.ceil(Math.min(untilWindow, untilTry || untilWindow) / 1000)) }
  }

  fail(address: string, user: string, now = Date.now()): void {
    const key = FailureThrottle.key(address, user)
    const e = this.live(key, now)
    if (!e) {
      this.failures.set(key, { count: 1, first: now, nextTry: now })
      while (this.failures.size > this.maxEntries) this.failures.delete(this.failures.keys().next().value as string)
      return
    }
    e.count += 1
    if (e.count >= this.limit) e.nextTry = now + Math.min(this.maxIntervalMs, 1000 * 2 ** (e.count - this.limit))
  }

  succeed(address: string, user: string): void {
    this.failures.delete(FailureThrottle.key(address, user))
  }
}
