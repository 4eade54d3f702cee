/**
 * The SIP stack: our transports, our transaction layer (transaction.ts),
 * routing (outbound proxy, loose routing, RFC 3263 through the package),
 * and the dispatch of incoming messages to transactions and dialogs.
 */
import { EventEmitter } from 'node:events'
import { lookup } from 'node:dns/promises'
import net from 'node:net'
import os from 'node:os'
import * as sip from 'sip'
import type { Logger } from 'pino'
import type { InviteOptions, OutgoingInvite, SipCredentials, SipReconfigure, SipStack, SipStackOptions } from './api'
import { Transports, type InboundLimits, type Protocol, type Remote } from './transport'
import { authorize } from './digest'
import { parseSipUri, unbracket } from './uri'
import { firstLine, makeResponse, randomToken, viaParams, type SipMessage } from './message'
import type { ResponseHandler, SentRequest, StackClientInvite, StackCore, StackDialog, StackServerInvite, Timers } from './core'
import { InviteClient } from './invite-client'
import { IncomingInviteImpl } from './invite-server'
import { CallIdMap } from './call-index'
import { TransactionLayer, type ClientTransaction, type ServerTransaction, type TransactionConnection } from './transaction'
import { Waits } from './waits'

import { ALLOW } from './constants'

const DEFAULT_IDLE_MS = 300_000

/** where a request goes next: parsed from its first Route or its Request-URI; `literal` when its host is an address */
type Hop = Readonly<{ uri: sip.SipUri; protocol: Protocol; host: string; port: number; literal: Remote | undefined }>
/** distinct next-hop texts remembered; all are forgotten at once when it fills */
const HOP_CACHE_SIZE = 1024
const HOP_KEY_MAX = 2048

/**
 * A transaction's way to its peer: a client transaction's requests (and
 * retransmissions) to one remote, or a server transaction's responses back
 * to where its request came from. A failed request ends its transaction
 * with a 503 of our own; a failed response is only logged.
 */
class TransactionWire implements TransactionConnection {
  readonly protocol: string

  constructor(
    private readonly stack: Stack,
    private readonly remote: Remote,
    private readonly client: boolean,
  ) {
    this.protocol = remote.protocol
  }

  send(m: SipMessage): void {
    const onError = this.client ? (err: Error) => this.stack.clientSendFailed(m, err) : this.stack.responseSendFailed
    this.stack.transports.send(m, this.remote, onError)
  }

  release(): void {}
}

/**
 * A request sent in a client transaction (sendRequest): the reporting rules
 * (one final response; an INVITE's 2xx retransmissions still pass, each needs
 * its ACK), one retry with credentials after a 401/407, abort(). Objects,
 * not closures over sendRequest's scope: an INVITE's transaction keeps its
 * TU for Timer M (64*T1), and through those closures it kept every variable
 * of the request's flow, a context, five closures and a Timeout per ended
 * INVITE.
 */
class OutgoingRequest implements SentRequest {
  request: SipMessage
  remote: Remote | undefined = undefined
  /** credentials were sent once: a second challenge is reported */
  authTried = false
  private finalSeen = false
  private aborted = false
  private current: Attempt | undefined = undefined

  constructor(
    readonly stack: Stack,
    private readonly first: SipMessage,
    private readonly onResponse: ResponseHandler,
    readonly bumpCSeq: (() => number) | undefined,
  ) {
    this.request = first
  }

  abort(): void {
    this.aborted = true
    this.current?.stop()
  }

  report(rs: SipMessage): void {
    if (this.aborted) return
    if (rs.status! >= 200) {
      // 2xx retransmissions to an INVITE still pass (each needs its ACK); a
      // synthesized or second non-2xx final does not
      if (this.finalSeen && !(this.first.method === 'INVITE' && rs.status! < 300)) return
      this.finalSeen = true
    }
    this.onResponse(rs)
  }

  /** send `req` (the request, or its retry with credentials) once its next hop is known */
  attempt(req: SipMessage): void {
    const stack = this.stack
    const literal = stack.literalTarget(req)
    if (literal) {
      this.resolved(req, literal)
      return
    }
    stack.resolveTarget(req).then(
      (remote) => this.resolved(req, remote),
      (err: Error) => {
        stack.log.info({ err: err.message, uri: req.uri }, 'cannot resolve the target')
        req.headers.via ??= [{ version: '2.0', protocol: 'UDP', host: stack.host, port: stack.port, params: viaParams() }]
        this.report(makeResponse(req, 503, 'Service Unavailable'))
      },
    )
  }

