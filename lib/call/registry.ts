/**
 * The calls this server knows: live ones (found by id, setup id or either
 * leg's SIP Call-ID), and ended ones kept for `retainMs` (ResultCacheTime)
 * so their results can still be read and a retried setup id finds its call.
 */
import type { Call } from './call'
import type { CallFilter, CallSnapshot } from './api'

interface Kept {
  snapshot: CallSnapshot
  /** kept only for calls with a setup id: a retried start() returns this handle */
  call: Call | undefined
  expires: number
}

export class CallRegistry {
  private readonly live = new Map<string, Call>()
  private readonly liveBySetupId = new Map<string, Call>()
  private readonly ended = new Map<string, Kept>()
  private readonly endedBySetupId = new Map<string, string>()
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
    const setupId = call.setupId
    if (setupId !== undefined) this.liveBySetupId.set(setupId, call)
    // on, not once: 'ended' comes once (markEnded), and once's wrapper and
    // its bound state were ~110 bytes of every live call
    call.on('ended', () => {
      this.live.delete(call.id)
      if (setupId !== undefined && this.liveBySetupId.get(setupId) === call) this.liveBySetupId.delete(setupId)
      if (this.retainMs > 0) {
        this.ended.set(call.id, { snapshot: call.snapshot(), call: setupId !== undefined ? call : undefined, expires: Date.now() + this.retainMs })
        if (setupId !== undefined) this.endedBySetupId.set(setupId, call.id)
        this.scheduleSweep()
      }
    })
  }

  /** a live call by id, setup id, or either leg's SIP Call-ID */
  find(key: string): Call | undefined {
    const byId = this.live.get(key) ?? this.liveBySetupId.get(key)
    if (byId) return byId
    for (const call of this.live.values()) {
      if (call.initiator.sipCallId === key || call.destination.sipCallId === key) return call
    }
    return undefined
  }

  /** a call by setup id: the live one, else the one kept after it ended */
  bySetupId(setupId: string): { call: Call | undefined; snapshot: CallSnapshot } | undefined {
    const live = this.liveBySetupId.get(setupId)
    if (live) return { call: live, snapshot: live.snapshot() }
    const id = this.endedBySetupId.get(setupId)
    const kept = id === undefined ? undefined : this.fresh(id)
    return kept ? { call: kept.call, snapshot: kept.snapshot } : undefined
  }

  get(id: string): CallSnapshot | undefined {
    const call = this.live.get(id)
    if (call) return call.snapshot()
    return this.fresh(id)?.snapshot
  }

  /** an ended call kept for ResultCacheTime, by id */
  endedCall(id: string): Call | undefined {
    return this.fresh(id)?.call
  }

  private fresh(id: string): Kept | undefined {
    const kept = this.ended.get(id)
    if (!kept) return undefined
    if (kept.expires <= Date.now()) {
      this.forget(id, kept)
      return undefined
    }
    return kept
  }

  private forget(id: string, kept: Kept): void {
    this.ended.delete(id)
    const setupId = kept.snapshot.setupId
    if (setupId !== null && this.endedBySetupId.get(setupId) === id) this.endedBySetupId.delete(setupId)
  }

  liveCalls(): IterableIterator<Call> {
    return this.live.values()
  }

  list(filter: CallFilter = {}): CallSnapshot[] {
    const out: CallSnapshot[] = []
    for (const call of this.live.values()) {
      if (filter.state !== undefined && call.state !== filter.state) continue
      if (filter.setupId !== undefined && call.setupId !== filter.setupId) continue
      if (filter.initiator !== undefined && !matches(filter.initiator, call.request.initiator, call.translatedInitiator)) continue
      if (filter.destination !== undefined && !matches(filter.destination, call.request.destination, call.translatedDestination)) continue
      out.push(call.snapshot())
    }
    return out
  }

  private scheduleSweep(): void {
    if (this.sweeper) return
    this.sweeper = setInterval(() => this.sweep(), Math.min(Math.max(this.retainMs, 1000), 30_000))
    this.sweeper.unref()
  }

  private sweep(): void {
    const now = Date.now()
    for (const [id, kept] of this.ended) if (kept.expires <= now) this.forget(id, kept)
    if (this.ended.size === 0 && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = undefined
    this.ended.clear()
    this.endedBySetupId.clear()
  }
}

/** a filter matches the address as given or as translated, case-insensitively, as a substring */
function matches(filter: string, given: string, translated: string): boolean {
  const f = filter.toLowerCase()
  return given.toLowerCase().includes(f) || translated.toLowerCase().includes(f)
}
