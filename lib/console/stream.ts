/**
 * The console's Server-Sent Events stream (/console/events): one
 * subscription to the call layer, fanned out to every open stream. A stream
 * starts with a `hello` (the live calls, the calls that ended lately, the
 * server's clock and heartbeat period), then one `call` message per call
 * event with the call as it is after it. Bounded: a cap on streams (total
 * and per address: 503 over it), and a cap on the bytes queued for one
 * stream (a reader that falls that far behind is dropped, and reconnects to
 * a fresh `hello`); a heartbeat comment keeps idle connections visible.
 */
import type http from 'node:http'
import type { Logger } from 'pino'
import type { CallEvent, CallService, CallSnapshot } from '../call'
import type { RecentCalls } from './recent'

export interface StreamLimits {
  /** open streams at most (all clients) */
  maxStreams: number
  /** open streams at most from one address */
  maxStreamsPerAddress: number
  /** bytes queued for one stream before it is dropped */
  maxBufferBytes: number
  /** a comment line this often */
  heartbeatMs: number
  /** live calls sent in `hello` at most */
  maxHelloCalls: number
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxStreams: 32,
  maxStreamsPerAddress: 8,
  maxBufferBytes: 1024 * 1024,
  heartbeatMs: 10_000,
  maxHelloCalls: 200,
}

/** a call as the console shows it: the snapshot without the original's result documents */
export type ConsoleCall = Omit<CallSnapshot, 'results'>

export function consoleCall(s: CallSnapshot): ConsoleCall {
  const { results: _results, ...rest } = s
  return rest
}

export interface StreamCounters {
  open: number
  /** streams refused over a cap, since start */
  refused: number
  /** streams dropped because their reader fell behind, since start */
  dropped: number
  /** messages written, since start */
  messages: number
}

interface Stream {
  res: http.ServerResponse
  remote: string
  done: boolean
}

export class EventStreams {
  private readonly streams = new Set<Stream>()
  private readonly perAddress = new Map<string, number>()
  private readonly heartbeat: NodeJS.Timeout
  private readonly unsubscribe: () => void
  readonly counters: StreamCounters = { open: 0, refused: 0, dropped: 0, messages: 0 }

  constructor(
    private readonly calls: CallService,
    private readonly recent: RecentCalls,
    private readonly limits: StreamLimits,
    private readonly headers: Record<string, string>,
    private readonly log: Logger,
  ) {
    this.unsubscribe = calls.subscribe((e) => this.onEvent(e))
    // a comment for proxies, and a `ping` the page's watchdog can see (EventSource hides comments)
    this.heartbeat = setInterval(() => this.broadcast(`: heartbeat\nevent: ping\ndata: ${Date.now()}\n\n`), limits.heartbeatMs)
    this.heartbeat.unref()
  }

  /** answer a GET /console/events: a stream, or 503 over a cap */
  open(req: http.IncomingMessage, res: http.ServerResponse, remote: string): void {
    const mine = this.perAddress.get(remote) ?? 0
    const full = this.streams.size >= this.limits.maxStreams ? 'total' : mine >= this.limits.maxStreamsPerAddress ? 'address' : undefined
    if (full) {
      this.counters.refused += 1
      this.log.warn({ remote, cap: full, open: this.streams.size }, 'console event stream refused: too many streams')
      const body = Buffer.from(`Too many open event streams (${full === 'total' ? 'server' : 'your address'}); retry later.\n`)
      res.writeHead(503, { ...this.headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length), 'Retry-After': '5', 'Cache-Control': 'no-store', Connection: 'close' })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    res.writeHead(200, {
      ...this.headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'close',
      'X-Accel-Buffering': 'no',
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    req.socket.setNoDelay(true)
    const s: Stream = { res, remote, done: false }
    this.streams.add(s)
    this.perAddress.set(remote, mine + 1)
    this.counters.open = this.streams.size
    res.once('close', () => this.forget(s))
    const live = this.calls.list()
    const hello = {
      now: Date.now(),
      heartbeatMs: this.limits.heartbeatMs,
      calls: live.slice(0, this.limits.maxHelloCalls).map(consoleCall),
      liveTotal: live.length,
      recent: this.recent.list().map(consoleCall),
    }
    this.write(s, `retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`)
    this.log.debug({ remote, open: this.streams.size }, 'console event stream opened')
  }

  /** end every stream and stop listening to the call layer */
  close(): void {
    this.unsubscribe()
    clearInterval(this.heartbeat)
    for (const s of [...this.streams]) {
      s.res.end()
      s.res.destroy()
      this.forget(s)
    }
  }

  private onEvent(e: CallEvent): void {
    // the original's result documents are for the XML/HTTP pages; the snapshot says the same
    if (e.type === 'result') return
    // with no stream open, only the end of a call is worth a snapshot (for the recent list)
    if (this.streams.size === 0 && e.type !== 'ended') return
    const snap = this.calls.find(e.callId)?.snapshot() ?? this.calls.get(e.callId)
    if (e.type === 'ended' && snap) this.recent.add(snap)
    if (this.streams.size === 0) return
    const { callId, setupId: _s, ...rest } = e
    const msg = { event: { callId, ...rest }, call: snap ? consoleCall(snap) : null }
    this.broadcast(`event: call\ndata: ${JSON.stringify(msg)}\n\n`)
  }

  private broadcast(chunk: string): void {
    for (const s of this.streams) this.write(s, chunk)
  }

  private write(s: Stream, chunk: string): void {
    if (s.done) return
    s.res.write(chunk)
    this.counters.messages += 1
    if (s.res.writableLength > this.limits.maxBufferBytes) {
      this.counters.dropped += 1
      this.log.warn({ remote: s.remote, queued: s.res.writableLength }, 'console event stream dropped: its reader fell behind')
      this.forget(s)
      s.res.destroy()
    }
  }

  private forget(s: Stream): void {
    if (s.done) return
    s.done = true
    this.streams.delete(s)
    const n = (this.perAddress.get(s.remote) ?? 1) - 1
    if (n <= 0) this.perAddress.delete(s.remote)
    else this.perAddress.set(s.remote, n)
    this.counters.open = this.streams.size
  }
}