  private resolved(req: SipMessage, remote: Remote): void {
    if (this.aborted || this.stack.isClosed) return
    this.remote = remote
    // a CANCEL reuses its INVITE's Via, set by the caller (RFC 3261 §9.1)
    if (req.method !== 'CANCEL' || !req.headers.via) req.headers.via = [this.stack.via(remote.protocol)]
    this.current = new Attempt(this, req, remote)
    this.request = req
  }
}

/** Timer B/F fired (setTimeout's argument, not a closure) */
function attemptTimedOut(attempt: Attempt): void {
  attempt.timedOut()
}

/**
 * One transaction of an OutgoingRequest, and its Timer B/F (RFC 3261
 * §17.1.1.2, §17.1.2.2) at 64*T1, kept here, not in the transaction layer:
 * for an INVITE it runs until the first response, for other requests until
 * the final one.
 */
class Attempt {
  private timer: NodeJS.Timeout | undefined
  private readonly transaction: ClientTransaction

  constructor(
    private readonly owner: OutgoingRequest,
    private readonly req: SipMessage,
    remote: Remote,
  ) {
    this.timer = setTimeout(attemptTimedOut, 64 * owner.stack.timers.T1, this)
    this.timer.unref()
    this.transaction = owner.stack.startClientTransaction(remote, req, (rs) => this.onResponse(rs))
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** abort(): the transaction ends, nothing more is reported */
  stop(): void {
    this.stopTimer()
    this.transaction.shutdown()
  }

  timedOut(): void {
    this.timer = undefined
    this.transaction.shutdown()
    const req = this.req
    this.owner.stack.log.debug({ msg: firstLine(req), callId: req.headers['call-id'] }, 'transaction timeout')
    this.owner.report(makeResponse(req, 408, 'Request Timeout'))
  }

  private onResponse(rs: SipMessage): void {
    const req = this.req
    const owner = this.owner
    if (req.method === 'INVITE' || rs.status! >= 200) this.stopTimer()
    if ((rs.status === 401 || rs.status === 407) && !owner.authTried && req.method !== 'CANCEL' && req.method !== 'ACK') {
      const again = owner.stack.withCredentials(req, rs, owner.bumpCSeq)
      if (again) {
        owner.authTried = true
        owner.request = again
        owner.attempt(again)
        return
      }
    }
    owner.report(rs)
  }
}

export const DEFAULT_CONNECTIONS = { max: 2048, perAddress: 32, unusedIdleTimeoutMs: 20_000 }

function tlsClientOptions(o: Pick<SipStackOptions, 'tlsClient'>): { verify: boolean; caFile?: string } {
  return { verify: o.tlsClient?.verify ?? true, ...(o.tlsClient?.caFile ? { caFile: o.tlsClient.caFile } : {}) }
}

function inboundLimits(o: Pick<SipStackOptions, 'connections'>): InboundLimits {
  return {
    maxConnections: o.connections?.max ?? DEFAULT_CONNECTIONS.max,
    maxPerAddress: o.connections?.perAddress ?? DEFAULT_CONNECTIONS.perAddress,
    unusedIdleTimeoutMs: o.connections?.unusedIdleTimeoutMs ?? DEFAULT_CONNECTIONS.unusedIdleTimeoutMs,
  }
}

export type { Timers, ResponseHandler, SentRequest } from './core'

function defaultHost(address: string): string {
  if (address && address !== '0.0.0.0' && address !== '::') return address
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address
  }
  return '127.0.0.1'
}

export class Stack extends EventEmitter implements SipStack, StackCore {
  readonly host: string
  readonly log: Logger
  readonly timers: Timers
  /** the 64*T1 and T4 waits of ended transactions, invites and dialogs: one queue per length (waits.ts) */
  readonly waits: Waits
  readonly transports: Transports
  readonly userAgent: string
  private readonly tl: TransactionLayer
  private readonly hops = new Map<string, Hop>()
  private readonly credentials: SipCredentials[] | undefined
  private readonly outboundProxy: sip.SipUri | undefined
  /** dialogs by call-id|local tag|remote tag */
  readonly dialogs = new CallIdMap<string, StackDialog>()
  /** server INVITE transactions by top Via branch, for CANCEL */
  readonly serverInvites = new CallIdMap<string, StackServerInvite>()
  /** client INVITEs by call-id, for 2xx after the transaction ended */
  readonly clientInvites = new Map<string, StackClientInvite>()
  private closed = false

