/**
 * Dialogs (RFC 3261 §12): tags, CSeq, route set, remote target; requests in
 * the dialog both ways; re-INVITE, BYE, REFER and its NOTIFYs. The REFER
 * subscription is its own dialog usage (RFC 5057): a BYE ends the INVITE
 * usage, and NOTIFYs are still taken until the subscription ends.
 */
import { EventEmitter } from 'node:events'
import type * as sip from 'sip'
import type { Dialog, DialogEndReason, IncomingRefer, IncomingReinvite, NameAddr, ReferSubscription } from './api'
import type { ReferDialog, Reply, SentRequest, StackCore, StackDialog } from './core'
import { stringifyUri as sipStringifyUri } from 'sip'
import { parseSipUri } from './uri'
import type { Protocol, Remote } from './transport'
import { headerText, makeResponse, nameAddr, ownString, randomToken, type NameAddrHeader, type SipMessage } from './message'
import { ALLOW } from './constants'
import { ReferClient, IncomingReferImpl } from './refer'
import type { Expiring } from './waits'


export interface DialogInit {
  callId: string
  localTag: string
  remoteTag: string
  local: NameAddrHeader
  remote: NameAddrHeader
  remoteTarget: string
  /** route set, in the order requests must carry it */
  routeSet: Array<{ uri: string | sip.SipUri; params: Record<string, string | null> }>
  localSeq: number
  remoteSeq: number
  protocol: Protocol
  /** CSeq of the INVITE that made the dialog (for ACK of its 2xx) */
  inviteSeq: number
}

export class DialogImpl extends EventEmitter implements Dialog, StackDialog, ReferDialog, Expiring {
  readonly id: string
  readonly callId: string
  readonly localTag: string
  readonly remoteTag: string
  remoteTarget: string
  state: 'confirmed' | 'terminated' = 'confirmed'
  remoteSdp: string | undefined
  localSdp: string | undefined
  private readonly local: NameAddrHeader
  private readonly remote: NameAddrHeader
  private readonly routeSet: DialogInit['routeSet']
  private localSeq: number
  private remoteSeq: number
  private readonly protocol: Protocol
  /** user part of our Contact: 'click2call' for the server, the name for a phone */
  contactUser = 'click2call'
  private inviteSeq: number
  /**
   * ACK we sent for the 2xx of inviteSeq, re-sent on retransmissions of that
   * 2xx; dropped 64*T1 after it went (the UAS stops retransmitting then,
   * RFC 3261 §13.3.1.4): a whole parsed ACK was ~1 KiB of every held leg
   */
  private lastAck: SipMessage | undefined
  /** an ACK for the 2xx of inviteSeq went (lastAck may be gone since) */
  private ackSent = false
  /** 2xx we sent to an INVITE, re-sent until its ACK (RFC 3261 §13.3.1.4) */
  private pending2xx: { seq: number; timer: NodeJS.Timeout; onAck: () => void } | undefined
  private reinviting = false
  /** made at the first REFER: an empty Set was ~150 bytes of every held leg */
  private subscriptions: Set<ReferClient> | undefined
  private inviteUsageEnded = false

  constructor(
    readonly stack: StackCore,
    init: DialogInit,
  ) {
    super()
    // strings cut out of a received message are slices of its whole text:
    // own copies let the message go (~600 bytes per held call retained by
    // the remote target and tag alone)
    this.callId = ownString(init.callId)
    this.localTag = ownString(init.localTag)
    this.remoteTag = ownString(init.remoteTag)
    this.id = stack.dialogKey(this.callId, this.localTag, this.remoteTag)
    this.local = ownNameAddr(init.local)
    this.remote = ownNameAddr(init.remote)
    this.remoteTarget = ownString(init.remoteTarget)
    this.routeSet = init.routeSet.map((r) => ({ uri: typeof r.uri === 'string' ? ownString(r.uri) : r.uri, params: r.params }))
    this.localSeq = init.localSeq
    this.remoteSeq = init.remoteSeq
    this.protocol = init.protocol
    this.inviteSeq = init.inviteSeq
    stack.dialogs.set(this.id, this)
  }

  private get log() {
    return this.stack.log
  }

  nextSeq(): number {
    this.localSeq += 1
    return this.localSeq
  }

