/**
 * REFER (RFC 3515) with Referred-By (RFC 3892): the referrer's side
 * (ReferClient follows the NOTIFY sipfrag progress) and the referee's side
 * (IncomingReferImpl, for simulated phones).
 */
import { EventEmitter } from 'node:events'
import type { IncomingRefer, NameAddr, ReferSubscription } from './api'
import type { ReferDialog, Reply, SentRequest } from './core'
import { headerText, nameAddr, type SipMessage } from './message'

/** `SIP/2.0 180 Ringing` -> {180, 'Ringing'}; anything else is a 400 (as the original). */
export function parseSipfrag(body: string | undefined): { status: number; reason: string } {
  const m = /^\s*SIP\/2\.0[ \t]+(\d{3})[ \t]*([^\r\n]*)/.exec(body ?? '')
  if (!m) return { status: 400, reason: 'Bad sipfrag' }
  return { status: Number(m[1]), reason: m[2]!.trim() }
}

export class ReferClient extends EventEmitter implements ReferSubscription {
  private ended = false
  private timer: NodeJS.Timeout | undefined
  private seq = 0

  constructor(
    private readonly dialog: ReferDialog,
    private readonly options: { referTo: string; referredBy?: NameAddr },
  ) {
    super()
  }

  start(): void {
    const headers: Record<string, unknown> = {
      'refer-to': { uri: this.options.referTo, params: {} },
      contact: this.dialog.contact(),
    }
    if (this.options.referredBy) {
      const rb = nameAddr(this.options.referredBy.uri, this.options.referredBy.displayName)
      headers['referred-by'] = `${rb.name ? `${rb.name} ` : ''}<${rb.uri}>`
    }
    this.timer = setTimeout(() => this.end('timeout'), this.dialog.stack.timers.noNotifyTimeoutMs)
    this.timer.unref()
    const rq = this.dialog.request('REFER', headers, undefined, undefined, (sent) => {
      this.sent = sent
    })
    rq.then((rs) => {
      if (this.ended) return
      this.emit('response', rs.status!, rs.reason ?? '')
      if (rs.status! >= 300) this.end('rejected')
    }).catch((err: unknown) => this.dialog.stack.log.error({ err, callId: this.dialog.callId }, 'REFER response handling failed'))
  }

  private sent: SentRequest | undefined

  /**
   * A NOTIFY with `Event: refer` belongs to us when its `id` is our REFER's
   * CSeq, or when it has no id (the first REFER of a dialog may omit it).
   */
  matches(m: SipMessage): boolean {
    if (this.ended) return false
    const event = /^\s*refer\b(.*)$/i.exec(headerText(m, 'event') || headerText(m, 'o'))
    if (!event) return false
    const id = /;\s*id\s*=\s*(\d+)/i.exec(event[1]!)
    if (!id) return true
    const seq = this.sent?.request.headers.cseq?.seq
    return seq === undefined || Number(id[1]) === Number(seq)
  }

  onNotify(m: SipMessage): void {
    if (this.ended) return
    const seq = m.headers.cseq.seq as number
    if (seq <= this.seq) return // retransmitted or out of order
    this.seq = seq
    const fragment = parseSipfrag(m.content)
    const state = headerText(m, 'subscription-state').toLowerCase()
    const terminated = state.startsWith('terminated')
    this.emit('notify', fragment, terminated)
    if (terminated) this.end('terminated')
  }

  dialogEnded(): void {
    this.end('dialog-ended')
  }

  private end(why: 'terminated' | 'rejected' | 'timeout' | 'dialog-ended'): void {
    if (this.ended) return
    this.ended = true
    if (this.timer) clearTimeout(this.timer)
    this.emit('end', why)
    // nothing is emitted after 'end': the listeners (the call's flow) go, so that
    // a subscription the dialog still knows does not keep the whole call alive
    this.removeAllListeners()
  }
}


export class IncomingReferImpl implements IncomingRefer {
  readonly referTo: string
  readonly referredBy: string | undefined
  private answered = false
  /** the REFER's CSeq, the `id` of our NOTIFYs' Event (RFC 3515 §2.4.6) */
  private readonly referSeq: number

  constructor(
    private readonly dialog: ReferDialog,
    m: SipMessage,
    private readonly reply: Reply,
  ) {
    this.referSeq = Number(m.headers.cseq.seq)
    const rt = m.headers['refer-to']
    this.referTo = typeof rt === 'object' && rt ? String(rt.uri) : String(rt ?? '')
    this.referredBy = m.headers['referred-by'] ? headerText(m, 'referred-by') : undefined
  }

  accept(): void {
    if (this.answered) return
    this.answered = true
    this.reply(202, 'Accepted', { contact: this.dialog.contact() })
  }

  reject(status: number, reason?: string): void {
    if (this.answered) return
    this.answered = true
    this.reply(status, reason ?? 'Decline')
  }

  async notify(status: number, reason: string, terminated: boolean): Promise<void> {
    await this.dialog.request(
      'NOTIFY',
      {
        event: `refer;id=${this.referSeq}`,
        'subscription-state': terminated ? 'terminated;reason=noresource' : 'active;expires=60',
        'content-type': 'message/sipfrag;version=2.0',
        contact: this.dialog.contact(),
      },
      `SIP/2.0 ${status} ${reason}\r\n`,
    )
  }
}