  constructor(private readonly options: SipStackOptions) {
    super()
    this.log = options.logger.child({ module: 'sip' })
    const host = options.advertisedHost ?? defaultHost(options.address)
    this.host = net.isIPv6(host) ? `[${host}]` : host
    this.userAgent = options.userAgent
    this.credentials = options.credentials
    this.timers = {
      T1: options.timers?.T1 ?? 500,
      T2: options.timers?.T2 ?? 4000,
      T4: options.timers?.T4 ?? 5000,
      noNotifyTimeoutMs: options.timers?.noNotifyTimeoutMs ?? 60_000,
    }
    this.outboundProxy = options.outboundProxy ? parseSipUri(options.outboundProxy) : undefined
    this.transports = new Transports({
      address: options.address,
      port: options.port,
      ...(options.tls ? { tls: options.tls } : {}),
      tlsClient: tlsClientOptions(options),
      keepAlives: options.keepAlives,
      maxMessageSize: options.maxMessageSize ?? 65535,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_MS,
      inbound: inboundLimits(options),
      isLive: (callId) => this.isLive(callId),
      logger: this.log,
      onMessage: (m, remote) => this.onMessage(m, remote),
    })
    this.waits = new Waits((err) => this.log.error({ err }, 'a long wait ended in an error'))
    this.tl = new TransactionLayer(this.timers, this.waits)
  }

  get port(): number {
    return this.transports.udpPort
  }

  /** a dialog, or an INVITE transaction either way, lives on this Call-ID */
  isLive(callId: string): boolean {
    return this.dialogs.hasCallId(callId) || this.clientInvites.has(callId) || this.serverInvites.hasCallId(callId)
  }

  reconfigure(o: SipReconfigure): string[] {
    // files first: a ConfigError here leaves everything as it was
    const restart = this.transports.reconfigureTls({ ...(o.tls ? { tls: o.tls } : {}), tlsClient: tlsClientOptions(o) })
    this.transports.setInboundLimits(inboundLimits(o))
    this.logConnectionLimits()
    if (o.tlsClient?.verify === false) this.log.warn('TLSVerifyServer is off: outbound SIP over TLS accepts any certificate for any name')
    return restart
  }

  logConnectionLimits(): void {
    const t = this.transports
    const l = t.inboundLimits
    const fields = {
      maxConnections: t.maxInbound,
      configured: l.maxConnections,
      maxPerAddress: l.maxPerAddress,
      unusedIdleTimeoutMs: l.unusedIdleTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_MS,
      fdLimit: t.fdLimit ?? 'unknown',
    }
    if (t.maxInbound < l.maxConnections) {
      this.log.warn(fields, 'SIP inbound connections capped below SipMaxConnections to keep descriptors for the other ports: raise the open files limit (ulimit -n, LimitNOFILE=)')
    } else {
      this.log.info(fields, 'SIP inbound connection limits')
    }
  }

  get tlsPort(): number | undefined {
    return this.transports.tlsPort
  }

  contactUri(user = 'click2call', protocol: Protocol = 'UDP'): string {
    const base = `sip:${user}@${this.host}:${protocol === 'TLS' ? this.tlsPort ?? this.port : this.port}`
    return protocol === 'UDP' ? base : `${base};transport=${protocol.toLowerCase()}`
  }

  async listen(): Promise<void> {
    await this.transports.listen()
  }

  invite(options: InviteOptions): OutgoingInvite {
    return new InviteClient(this, options)
  }

  // ---------------------------------------------------------------- sending

