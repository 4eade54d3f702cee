/**
 * Delivery of HTTP notifications to one receiver (a webhook URL, an action
 * URL): a bounded queue with one lane per call, so that the events of a call
 * go out in order while other calls' events go out in parallel (up to
 * `concurrency` requests at once); retries with exponential backoff and
 * jitter on a network error, a timeout, 408, 429 or 5xx, up to `maxAttempts`;
 * a full queue drops the new notification and counts it. Nothing here ever
 * waits on the caller's side: `enqueue()` is synchronous and O(1).
 */
import type { Logger } from 'pino'

/** One notification, for one receiver. */
export interface Job {
  /** the lane: notifications with the same key go out one at a time, in order */
  key: string
  /** for logs: `<callId>#<seq>` and the event type */
  id: string
  type: string
  /** built at each attempt (a signature carries the attempt's time) */
  request(): { url: string; init: RequestInit }
  attempts: number
}

export interface DeliveryOptions {
  /** what it is, for logs: `webhook` or `action-url` */
  kind: string
  /** the receiver as logs may show it (no credentials, no query) */
  target: string
  concurrency: number
  queueSize: number
  maxAttempts: number
  timeoutMs: number
  backoffBaseMs: number
  backoffMaxMs: number
  logger: Logger
}

export interface DeliveryStats {
  target: string
  queued: number
  inFlight: number
  delivered: number
  retried: number
  /** dropped after maxAttempts failed attempts */
  failed: number
  /** the receiver answered 3xx or 4xx (other than 408/429): not retried */
  rejected: number
  /** dropped because the queue was full */
  overflow: number
  /** dropped at shutdown */
  abandoned: number
}

type Outcome = { kind: 'ok' } | { kind: 'retry'; why: string; afterMs?: number } | { kind: 'reject'; why: string }

/** exponential backoff with "equal jitter": half fixed, half random */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(exp / 2 + (exp / 2) * random())
}

/** a log line at most every `everyMs` per key, with how many were suppressed */
class Throttled {
  private readonly last = new Map<string, { at: number; suppressed: number }>()
  constructor(private readonly everyMs: number) {}
  allow(key: string): number | false {
    const now = Date.now()
    const x = this.last.get(key)
    if (x && now - x.at < this.everyMs) {
      x.suppressed++
      return false
    }
    const suppressed = x?.suppressed ?? 0
    this.last.set(key, { at: now, suppressed: 0 })
    return suppressed
  }
}

export class Receiver {
  private readonly lanes = new Map<string, Job[]>()
  /** keys with a job waiting and none in flight, oldest first */
  private ready: string[] = []
  private readonly busy = new Set<string>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private size = 0
  private pausedUntil = 0
  private pauseTimer: NodeJS.Timeout | undefined
  private failing = false
  private closed = false
  private readonly abort = new AbortController()
  private readonly throttle = new Throttled(10_000)
  private idleWaiters: Array<() => void> = []
  private readonly counts = { delivered: 0, retried: 0, failed: 0, rejected: 0, overflow: 0, abandoned: 0 }

  constructor(private readonly options: DeliveryOptions) {}

  /** queue a notification; false when it was dropped (queue full, or closing) */
  enqueue(job: Job): boolean {
    if (this.closed) {
      this.counts.abandoned++
      return false
    }
    if (this.size >= this.options.queueSize) {
      this.counts.overflow++
      const suppressed = this.throttle.allow('overflow')
      if (suppressed !== false) {
        this.options.logger.warn(
          { kind: this.options.kind, target: this.options.target, queueSize: this.options.queueSize, overflow: this.counts.overflow, suppressed },
          'notification queue full: notification dropped',
        )
      }
      return false
    }
    const lane = this.lanes.get(job.key)
    if (lane) lane.push(job)
    else {
      this.lanes.set(job.key, [job])
      if (!this.busy.has(job.key)) this.ready.push(job.key)
    }
    this.size++
    this.pump()
    return true
  }

  stats(): DeliveryStats {
    return { target: this.options.target, queued: this.size, inFlight: this.busy.size, ...this.counts }
  }

