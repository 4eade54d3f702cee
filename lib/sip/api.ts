/**
 * The public surface of the SIP layer: what a call needs, nothing of calls.
 *
 * This file is the contract between lib/sip (which implements it) and
 * lib/call (which drives it). lib/sip/index.ts re-exports these types and
 * `createSipStack`. Change it only together with both sides.
 */
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'

export interface NameAddr {
  /** SIP or SIPS URI, e.g. `sip:alice@example.com` */
  uri: string
  /** display name, unquoted; quoted and escaped by the stack */
  displayName?: string
}

export interface SipCredentials {
  username: string
  password: string
  /** if set, used only for challenges of this realm */
  realm?: string
}

export interface SipStackOptions {
  /** address to bind UDP/TCP/TLS to; '' = all interfaces (IPv4 and IPv6) */
  address: string
  /** UDP and TCP port (the same number for both); 0 = an ephemeral port */
  port: number
  /**
   * host written in Via and Contact. Default: `address` when set, else the
   * first non-internal IPv4 address of the machine, else 127.0.0.1.
   */
  advertisedHost?: string
  /**
   * TLS listener; absent = no TLS (a log line says so). A file that cannot be
   * read rejects createSipStack with a ConfigError naming it. `domain`: the
   * name the certificate should carry (TLSDomain); a warning when it does not.
   */
  tls?: { port: number; certFile: string; keyFile: string; domain?: string }
  /**
   * Outbound SIP over TLS: the peer's certificate must chain to a trusted CA
   * and name the URI's host (`verify`, default true; false is logged as a
   * warning). `caFile`: PEM CAs that replace the built-in list.
   */
  tlsClient?: { verify?: boolean; caFile?: string }
  /** SIP URI of an outbound proxy, next hop of out-of-dialog requests */
  outboundProxy?: string
  /** CRLF keepalives on TCP/TLS connections */
  keepAlives: boolean
  /** User-Agent header value, e.g. `ClickToCall` */
  userAgent: string
  /** credentials for 401/407 challenges */
  credentials?: SipCredentials[]
  /** largest SIP message accepted (headers + body), bytes; default 65535 */
  maxMessageSize?: number
  /** idle timeout of TCP/TLS connections (no SIP message either way), ms; default 300000 */
  idleTimeoutMs?: number
  /**
   * Inbound TCP/TLS connections: `max` in total (default 2048, and at most half
   * the process's open-file limit), `perAddress` from one address (default 32),
   * and `unusedIdleTimeoutMs` (default 20000): an inbound connection with no
   * live dialog or transaction is closed after that long without a message.
   */
  connections?: { max?: number; perAddress?: number; unusedIdleTimeoutMs?: number }
  logger: Logger
  /**
   * Timer overrides for tests (ms). T1 default 500; Timer B/F = 64*T1.
   * `noNotifyTimeoutMs`: how long a REFER subscription waits for its final NOTIFY (default 60000).
   */
  timers?: { T1?: number; T2?: number; T4?: number; noNotifyTimeoutMs?: number }
}

/** what `SipStack.reconfigure` takes: the same fields as at start-up */
export type SipReconfigure = Pick<SipStackOptions, 'connections' | 'tlsClient' | 'tls'>

export interface SipStack extends EventEmitter {
  /** bound UDP/TCP port (the real one when 0 was asked) */
  readonly port: number
  /** bound TLS port, when TLS is on */
  readonly tlsPort: number | undefined
  /** host written in Via/Contact */
  readonly host: string
  /** `sip:<host>:<port>` of this stack, suitable for Contact */
  contactUri(user?: string): string

  /** Send an out-of-dialog INVITE and follow it. Never throws: problems come back as 'failed'. */
  invite(options: InviteOptions): OutgoingInvite

  /** Close listeners and connections; pending client transactions end. */
  close(): Promise<void>

  /**
   * New settings without a restart (SIGHUP): inbound connection limits
   * (connections already open stay), outbound TLS verification and CA file
   * (when they change, outbound TLS connections are closed and re-verified),
   * the TLS listener's certificate and key (for new connections). Every file
   * is read first: one that cannot be read throws a ConfigError and nothing
   * changes. Returns the settings whose change needs a restart (TLS turned
   * on or off, another TLS port).
   */
  reconfigure(options: SipReconfigure): string[]

  /**
   * A new out-of-dialog INVITE arrived. With no listener the stack answers 403
   * (as the original does). OPTIONS is always answered 200 by the stack itself.
   */
  on(event: 'invite', listener: (invite: IncomingInvite) => void): this
}

