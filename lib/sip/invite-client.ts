/**
 * An outgoing INVITE (RFC 3261 §13.2): provisional responses reported, every
 * 2xx ACKed by us (retransmissions and other forks included; a second fork is
 * ACKed and hung up), CANCEL after a provisional response, a ring timer
 * (Timer C style) that CANCELs and reports 408.
 */
import { EventEmitter } from 'node:events'
import type * as sip from 'sip'
import { parseSipUri } from './uri'
import type { InviteOptions, OutgoingInvite } from './api'
import { ALLOW } from './constants'
import type { SentRequest, StackClientInvite, StackCore } from './core'
import { DialogImpl, newTag } from './dialog'
import { nameAddr, randomToken, type SipMessage } from './message'
import type { Protocol } from './transport'
import type { Expiring } from './waits'

export class InviteClient extends EventEmitter implements OutgoingInvite, StackClientInvite, Expiring {
  readonly callId: string
  private readonly localTag = newTag()
  private request: SipMessage | undefined
  private final = false
  private provisional = false
  private cancelWanted = false
  private cancelSent = false
  private timedOut = false
  private ringTimer: NodeJS.Timeout | undefined
  private dialog: DialogImpl | undefined
  private protocol: Protocol = 'UDP'
  private seq = 1

  constructor(
    private readonly stack: StackCore,
    private readonly options: InviteOptions,
  ) {
    super()
    this.callId = `${randomToken(12)}@clicktocall`
    stack.clientInvites.set(this.callId, this)
    const target = parseSipUri(options.target)
    if (!target || (target.schema !== 'sip' && target.schema !== 'sips')) {
      process.nextTick(() => this.fail(416, 'Unsupported URI Scheme'))
      return
    }
    this.protocol = ((target.params?.transport ?? (target.schema === 'sips' ? 'tls' : 'udp')).toUpperCase() as Protocol)
    this.send()
    if (options.ringTimeoutMs && options.ringTimeoutMs > 0) {
      this.ringTimer = setTimeout(() => {
        if (this.final) return
        this.timedOut = true
        stack.log.info({ callId: this.callId, target: options.target }, 'ring timeout: cancelling')
        this.cancel()
      }, options.ringTimeoutMs)
      this.ringTimer.unref()
    }
  }