  /**
   * Stop taking notifications, give those queued until `timeoutMs` to go
   * out, then abort what is in flight and drop the rest (counted, logged).
   */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true
    if (this.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs)
        this.idleWaiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    this.abort.abort()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.pauseTimer) clearTimeout(this.pauseTimer)
    if (this.size > 0) {
      this.counts.abandoned += this.size
      this.options.logger.warn({ kind: this.options.kind, target: this.options.target, dropped: this.size }, 'shutdown: undelivered notifications dropped')
      this.lanes.clear()
      this.ready = []
      this.size = 0
    }
  }

  private pump(): void {
    while (this.busy.size < this.options.concurrency && this.ready.length > 0) {
      const wait = this.pausedUntil - Date.now()
      if (wait > 0) {
        if (!this.pauseTimer) {
          this.pauseTimer = setTimeout(() => {
            this.pauseTimer = undefined
            this.pump()
          }, wait)
          this.pauseTimer.unref()
        }
        return
      }
      const key = this.ready.shift()!
      this.busy.add(key)
      void this.attempt(key)
    }
  }

  private async attempt(key: string): Promise<void> {
    const lane = this.lanes.get(key)
    const job = lane?.[0]
    if (!job) {
      this.busy.delete(key)
      return
    }
    job.attempts++
    const outcome = await this.send(job)
    if (this.abort.signal.aborted) return
    const log = this.options.logger
    const base = { kind: this.options.kind, target: this.options.target, id: job.id, type: job.type, attempt: job.attempts }
    if (outcome.kind === 'ok') {
      this.counts.delivered++
      if (this.failing) log.info({ kind: this.options.kind, target: this.options.target }, 'receiver answers again')
      this.failing = false
      this.pausedUntil = 0
      this.finish(key)
      return
    }
    if (outcome.kind === 'reject') {
      this.counts.rejected++
      log.warn({ ...base, why: outcome.why }, 'notification refused by the receiver: not retried')
      this.finish(key)
      return
    }
    if (job.attempts >= this.options.maxAttempts) {
      this.counts.failed++
      log.warn({ ...base, why: outcome.why }, 'notification dropped after its last attempt')
      this.finish(key)
      return
    }
    this.counts.retried++
    const delay = Math.min(
      this.options.backoffMaxMs,
      Math.max(outcome.afterMs ?? 0, backoffDelay(job.attempts, this.options.backoffBaseMs, this.options.backoffMaxMs)),
    )
    if (!this.failing) log.warn({ ...base, why: outcome.why, retryInMs: delay }, 'receiver failing: retrying with backoff')
    else log.debug({ ...base, why: outcome.why, retryInMs: delay }, 'notification retry')
    this.failing = true
    // the whole receiver backs off: other calls' notifications do not hammer it meanwhile
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay)
    const t = setTimeout(() => {
      this.timers.delete(t)
      void this.attempt(key)
    }, delay)
    t.unref()
    this.timers.add(t)
  }

  private finish(key: string): void {
    const lane = this.lanes.get(key)
    lane?.shift()
    this.size--
    this.busy.delete(key)
    if (lane && lane.length > 0) this.ready.push(key)
    else this.lanes.delete(key)
    if (this.size === 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
    this.pump()
  }

  private async send(job: Job): Promise<Outcome> {
    let url: string
    let init: RequestInit
    try {
      ;({ url, init } = job.request())
    } catch (err) {
      return { kind: 'reject', why: `cannot build the request: ${(err as Error).message}` }
    }
    try {
      const res = await fetch(url, {
        ...init,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.abort.signal]),
      })
      // the body is not read: release the connection
      await res.body?.cancel().catch(() => undefined)
      if (res.status >= 200 && res.status < 300) return { kind: 'ok' }
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        const retryAfter = Number(res.headers.get('retry-after'))
        return {
          kind: 'retry',
          why: `HTTP ${res.status}`,
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { afterMs: retryAfter * 1000 } : {}),
        }
      }
      return { kind: 'reject', why: `HTTP ${res.status}` }
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } }
      const why = e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message)
      return { kind: 'retry', why }
    }
  }
}