  /** A request in this dialog (RFC 3261 §12.2.1.1; strict routers handled too). */
  makeRequest(method: string, headers: Record<string, unknown> = {}, content?: string): SipMessage {
    let uri = this.remoteTarget
    let route = this.routeSet.map((r) => ({ ...r }))
    const first = route[0]
    if (first && !isLooseRoute(first.uri)) {
      // the next hop is a strict router: it gets the Request-URI, and the
      // remote target goes last in the Route header
      uri = typeof first.uri === 'string' ? first.uri.replace(/^<|>$/g, '') : sipStringifyUri(first.uri)
      route = [...route.slice(1), { uri: this.remoteTarget, params: {} }]
    }
    const rq: SipMessage = {
      method,
      uri,
      headers: {
        to: { ...this.remote, params: { ...this.remote.params, tag: this.remoteTag } },
        from: { ...this.local, params: { ...this.local.params, tag: this.localTag } },
        'call-id': this.callId,
        cseq: { seq: method === 'ACK' ? this.inviteSeq : this.nextSeq(), method },
        'max-forwards': 70,
        ...(route.length ? { route } : {}),
        'user-agent': this.stack.userAgent,
        ...headers,
      },
    }
    if (content !== undefined && content.length > 0) rq.content = content
    return rq
  }

  /** our Contact in this dialog, on the transport the dialog uses */
  contact(user = this.contactUser): Array<{ uri: string; params: Record<string, never> }> {
    return [{ uri: this.stack.contactUri(user, this.protocol), params: {} }]
  }

  /** Send an in-dialog request; resolves with its final response. */
  request(
    method: string,
    headers: Record<string, unknown> = {},
    content?: string,
    onProvisional?: (rs: SipMessage) => void,
    onSent?: (sent: SentRequest) => void,
  ): Promise<SipMessage> {
    const rq = this.makeRequest(method, headers, content)
    return new Promise((resolve) => {
      const sent = this.stack.sendRequest(
        rq,
        (rs) => {
          if (rs.status! < 200) {
            onProvisional?.(rs)
            return
          }
          resolve(rs)
        },
        () => this.nextSeq(),
      )
      onSent?.(sent)
    })
  }

  /** RFC 5057: 481 or 408 to an in-dialog request ends the dialog. */
  private checkFatal(rs: SipMessage): void {
    if (rs.status === 481 || rs.status === 408) this.terminate('timeout')
  }

  // ----------------------------------------------------------------- ACK

  sendAck(sdp?: string): void {
    const headers: Record<string, unknown> = {}
    if (sdp) headers['content-type'] = 'application/sdp'
    const ack = this.makeRequest('ACK', headers, sdp)
    ack.headers.via = [this.stack.via(this.protocol)]
    if (sdp) this.localSdp = sdp
    const first = !this.ackSent
    this.lastAck = ack
    this.ackSent = true
    this.stack.sendStateless(ack)
    // a 2xx retransmitted within 64*T1 gets this ACK again; then it is dropped (expire())
    if (first) this.stack.waits.after(64 * this.stack.timers.T1, this)
  }

  /** 64*T1 after the first ACK: no 2xx retransmission is expected any more (Expiring) */
  expire(): void {
    this.lastAck = undefined
  }

  ack(sdp?: string): void {
    if (this.ackSent) return
    this.sendAck(sdp)
  }

  get acked(): boolean {
    return this.ackSent
  }

  onRetransmitted2xx(rs: SipMessage): void {
    if (rs.headers.cseq.seq === this.inviteSeq && this.lastAck) this.stack.sendStateless(this.lastAck)
  }

  // --------------------------------------------------------- re-INVITE

