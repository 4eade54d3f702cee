/**
 * The XML-over-TCP listener. Binds to loopback unless told otherwise, takes
 * connections only from the allow-list, frames, parses, starts calls through
 * the call layer and streams each result document back. A client that
 * vanishes does not stop its calls; a client that does not read is cut off.
 */
import diagnostics from 'node:diagnostics_channel'
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { addressKey, allowList, isAllowed } from '../net'
import type { CallHandle, CallResult, CallService } from '../call'
import { BindError, ConfigError } from '../errors'
import { RequestFramer } from './framer'
import { parseRequest } from './request'
import { renderResult, type RenderedResult } from './render'
import { RateLimiter } from './rate'

export interface XmlFrontEndOptions {
  calls: CallService
  port: number
  /** bind address; '' = all interfaces */
  host: string
  /** addresses/CIDRs allowed to connect */
  allow: string[]
  maxRequestSize: number
  maxConnections?: number
  /** most connections at once from one address (an IPv6 /64 is one address); more are closed at once */
  maxConnectionsPerAddress?: number
  /** after the server ends a connection, destroy it if it is not closed within this many ms */
  closeGraceMs?: number
  /** close a connection idle this long (ms); 0 = never */
  idleTimeoutMs?: number
  /** cut off a client with this many bytes not yet read */
  maxPendingBytes?: number
  /** most calls in progress on one connection; more get 503 */
  maxCallsPerConnection?: number
  /** most requests per minute from one address (0 = none); more get 429 */
  rateLimit?: number
  /** TLS on the XML port */
  tls?: { certFile: string; keyFile: string }
  logger: Logger
  /** told the number of open connections each time it changes (the XML thread shares it with the main thread) */
  onConnections?: (count: number) => void
}

export interface XmlFrontEnd {
  readonly port: number
  readonly connections: number
  /**
   * new settings (SIGHUP): request size, calls per connection, rate, idle
   * timeout, connection caps, and the allow-list (open connections from an
   * address no longer allowed are closed; their calls go on), and new TLS
   * files for a TLS port (re-read, used for new connections)
   */
  reconfigure(limits: Partial<Pick<XmlFrontEndOptions, 'maxRequestSize' | 'maxCallsPerConnection' | 'rateLimit' | 'idleTimeoutMs' | 'maxConnections' | 'maxConnectionsPerAddress' | 'allow' | 'tls'>>): void
  /** stop taking connections; open ones keep receiving results */
  stopAccepting(): void
  /** stop taking connections and end the open ones */
  close(): Promise<void>
}

/**
 * Published after the 100s of a chunk of requests are written (one write):
 * the requests' texts, when the chunk was read and when that write returned,
 * in ms on the `performance.timeOrigin + performance.now()` clock, which
 * lines up across threads and processes. `npm run bench` splits the time
 * to each 100 with it (`latencyMs.to100Split`). Nothing is timed without a
 * subscriber.
 */
export interface XmlAnswered {
  requests: string[]
  readAt: number
  writtenAt: number
}
export const answeredChannel = diagnostics.channel('clicktocall:xml:answered')

/**
 * Connections with documents queued in this loop turn. One setImmediate
 * flushes them all: a results batch touching 50 connections made 50
 * immediates and 50 closures a turn.
 */
let toFlush: Connection[] = []

function flushQueued(): void {
  const list = toFlush
  toFlush = []
  for (const c of list) c.flush()
}

class Connection {
  private readonly framer: RequestFramer
  private readonly subscriptions = new Map<CallHandle, (r: CallResult) => void>()
  private closed = false
  private readEnded = false
  private destroyTimer: NodeJS.Timeout | undefined
  /** result documents not yet handed to the socket (see write()) */
  private queued: string[] = []
  private queuedBytes = 0
  private flushScheduled = false