  /** The URI a request goes to: first Route, else the Request-URI (RFC 3261 §8.1.2). Throws when there is none usable. */
  private nextHop(rq: SipMessage): Hop {
    const routes = rq.headers.route as Array<{ uri: sip.SipUri | string }> | undefined
    const route = routes && routes.length > 0 ? routes[0]!.uri : undefined
    // In a dialog every request goes to the same texts (its route set, its remote target): the hop
    // of a text is parsed once (a regex and three objects per request before; 2 % of the busy time).
    // Bounded: 1,024 keys of at most 2,048 characters (a peer's Contact or Record-Route may be longer).
    if ((route === undefined || typeof route === 'string') && typeof rq.uri === 'string') {
      const key = route === undefined ? rq.uri : `${route}\n${rq.uri}`
      if (key.length > HOP_KEY_MAX) return this.hopOf(route, rq)
      const known = this.hops.get(key)
      if (known) return known
      const hop = this.hopOf(route, rq)
      if (this.hops.size >= HOP_CACHE_SIZE) this.hops.clear()
      this.hops.set(key, hop)
      return hop
    }
    return this.hopOf(route, rq)
  }

  private hopOf(route: sip.SipUri | string | undefined, rq: SipMessage): Hop {
    const routeUri = typeof route === 'string' ? parseSipUri(route.replace(/^<|>$/g, '')) : route
    // a loose router is the next hop; a strict one is already the Request-URI (§8.1.2)
    const first = routeUri && 'lr' in (routeUri.params ?? {}) ? routeUri : rq.uri!
    const uri = typeof first === 'string' ? parseSipUri(first) : first
    if (!uri) throw new Error(`cannot route to ${String(first)}`)
    const transport = (uri.params?.transport ?? (uri.schema === 'sips' ? 'tls' : 'udp')).toUpperCase()
    if (transport !== 'UDP' && transport !== 'TCP' && transport !== 'TLS') throw new Error(`unsupported transport ${transport}`)
    const protocol = transport as Protocol
    const host = unbracket(uri.host)
    const port = uri.port || (protocol === 'TLS' ? 5061 : 5060)
    // the address check and the Remote made once per hop, not once per request
    const literal = net.isIP(host) ? Object.freeze({ protocol, address: host, port, name: host }) : undefined
    return Object.freeze({ uri, protocol, host, port, literal })
  }

  /**
   * The remote at once when the next hop is an IP address: no lookup and no
   * promise turn before the request is sent (the common case; each turn
   * showed in the profile at load). undefined: resolve it (RFC 3263).
   */
  literalTarget(rq: SipMessage): Remote | undefined {
    try {
      return this.nextHop(rq).literal
    } catch {
      return undefined
    }
  }

  /** Where a request goes: first Route, else the Request-URI (RFC 3261 §8.1.2, RFC 3263). */
  async resolveTarget(rq: SipMessage): Promise<Remote> {
    const { uri, protocol, host, port, literal } = this.nextHop(rq)
    if (literal) return literal
    const found = await new Promise<sip.Address[]>((resolve) => {
      try {
        sip.resolve(uri, (a) => resolve(a ?? []))
      } catch {
        resolve([])
      }
    })
    const usable = found.find((a) => a.protocol.toUpperCase() === protocol) ?? found[0]
    if (usable) return { protocol: usable.protocol.toUpperCase() as Protocol, address: usable.address, port: usable.port, name: host }
    const a = await lookup(host)
    return { protocol, address: a.address, port, name: host }
  }

  /** Out-of-dialog requests go through the outbound proxy when one is set (loose routing). */
  applyOutboundProxy(rq: SipMessage): void {
    if (!this.outboundProxy || (rq.headers.route && rq.headers.route.length > 0)) return
    const params = { ...this.outboundProxy.params, lr: null }
    rq.headers.route = [{ uri: sip.stringifyUri({ ...this.outboundProxy, params }), params: {} }]
  }

  /**
   * Send a request in a client transaction. `onResponse` sees every
   * response (provisional, and the final; 503 when it cannot be sent, 408 on
   * timeout). A 401/407 is answered once with credentials when we have them.
   *
   * Timer B/F (RFC 3261 §17.1.1.2, §17.1.2.2) is here at 64*T1, not in the
   * transaction layer: for an INVITE it runs until the first response, for
   * other requests until the final one. `abort()` ends the transaction without a report.
   */
  sendRequest(rq: SipMessage, onResponse: ResponseHandler, bumpCSeq?: () => number): SentRequest {
    const out = new OutgoingRequest(this, rq, onResponse, bumpCSeq)
    out.attempt(rq)
    return out
  }