  async reinvite(sdp?: string): Promise<{ status: number; reason: string; sdp?: string }> {
    if (this.state !== 'confirmed') return { status: 481, reason: 'Dialog terminated' }
    if (this.reinviting) return { status: 491, reason: 'Request Pending' }
    this.reinviting = true
    try {
      const headers: Record<string, unknown> = { contact: this.contact(), allow: ALLOW }
      if (sdp) headers['content-type'] = 'application/sdp'
      const rq = this.makeRequest('INVITE', headers, sdp)
      const seq = rq.headers.cseq.seq as number
      const rs = await new Promise<SipMessage>((resolve) => {
        let done = false
        this.stack.sendRequest(
          rq,
          (r) => {
            if (r.status! < 200) return
            if (r.status! < 300) {
              // every 2xx (and its retransmissions) gets the ACK
              const ack = this.makeRequest('ACK')
              ack.headers.cseq = { seq, method: 'ACK' }
              ack.headers.via = [this.stack.via(this.protocol)]
              this.stack.sendStateless(ack)
            }
            if (!done) {
              done = true
              resolve(r)
            }
          },
          () => this.nextSeq(),
        )
      })
      if (rs.status! >= 200 && rs.status! < 300) {
        if (sdp) this.localSdp = sdp
        if (rs.content) this.remoteSdp = rs.content
        const contact = rs.headers.contact?.[0]?.uri
        if (contact) this.remoteTarget = ownString(contact)
      } else {
        this.checkFatal(rs)
      }
      const out: { status: number; reason: string; sdp?: string } = { status: rs.status!, reason: rs.reason ?? '' }
      if (rs.content) out.sdp = rs.content
      return out
    } finally {
      this.reinviting = false
    }
  }

  // -------------------------------------------------------------- BYE

  async bye(): Promise<void> {
    if (this.state === 'terminated') return
    this.terminate('local-bye')
    const rs = await this.request('BYE')
    this.log.debug({ callId: this.callId, status: rs.status }, 'BYE answered')
  }

  // ------------------------------------------------------------ REFER

  refer(options: { referTo: string; referredBy?: NameAddr }): ReferSubscription {
    const sub = new ReferClient(this, options)
    this.subscriptions ??= new Set()
    this.subscriptions.add(sub)
    sub.once('end', () => {
      this.subscriptions?.delete(sub)
      this.maybeForget()
    })
    sub.start()
    return sub
  }

  // ---------------------------------------------------------- incoming

  onRequest(m: SipMessage, st: sip.ServerTransaction, reply: Reply, remote: Remote): void {
    const seq = m.headers.cseq.seq as number
    if (seq < this.remoteSeq && m.method !== 'NOTIFY') {
      reply(500, 'CSeq Out of Order')
      return
    }
    this.remoteSeq = Math.max(this.remoteSeq, seq)
    void remote
    switch (m.method) {
      case 'BYE':
        reply(200, 'OK')
        if (this.state === 'confirmed') this.terminate('remote-bye')
        return
      case 'NOTIFY': {
        const sub = [...(this.subscriptions ?? [])].find((s) => s.matches(m))
        if (!sub) {
          reply(481, 'Subscription Does Not Exist')
          return
        }
        reply(200, 'OK')
        sub.onNotify(m)
        return
      }
      case 'OPTIONS':
        reply(200, 'OK', { allow: ALLOW, accept: 'application/sdp, message/sipfrag' })
        return
      case 'INVITE':
        this.onReinvite(m, st, reply)
        return
      case 'REFER':
        if (this.state !== 'confirmed' || this.listenerCount('refer') === 0) {
          reply(405, 'Method Not Allowed', { allow: ALLOW })
          return
        }
        this.emit('refer', new IncomingReferImpl(this, m, reply) as IncomingRefer)
        return
      default:
        reply(405, 'Method Not Allowed', { allow: ALLOW })
    }
  }

  private onReinvite(m: SipMessage, st: sip.ServerTransaction, reply: Reply): void {
    if (this.state !== 'confirmed') {
      reply(481, 'Call/Transaction Does Not Exist')
      return
    }
    if (this.reinviting || this.pending2xx) {
      reply(491, 'Request Pending')
      return
    }
    const offer = m.content ? m.content : undefined
    if (offer) this.remoteSdp = offer
    const contact = m.headers.contact?.[0]?.uri
    if (contact) this.remoteTarget = ownString(contact)
    let answered = false
    const request: IncomingReinvite = {
      sdp: offer,
      accept: (sdp?: string) => {
        if (answered) return
        answered = true
        const body = sdp ?? this.localSdp
        if (body) this.localSdp = body
        this.send2xx(m, st, body)
      },
      reject: (status: number, reason?: string) => {
        if (answered) return
        answered = true
        reply(status, reason ?? 'Not Acceptable Here')
      },
    }
    if (this.listenerCount('reinvite') === 0) request.accept(this.localSdp)
    else this.emit('reinvite', request)
  }