  constructor(
    private readonly socket: net.Socket,
    private readonly o: XmlFrontEndOptions,
    private readonly log: Logger,
    private readonly limiter: RateLimiter,
  ) {
    this.framer = new RequestFramer(() => this.o.maxRequestSize)
    socket.setEncoding('utf8')
    socket.setNoDelay(true)
    this.applyIdleTimeout()
    socket.on('timeout', () => {
      if (this.subscriptions.size > 0) return // calls in progress keep it open
      this.log.info('closing idle XML connection')
      this.end()
    })
    socket.on('data', (chunk: string) => this.onData(chunk))
    // a netcat-style client half-closes after writing its request: keep
    // streaming results, and end our side once its calls are final
    socket.on('end', () => {
      this.readEnded = true
      if (this.subscriptions.size === 0) this.end()
    })
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'XML connection error'))
    socket.on('close', () => this.onClose())
  }

  private onData(chunk: string): void {
    if (this.closed) return
    const readAt = answeredChannel.hasSubscribers ? performance.timeOrigin + performance.now() : 0
    let requests: string[] | undefined
    for (const ev of this.framer.push(chunk)) {
      if (ev.kind === 'too-large') {
        this.log.warn({ max: this.o.maxRequestSize }, 'XML request too large: closing the connection')
        this.write(renderResult('', { code: 400, text: 'Request too large' }))
        this.end()
        this.closed = true
        return
      }
      if (ev.kind === 'garbage') {
        this.log.info({ text: ev.text.slice(0, 80) }, 'text outside of any XML request')
        this.write(renderResult('', { code: 400, text: 'Parse error' }))
        continue
      }
      this.onRequest(ev.text)
      if (readAt !== 0) (requests ??= []).push(ev.text)
    }
    // the 100s of every request in this chunk: one write, now
    this.flush()
    if (requests) answeredChannel.publish({ requests, readAt, writtenAt: performance.timeOrigin + performance.now() } satisfies XmlAnswered)
  }

  private onRequest(text: string): void {
    const parsed = parseRequest(text)
    if (!parsed.ok) {
      this.log.info({ error: parsed.text, detail: parsed.detail }, 'bad XML request')
      this.write(renderResult(text, { code: 400, text: parsed.text }))
      return
    }
    if (!this.limiter.take(this.socket.remoteAddress ?? '')) {
      this.log.warn('XML request refused: rate limit (XmlRpcRateLimit)')
      this.write(renderResult(text, { code: 429, text: 'Too many requests' }))
      return
    }
    if (this.subscriptions.size >= (this.o.maxCallsPerConnection ?? 32)) {
      this.log.warn({ calls: this.subscriptions.size }, 'XML request refused: too many calls on this connection')
      this.write(renderResult(text, { code: 503, text: 'Too many calls in progress on this connection' }))
      return
    }
    const { initiator, destination, anchor } = parsed.request
    const outcome = this.o.calls.start({
      initiator,
      destination,
      anchor,
      origin: { frontEnd: 'xml', remoteAddress: this.socket.remoteAddress ?? '' },
    })
    if (!outcome.ok) {
      this.write(renderResult(text, { code: outcome.code, text: outcome.text }))
      return
    }
    const call = outcome.call
    this.log.debug({ callId: call.id }, 'XML request started a call') // the call's own 'call created' line has the origin
    for (const r of call.results) this.write(renderResult(text, toRendered(r)))
    if (call.results.some((r) => r.final)) return
    const listener = (r: CallResult): void => {
      this.write(renderResult(text, toRendered(r)))
      if (r.final) this.unsubscribe(call)
    }
    this.subscriptions.set(call, listener)
    call.on('result', listener)
  }

  private unsubscribe(call: CallHandle): void {
    const l = this.subscriptions.get(call)
    if (l) call.off('result', l)
    this.subscriptions.delete(call)
    if (this.readEnded && this.subscriptions.size === 0 && !this.socket.destroyed) this.end()
  }

  /** (re)arm the idle timer from the current settings */
  applyIdleTimeout(): void {
    this.socket.setTimeout(this.o.idleTimeoutMs ?? 0)
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? ''
  }

  /**
   * Queue a document; the queue goes to the socket in one write at the end
   * of this loop turn (setImmediate), or at once at the end of a chunk of
   * requests (their 100s) and before our FIN. Each write(2) to a local client
   * wakes it: one per document was ~9 % of the server's busy time at load
   * (issue 16); documents of the same turn now share one.
   */
  private write(doc: string): void {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return
    const max = this.o.maxPendingBytes ?? 1024 * 1024
    if (this.socket.writableLength + this.queuedBytes > max) {
      this.log.warn({ pending: this.socket.writableLength + this.queuedBytes }, 'XML client does not read its results: closing')
      this.queued = []
      this.queuedBytes = 0
      this.socket.destroy()
      return
    }
    this.queued.push(doc)
    this.queuedBytes += doc.length
    if (!this.flushScheduled) {
      this.flushScheduled = true
      if (toFlush.push(this) === 1) setImmediate(flushQueued)
    }
  }

  /** the queued documents to the socket, in one write (flushQueued, the end of a chunk, before our FIN) */
  flush(): void {
    this.flushScheduled = false
    if (this.queued.length === 0) return
    const docs = this.queued
    this.queued = []
    this.queuedBytes = 0
    if (this.socket.destroyed || this.socket.writableEnded) return
    this.socket.write(docs.length === 1 ? docs[0]! : docs.join(''))
  }

  private onClose(): void {
    this.closed = true
    if (this.subscriptions.size > 0) {
      this.log.info({ calls: [...this.subscriptions.keys()].map((c) => c.id) }, 'XML client left with calls in progress: they go on, results dropped')
    }
    for (const call of [...this.subscriptions.keys()]) this.unsubscribe(call)
  }

  /**
   * Every server-side close: end our side (FIN after the pending results),
   * then destroy within closeGraceMs whatever the peer does: a client that
   * neither reads nor answers the FIN does not keep its slot.
   */
  end(graceMs = this.o.closeGraceMs ?? 2000): void {
    if (this.socket.destroyed) return
    this.flush()
    this.socket.end()
    if (this.destroyTimer) return
    this.destroyTimer = setTimeout(() => {
      if (!this.socket.destroyed) {
        this.log.info({ pending: this.socket.writableLength }, 'XML client did not close after our FIN: destroyed')
        this.socket.destroy()
      }
    }, graceMs)
    this.destroyTimer.unref()
    this.socket.once('close', () => clearTimeout(this.destroyTimer))
  }
}