  private send(): void {
    const o = this.options
    const headers: Record<string, unknown> = {
      to: nameAddr((o.to ?? { uri: o.target }).uri, o.to?.displayName),
      from: nameAddr(o.from.uri, o.from.displayName, { tag: this.localTag }),
      'call-id': this.callId,
      cseq: { seq: this.seq, method: 'INVITE' },
      contact: [{ uri: this.stack.contactUri('click2call', this.protocol), params: {} }],
      'max-forwards': 70,
      'user-agent': this.stack.userAgent,
      allow: ALLOW,
    }
    for (const [name, value] of Object.entries(o.headers ?? {})) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
    }
    if (o.sdp) headers['content-type'] = 'application/sdp'
    const rq: SipMessage = { method: 'INVITE', uri: o.target, headers }
    if (o.sdp) rq.content = o.sdp
    this.stack.applyOutboundProxy(rq)
    const sent = this.stack.sendRequest(rq, (rs) => this.onResponse(rs), () => ++this.seq)
    this.request = sent.request
    this.sent = sent
  }

  private sent: SentRequest | undefined
  /** the INVITE transaction had its final response */
  private answeredFinal = false

  private onResponse(rs: SipMessage): void {
    const status = rs.status!
    if (status < 200) {
      // any provisional lets a wanted CANCEL go (RFC 3261 §9.1)
      this.provisional = true
      if (this.cancelWanted) this.sendCancel()
      if (this.final) return
      this.emit('progress', status, rs.reason ?? '')
      return
    }
    this.answeredFinal = true
    if (status < 300) {
      this.on2xx(rs)
      return
    }
    this.fail(this.timedOut ? 408 : status, this.timedOut ? 'Request Timeout' : rs.reason ?? '')
  }

  private on2xx(rs: SipMessage): void {
    const toTag = String(rs.headers.to?.params?.tag ?? '')
    if (this.dialog) {
      if (toTag === this.dialog.remoteTag) this.dialog.onRetransmitted2xx(rs)
      else this.hangUpFork(rs)
      return
    }
    const d = this.makeDialog(rs)
    this.dialog = d
    if (this.final) {
      // the 2xx raced our CANCEL (or we were abandoned): ACK, then BYE
      d.sendAck()
      void d.bye()
      return
    }
    this.final = true
    this.clearRing()
    this.stack.waits.after(64 * this.stack.timers.T1, this)
    if (this.cancelWanted) {
      d.sendAck()
      void d.bye()
      this.final = true
      this.emit('failed', this.timedOut ? 408 : 487, this.timedOut ? 'Request Timeout' : 'Request Terminated')
      this.settled()
      return
    }
    d.remoteSdp = rs.content ? rs.content : undefined
    if (this.options.sdp) {
      d.localSdp = this.options.sdp
      d.sendAck()
    } else {
      // offerless INVITE: the owner answers in the ACK; do not wait forever
      this.stack.waits.after(32 * this.stack.timers.T1, new AnswerDeadline(this.stack, d))
    }
    this.emit('answered', d, d.remoteSdp)
    this.settled()
  }

  /**
   * After its final event an invite emits nothing more, but the stack keeps it
   * 64*T1 for late 2xx: its listeners (the call's flow) go, so that they do
   * not keep the call alive for those 32 s.
   */
  private settled(): void {
    this.removeAllListeners()
  }

  private makeDialog(rs: SipMessage): DialogImpl {
    const rr = (rs.headers['record-route'] ?? []) as Array<{ uri: string | sip.SipUri; params: Record<string, string | null> }>
    const request = this.sent?.request ?? this.request!
    return new DialogImpl(this.stack, {
      callId: this.callId,
      localTag: this.localTag,
      remoteTag: String(rs.headers.to?.params?.tag ?? ''),
      local: { ...request.headers.from, params: {} },
      remote: { ...rs.headers.to, params: {} },
      remoteTarget: String(rs.headers.contact?.[0]?.uri ?? request.uri),
      routeSet: [...rr].reverse().map((r) => ({ uri: r.uri, params: r.params ?? {} })),
      localSeq: request.headers.cseq.seq as number,
      remoteSeq: 0,
      protocol: this.protocol,
      inviteSeq: request.headers.cseq.seq as number,
    })
  }

  /** a 2xx from a second fork: confirm it and end it at once */
  private hangUpFork(rs: SipMessage): void {
    const d = this.makeDialog(rs)
    d.sendAck()
    void d.bye()
  }

  /** 2xx after the transaction ended (retransmission or late fork) */
  onLate2xx(rs: SipMessage): void {
    this.on2xx(rs)
  }

  cancel(): void {
    if (this.final || this.cancelWanted) return
    this.cancelWanted = true
    if (this.provisional) {
      this.sendCancel()
      return
    }
    // nothing heard yet: a CANCEL may not be sent before a provisional response
    // (RFC 3261 §9.1); report the failure now, CANCEL if one comes later, and
    // ACK+BYE a late 2xx
    this.fail(this.timedOut ? 408 : 487, this.timedOut ? 'Request Timeout' : 'Request Terminated')
  }

  private sendCancel(): void {
    if (this.cancelSent || !this.sent) return
    this.cancelSent = true
    const inv = this.sent.request
    const cancel: SipMessage = {
      method: 'CANCEL',
      uri: inv.uri,
      headers: {
        via: inv.headers.via,
        to: inv.headers.to,
        from: inv.headers.from,
        'call-id': inv.headers['call-id'],
        cseq: { seq: inv.headers.cseq.seq, method: 'CANCEL' },
        'max-forwards': 70,
        ...(inv.headers.route ? { route: inv.headers.route } : {}),
        'user-agent': this.stack.userAgent,
      },
    }
    this.stack.sendRequest(cancel, () => undefined)
    // RFC 3261 §9.1: no final response to the INVITE 64*T1 after the CANCEL:
    // the transaction is over (the package's would wait forever in Proceeding)
    const t = setTimeout(() => {
      if (this.answeredFinal) return
      this.stack.log.info({ callId: this.callId }, 'no final response after CANCEL: giving up')
      this.sent?.abort()
      this.fail(this.timedOut ? 408 : 487, this.timedOut ? 'Request Timeout' : 'Request Terminated')
    }, 64 * this.stack.timers.T1)
    t.unref()
  }

  private clearRing(): void {
    if (this.ringTimer) clearTimeout(this.ringTimer)
    this.ringTimer = undefined
  }

  private fail(status: number, reason: string): void {
    if (this.final) return
    this.final = true
    this.clearRing()
    this.stack.waits.after(64 * this.stack.timers.T1, this)
    this.emit('failed', status, reason)
    this.settled()
  }

  /** stack closing: report a failure if nothing final happened */
  abandon(): void {
    this.fail(503, 'Service Unavailable')
  }

  /** 64*T1 after the final response: no late 2xx is expected any more (Expiring) */
  expire(): void {
    if (this.stack.clientInvites.get(this.callId) === this) this.stack.clientInvites.delete(this.callId)
  }
}

/**
 * An offerless INVITE's 2xx carries the offer and our ACK the answer: an
 * owner that has not answered within 32*T1 gets the ACK sent without one,
 * and the call hung up. Held by the stack's waits, not a timer and closure.
 */
class AnswerDeadline {
  constructor(
    private readonly stack: StackCore,
    private readonly dialog: DialogImpl,
  ) {}

  expire(): void {
    const d = this.dialog
    if (d.acked || d.state !== 'confirmed') return
    this.stack.log.warn({ callId: d.callId }, 'no answer for the offer in time: ACK and BYE')
    d.sendAck()
    void d.bye()
  }
}