  /** 2xx to an INVITE, retransmitted until the ACK (RFC 3261 §13.3.1.4). */
  send2xx(m: SipMessage, st: sip.ServerTransaction, sdp: string | undefined, onAck?: () => void): void {
    const headers: Record<string, unknown> = {
      contact: this.contact(),
      allow: ALLOW,
      'user-agent': this.stack.userAgent,
    }
    if (sdp) headers['content-type'] = 'application/sdp'
    const rs = makeResponse(m, 200, 'OK', headers, sdp)
    rs.headers.to = { ...m.headers.to, params: { ...m.headers.to.params, tag: this.localTag } }
    st.send(rs)
    const seq = m.headers.cseq.seq as number
    const { T1, T2 } = this.stack.timers
    let interval = T1
    let elapsed = 0
    const tick = (): void => {
      elapsed += interval
      if (elapsed >= 64 * T1) {
        this.pending2xx = undefined
        this.log.info({ callId: this.callId }, 'no ACK for our 2xx: ending the dialog')
        void this.bye()
        return
      }
      st.send(rs)
      interval = Math.min(interval * 2, T2)
      if (this.pending2xx) this.pending2xx.timer = setTimeout(tick, interval)
    }
    this.pending2xx = { seq, timer: setTimeout(tick, interval), onAck: onAck ?? (() => undefined) }
  }

  onAck(m: SipMessage): void {
    const p = this.pending2xx
    if (!p || m.headers.cseq.seq !== p.seq) return
    clearTimeout(p.timer)
    this.pending2xx = undefined
    if (m.content) this.remoteSdp = m.content
    p.onAck()
  }

  // -------------------------------------------------------------- end

  terminate(reason: DialogEndReason): void {
    if (this.state === 'terminated') return
    this.state = 'terminated'
    this.inviteUsageEnded = true
    if (this.pending2xx) clearTimeout(this.pending2xx.timer)
    this.pending2xx = undefined
    if (reason === 'timeout' || reason === 'error') for (const s of this.subscriptions ?? []) s.dialogEnded()
    this.emit('terminated', reason)
    // 'terminated' is the last event: the listeners (the call that owned the dialog) go now, not when
    // the stack forgets the dialog 64*T1 later. They kept every ended call whole for those 32 s
    // (19,000 calls at 600 calls/s), and the collector copied and marked them all
    this.removeAllListeners()
    this.maybeForget()
  }

  private maybeForget(): void {
    if (this.inviteUsageEnded && (this.subscriptions?.size ?? 0) === 0) {
      // keep answering retransmissions for a while, then forget
      this.stack.waits.after(64 * this.stack.timers.T1, new ForgetDialog(this))
    }
  }

  /** the stack no longer finds this dialog (ForgetDialog) */
  forget(): void {
    if (this.stack.dialogs.get(this.id) === this) this.stack.dialogs.delete(this.id)
  }

  summary(): string {
    return `${this.callId} ${headerText({ headers: { x: this.remoteTarget } } as SipMessage, 'x')}`
  }
}

/** 64*T1 after a dialog's last usage ended: the stack forgets it (one small object in the stack's waits, not a timer and closure) */
class ForgetDialog implements Expiring {
  constructor(private readonly dialog: DialogImpl) {}

  expire(): void {
    this.dialog.forget()
  }
}

/**
 * The dialog's own From/To (without tag): one literal, so no spilled
 * property array (a spread copy took ~80 bytes more each, 4 per call).
 */
function ownNameAddr(h: NameAddrHeader): NameAddrHeader {
  const uri = typeof h.uri === 'string' ? ownString(h.uri) : h.uri
  return typeof h.name === 'string' ? { name: ownString(h.name), uri, params: h.params } : { uri, params: h.params }
}

/** Does this Route entry carry `;lr` (RFC 3261 §16.12.1.1)? */
function isLooseRoute(uri: string | sip.SipUri): boolean {
  if (typeof uri !== 'string') return 'lr' in (uri.params ?? {})
  const parsed = parseSipUri(uri.replace(/^<|>$/g, ''))
  return parsed === undefined || 'lr' in parsed.params
}

export function newTag(): string {
  return randomToken(6)
}

export { nameAddr }