function toRendered(r: CallResult): RenderedResult {
  return {
    code: r.code,
    leg: r.leg,
    text: r.text,
    translatedInitiator: r.translatedInitiator,
    translatedDestination: r.translatedDestination,
  }
}

/** the XML port's certificate and key; a file that cannot be read is a ConfigError naming the settings */
export function readTlsFiles(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }
  } catch (err) {
    throw new ConfigError(`XmlRpcTLSCertificate/XmlRpcTLSPrivateKey: ${(err as Error).message}`)
  }
}

export async function createXmlFrontEnd(options: XmlFrontEndOptions): Promise<XmlFrontEnd> {
  // one mutable copy shared by all connections, so reconfigure() reaches them
  const o: XmlFrontEndOptions = { ...options }
  const log = o.logger.child({ module: 'xml' })
  let allowed = allowList(o.allow)
  const conns = new Set<Connection>()
  const limiter = new RateLimiter(o.rateLimit ?? 0)
  /** raw connections per address key, counted from accept (before any TLS handshake) to close */
  const perAddress = new Map<string, number>()
  const warned = new Set<string>()
  /** every raw TCP connection: allow-list and per-address cap, before any byte is read */
  const admit = (raw: net.Socket): boolean => {
    const remote = raw.remoteAddress ?? ''
    if (!isAllowed(allowed, remote)) {
      log.warn({ remote }, 'XML connection refused: address not in XmlRpcAllow')
      raw.destroy()
      return false
    }
    const key = addressKey(remote)
    const n = perAddress.get(key) ?? 0
    const cap = o.maxConnectionsPerAddress ?? 32
    if (n >= cap) {
      if (!warned.has(key)) {
        warned.add(key)
        log.warn({ remote, key, max: cap }, 'XML connections refused: too many from one address (XmlRpcMaxConnectionsPerAddress)')
      }
      raw.destroy()
      return false
    }
    perAddress.set(key, n + 1)
    raw.once('close', () => {
      const left = (perAddress.get(key) ?? 1) - 1
      if (left > 0) perAddress.set(key, left)
      else perAddress.delete(key)
      if (left < cap) warned.delete(key)
    })
    return true
  }
  const onSocket = (socket: net.Socket): void => {
    const remote = socket.remoteAddress ?? ''
    const clog = log.child({ remote: `${remote}:${socket.remotePort}` })
    clog.debug('XML connection accepted')
    const c = new Connection(socket, o, clog, limiter)
    conns.add(c)
    o.onConnections?.(conns.size)
    socket.on('close', () => {
      conns.delete(c)
      o.onConnections?.(conns.size)
    })
  }
  const creds = o.tls ? readTlsFiles(o.tls) : undefined
  let server: net.Server
  if (creds) {
    // a client that never completes the handshake is dropped after 10 s; its raw socket is counted meanwhile
    server = tls.createServer({ ...creds, allowHalfOpen: true, handshakeTimeout: 10_000 })
    server.on('connection', (raw: net.Socket) => void admit(raw))
    server.on('secureConnection', onSocket)
    server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'XML TLS handshake failed'))
  } else {
    server = net.createServer({ allowHalfOpen: true })
    server.on('connection', (socket: net.Socket) => {
      if (admit(socket)) onSocket(socket)
    })
  }
  server.maxConnections = o.maxConnections ?? 256
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new BindError('XML requests', o.host, o.port, err)))
    server.listen(o.port, o.host === '' ? undefined : o.host, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'XML listener error'))
  /** shutdown: end every connection (a shorter bound than closeGraceMs); resolves once they are gone, 1.5 s at most */
  const endAll = (resolve: () => void): void => {
    for (const c of conns) c.end(1000)
    if (server.listening) server.close(() => resolve())
    else if (conns.size === 0) resolve()
    else {
      const t = setInterval(() => {
        if (conns.size === 0) {
          clearInterval(t)
          resolve()
        }
      }, 20)
      setTimeout(() => {
        clearInterval(t)
        resolve()
      }, 1500).unref()
    }
  }
  const port = (server.address() as net.AddressInfo).port
  log.info({ port, host: o.host || '*', allow: o.allow, tls: Boolean(o.tls) }, 'XML interface listening')
  return {
    port,
    get connections() {
      return conns.size
    },
    reconfigure: (limits) => {
      // TLS on or off needs a new listener (the server warns: restart); new files are swapped in
      if (limits.tls && server instanceof tls.Server) server.setSecureContext(readTlsFiles(limits.tls))
      Object.assign(o, limits)
      if (limits.rateLimit !== undefined) limiter.perMinute = limits.rateLimit
      if (limits.maxConnections !== undefined) server.maxConnections = limits.maxConnections
      if (limits.idleTimeoutMs !== undefined) for (const c of conns) c.applyIdleTimeout()
      if (limits.allow !== undefined) {
        allowed = allowList(limits.allow)
        for (const c of conns) {
          if (isAllowed(allowed, c.remoteAddress)) continue
          log.warn({ remote: c.remoteAddress }, 'XML connection closed: address no longer in XmlRpcAllow')
          c.end()
        }
      }
    },
    stopAccepting: () => {
      if (server.listening) server.close()
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Bytes that had reached the socket when the shutdown reached us are read first: two check
        // phases apart there is one poll phase that does not block and reads every readable socket.
        // A request among them is answered (503 Server shutting down) before our FIN.
        setImmediate(() => setImmediate(() => endAll(resolve)))
      }),
  }
}

export { addressKey, allowList, isAllowed }