  /** the stack is closed: nothing more is sent */
  get isClosed(): boolean {
    return this.closed
  }

  /** a client transaction for `req` to `remote`, its request sent now */
  startClientTransaction(remote: Remote, req: SipMessage, tu: (rs: SipMessage) => void): ClientTransaction {
    return this.tl.createClientTransaction(this.clientConnection(remote), req, tu)
  }

  /** `req` again with credentials for the challenge in `rs` and the next CSeq; undefined without credentials for it */
  withCredentials(req: SipMessage, rs: SipMessage, bumpCSeq: (() => number) | undefined): SipMessage | undefined {
    const auth = authorize(req, rs, this.credentials)
    if (!auth) return undefined
    const again: SipMessage = { ...req, headers: { ...req.headers } }
    again.headers[auth.header] = [auth.value]
    const seq = bumpCSeq ? bumpCSeq() : (req.headers.cseq.seq as number) + 1
    again.headers.cseq = { seq, method: req.method }
    return again
  }

  /**
   * Where a client transaction sends. An object of its own, not a closure
   * in sendRequest: that would share sendRequest's scope, and the
   * transaction (kept 5 to 32 s after its final response) would keep the TU
   * and its whole flow alive through it.
   */
  private clientConnection(remote: Remote): TransactionConnection {
    return new TransactionWire(this, remote, true)
  }

  /** Where a server transaction sends its responses (an object, as above: kept 32 s for Timer J). */
  private serverConnection(back: Remote): TransactionConnection {
    return new TransactionWire(this, back, false)
  }

  /** a client transaction's request could not be sent: it ends with a 503 of our own */
  clientSendFailed(m: SipMessage, err: Error): void {
    this.log.debug({ err: err.message, msg: firstLine(m) }, 'send failed')
    const t = this.tl.getClient(m)
    if (t && m.method) t.message(makeResponse(m, 503, 'Service Unavailable'))
  }

  /** shared by every server transaction: one function, not a closure per response */
  readonly responseSendFailed = (err: Error): void => {
    this.log.debug({ err: err.message }, 'response not sent')
  }

  /** Send without a transaction (ACK for 2xx). */
  sendStateless(m: SipMessage, remote?: Remote): void {
    const go = (r: Remote): void => {
      this.transports.send(m, r, (err) => this.log.debug({ err: err.message }, 'stateless send failed'))
    }
    const known = remote ?? this.literalTarget(m)
    if (known) {
      go(known)
      return
    }
    this.resolveTarget(m).then(go, (err: Error) => this.log.debug({ err: err.message }, 'cannot route ACK'))
  }

  /** Topmost Via for a request we send outside a transaction. */
  via(protocol: Protocol): Record<string, unknown> {
    return { version: '2.0', protocol, host: this.host, port: this.port, params: viaParams(undefined, { rport: null }) }
  }

  // -------------------------------------------------------------- receiving

  private responseRemote(m: SipMessage, remote: Remote): Remote {
    if (remote.protocol !== 'UDP') return remote
    const via = m.headers.via[0]
    const address = via.params.received ?? remote.address
    const port = via.params.rport ? Number(via.params.rport) : via.port || 5060
    return { protocol: 'UDP', address: unbracket(String(address)), port }
  }

  private onMessage(m: SipMessage, remote: Remote): void {
    if (this.closed) return
    if (m.status) {
      this.onResponse(m, remote)
      return
    }
    const via = m.headers.via[0]
    if (unbracket(String(via.host)) !== remote.address) via.params.received = remote.address
    if ('rport' in via.params) via.params.rport = String(remote.port)
    if (m.method === 'ACK') {
      // an ACK matching the INVITE's transaction is for a non-2xx; one for a
      // 2xx has a branch of its own, but some UAs reuse the INVITE's: the
      // dialog checks the CSeq either way
      this.tl.getServer(m)?.message(m)
      this.findDialog(m, 'uas')?.onAck(m)
      return
    }
    const existing = this.tl.getServer(m)
    if (existing) {
      existing.message(m)
      return
    }
    const st = this.tl.createServerTransaction(m, this.serverConnection(this.responseRemote(m, remote)))
    // a response to a request without a To tag gets one (RFC 3261 §8.2.6.2);
    // one per request, so every response of its transaction carries the same
    let toTag: string | undefined
    const reply = (status: number, reason: string, headers?: Record<string, unknown>, content?: string): void => {
      const rs = makeResponse(m, status, reason, headers, content, this.userAgent)
      if (status > 100 && !rs.headers.to?.params?.tag) {
        toTag ??= randomToken(6)
        rs.headers.to = { ...rs.headers.to, params: { ...rs.headers.to?.params, tag: toTag } }
      }
      st.send(rs)
    }
    try {
      this.onRequest(m, st, reply, remote)
    } catch (err) {
      this.log.warn({ err: (err as Error).message, msg: firstLine(m) }, 'error handling a request')
      reply(500, 'Server Internal Error')
    }
  }

