/**
 * The calls this server knows: live ones, and ended ones kept for
 * `retainMs` (ResultCacheTime) so their results can still be read.
 */
import type { Call } from './call'
import type { CallSnapshot } from './api'

export class CallRegistry {
  private readonly live = new Map<string, Call>()
  private readonly ended = new Map<string, { snapshot: CallSnapshot; expires: number }>()
  private sweeper: NodeJS.Timeout | undefined

  constructor(private retainMs: number) {}

  setRetention(ms: number): void {
    this.retainMs = ms
  }

  get size(): number {
    return this.live.size
  }

  add(call: Call): void {
    this.live.set(call.id, call)
    call.once('ended', () => {
      this.live.delete(call.id)
      if (this.retainMs > 0) {
        this.ended.set(call.id, { snapshot: call.snapshot(), expires: Date.now() + this.retainMs })
        this.scheduleSweep()
      }
    })
  }

  get(id: string): CallSnapshot | undefined {
    const call = this.live.get(id)
    if (call) return call.snapshot()
    const kept = this.ended.get(id)
    if (!kept) return undefined
    if (kept.expires <= Date.now()) {
      this.ended.delete(id)
      return undefined
    }
    return kept.snapshot
  }

  liveCalls(): IterableIterator<Call> {
    return this.live.values()
  }

  private scheduleSweep(): void {
    if (this.sweeper) return
    this.sweeper = setInterval(() => this.sweep(), Math.min(Math.max(this.retainMs, 1000), 30_000))
    this.sweeper.unref()
  }

  private sweep(): void {
    const now = Date.now()
    for (const [id, kept] of this.ended) if (kept.expires <= now) this.ended.delete(id)
    if (this.ended.size === 0 && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = undefined
    this.ended.clear()
  }
}