export interface InviteOptions {
  /** Request-URI (sip:/sips:). Anything else fails with 416 asynchronously. */
  target: string
  from: NameAddr
  /** default: the target */
  to?: NameAddr
  /**
   * SDP offer. Absent: an offerless INVITE; the 2xx then carries the offer and
   * the owner must answer it with `dialog.ack(answerSdp)` (the ACK waits for it).
   */
  sdp?: string
  /** extra headers, name -> value(s), e.g. { 'Call-Info': '<sip:x>;answer-after=0' } */
  headers?: Record<string, string | string[]>
  /** no final response by then: CANCEL and fail with 408 (Timer C style) */
  ringTimeoutMs?: number
}

export interface OutgoingInvite extends EventEmitter {
  readonly callId: string
  /** CANCEL if still pending; if a 2xx races the CANCEL, ACK then BYE. Then 'failed' (487). No-op when final. */
  cancel(): void
  /** every provisional response, 100 included */
  on(event: 'progress', listener: (status: number, reason: string) => void): this
  /**
   * first 2xx: the dialog is confirmed. With an SDP offer in the INVITE the
   * stack has already sent the ACK; offerless, it waits for dialog.ack().
   */
  on(event: 'answered', listener: (dialog: Dialog, sdp: string | undefined) => void): this
  /**
   * final failure: the non-2xx status, 408 on ring/transaction timeout, 503 on
   * transport/DNS failure, 487 after cancel(), 416 for an unsupported URI scheme
   */
  on(event: 'failed', listener: (status: number, reason: string) => void): this
}

export type DialogEndReason = 'local-bye' | 'remote-bye' | 'timeout' | 'error'

export interface Dialog extends EventEmitter {
  readonly id: string
  readonly callId: string
  readonly localTag: string
  readonly remoteTag: string
  /** remote target (the Contact of the peer) */
  readonly remoteTarget: string
  readonly state: 'confirmed' | 'terminated'
  /** SDP the peer sent last (offer or answer) */
  readonly remoteSdp: string | undefined

  /** ACK an offerless INVITE's 2xx, with the answer. Also re-sent on 2xx retransmissions. */
  ack(sdp?: string): void
  /**
   * re-INVITE with an offer. Resolves with the final response (the answer in
   * `sdp`); the stack ACKs a 2xx itself. A 491 or timeout resolves too, with that status.
   */
  reinvite(sdp?: string): Promise<{ status: number; reason: string; sdp?: string }>
  /** REFER (RFC 3515) in this dialog, following its NOTIFYs */
  refer(options: { referTo: string; referredBy?: NameAddr }): ReferSubscription
  /** send BYE; resolves when answered or timed out. The dialog is terminated at once. */
  bye(): Promise<void>

  /** incoming re-INVITE. With no listener the stack answers 200 with the last local SDP. */
  on(event: 'reinvite', listener: (request: IncomingReinvite) => void): this
  /** incoming REFER (used by simulated phones). With no listener: 405. */
  on(event: 'refer', listener: (request: IncomingRefer) => void): this
  /** the dialog ended, for whatever reason (emitted once) */
  on(event: 'terminated', listener: (reason: DialogEndReason) => void): this
}

export interface IncomingReinvite {
  readonly sdp: string | undefined
  accept(sdp?: string): void
  reject(status: number, reason?: string): void
}

export interface IncomingRefer {
  readonly referTo: string
  readonly referredBy: string | undefined
  /** 202 Accepted; then notify() the progress */
  accept(): void
  reject(status: number, reason?: string): void
  /** NOTIFY with a message/sipfrag;version=2.0 body `SIP/2.0 <status> <reason>` */
  notify(status: number, reason: string, terminated: boolean): Promise<void>
}

export interface ReferSubscription extends EventEmitter {
  /** final response to the REFER itself (202 is not success of the transfer) */
  on(event: 'response', listener: (status: number, reason: string) => void): this
  /** each NOTIFY's sipfrag status line, in arrival order; `terminated` from Subscription-State */
  on(event: 'notify', listener: (fragment: { status: number; reason: string }, terminated: boolean) => void): this
  /**
   * subscription over: 'terminated' (Subscription-State: terminated), 'rejected'
   * (error response to REFER), 'timeout' (no final NOTIFY in time), 'dialog-ended'
   */
  on(event: 'end', listener: (why: 'terminated' | 'rejected' | 'timeout' | 'dialog-ended') => void): this
}

export interface IncomingInvite extends EventEmitter {
  readonly callId: string
  readonly requestUri: string
  readonly from: NameAddr
  readonly to: NameAddr
  readonly sdp: string | undefined
  /** all headers as parsed, lower-case names */
  readonly headers: Record<string, unknown>
  /** provisional response (default 180) */
  progress(status?: number, reason?: string): void
  /** 200 with this SDP; resolves with the dialog once the ACK arrives (or rejects on timeout) */
  accept(sdp?: string): Promise<Dialog>
  reject(status: number, reason?: string): void
  /** the caller CANCELled before a final response */
  on(event: 'cancel', listener: () => void): this
}