  private onRequest(
    m: SipMessage,
    st: ServerTransaction,
    reply: (status: number, reason: string, headers?: Record<string, unknown>, content?: string) => void,
    remote: Remote,
  ): void {
    const method = m.method!
    if (m.headers.cseq.method !== method) {
      reply(400, 'CSeq Method Mismatch')
      return
    }
    if (method === 'CANCEL') {
      const inv = this.serverInvites.get(String(m.headers.via[0].params.branch))
      if (!inv) {
        reply(481, 'Call/Transaction Does Not Exist')
        return
      }
      // the same To tag as the INVITE's responses (RFC 3261 §9.2)
      reply(200, 'OK', { to: { ...m.headers.to, params: { ...m.headers.to.params, tag: inv.localTag } } })
      inv.onCancel()
      return
    }
    if (m.headers.to.params?.tag) {
      const dialog = this.findDialog(m, 'uas')
      if (!dialog) {
        reply(481, 'Call/Transaction Does Not Exist')
        return
      }
      dialog.onRequest(m, st, reply, remote)
      return
    }
    switch (method) {
      case 'OPTIONS':
        reply(200, 'OK', { allow: ALLOW, accept: 'application/sdp, message/sipfrag' })
        return
      case 'INVITE':
        if (this.listenerCount('invite') === 0) {
          reply(403, 'Forbidden')
          return
        }
        this.emit('invite', new IncomingInviteImpl(this, m, st, remote))
        return
      case 'BYE':
      case 'NOTIFY':
      case 'REFER':
        reply(481, 'Call/Transaction Does Not Exist')
        return
      default:
        reply(405, 'Method Not Allowed', { allow: ALLOW })
    }
  }

  private onResponse(m: SipMessage, remote: Remote): void {
    const t = this.tl.getClient(m)
    if (t) {
      t.message(m, remote)
      return
    }
    // a 2xx to INVITE after its transaction ended: retransmission or another fork
    if (m.headers.cseq.method === 'INVITE' && m.status! >= 200 && m.status! < 300) {
      const inv = this.clientInvites.get(String(m.headers['call-id']))
      if (inv) inv.onLate2xx(m)
      else this.findDialog(m, 'uac')?.onRetransmitted2xx(m)
    }
  }

  dialogKey(callId: string, localTag: string, remoteTag: string): string {
    return `${callId}|${localTag}|${remoteTag}`
  }

  /** A request from the peer carries our tag in To; a response to us carries it in From. */
  findDialog(m: SipMessage, side: 'uas' | 'uac'): StackDialog | undefined {
    const callId = String(m.headers['call-id'])
    const fromTag = String(m.headers.from.params?.tag ?? '')
    const toTag = String(m.headers.to.params?.tag ?? '')
    return side === 'uas'
      ? this.dialogs.get(this.dialogKey(callId, toTag, fromTag))
      : this.dialogs.get(this.dialogKey(callId, fromTag, toTag))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const inv of this.clientInvites.values()) inv.abandon()
    this.tl.destroy()
    await this.transports.close()
  }
}

export async function createSipStack(options: SipStackOptions): Promise<SipStack> {
  const stack = new Stack(options)
  await stack.listen()
  stack.log.info({ port: stack.port, tlsPort: stack.tlsPort, host: stack.host }, 'SIP stack listening')
  stack.logConnectionLimits()
  if (options.tlsClient?.verify === false) {
    stack.log.warn('TLSVerifyServer is off: outbound SIP over TLS accepts any certificate for any name')
  }
  return stack
}
