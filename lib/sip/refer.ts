/**
 * REFER (RFC 3515) with Referred-By (RFC 3892): the referrer's side
 * (ReferClient follows the NOTIFY sipfrag progress) and the referee's side
 * (IncomingReferImpl, for simulated phones).
 */
import { EventEmitter } from 'node:events'
import type { IncomingRefer, NameAddr, ReferSubscription } from './api'
import type { DialogImpl } from './dialog'
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
    private readonly dialog: DialogImpl,
    private readonly options: { referTo: string; referredBy?: NameAddr },
  ) {
    super()
  }

  start(): void {
    const headers: Record<string, unknown> = {
      'refer-to': { uri: this.options.referTo, params: {} },
      contact: [{ uri: this.dialog.stack.contactUri(), params: {} }],
    }
    if (this.options.referredBy) {
      const rb = nameAddr(this.options.referredBy.uri, this.options.referredBy.displayName)
      headers['referred-by'] = `${rb.name ? `${rb.name} ` : ''}<${rb.uri}>`
    }
    this.timer = setTimeout(() => this.end('timeout'), this.dialog.stack.timers.noNotifyTimeoutMs)
    this.timer.unref()
    const rq = this.dialog.request('REFER', headers)
    void rq.then((rs) => {
      if (this.ended) return
      this.emit('response', rs.status!, rs.reason ?? '')
      if (rs.status! >= 300) this.end('rejected')
    })
  }

  /** NOTIFY with Event: refer belongs to us (one REFER per dialog at a time). */
  matches(m: SipMessage): boolean {
    return !this.ended && /^refer\b/i.test(headerText(m, 'event') || headerText(m, 'o'))
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
  }
}

type Reply = (status: number, reason: string, headers?: Record<string, unknown>, content?: string) => void

export class IncomingReferImpl implements IncomingRefer {
  readonly referTo: string
  readonly referredBy: string | undefined
  private answered = false

  constructor(
    private readonly dialog: DialogImpl,
    m: SipMessage,
    private readonly reply: Reply,
  ) {
    const rt = m.headers['refer-to']
    this.referTo = typeof rt === 'object' && rt ? String(rt.uri) : String(rt ?? '')
    this.referredBy = m.headers['referred-by'] ? headerText(m, 'referred-by') : undefined
  }

  accept(): void {
    if (this.answered) return
    this.answered = true
    this.reply(202, 'Accepted', { contact: [{ uri: this.dialog.stack.contactUri('phone'), params: {} }] })
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
        event: 'refer',
        'subscription-state': terminated ? 'terminated;reason=noresource' : 'active;expires=60',
        'content-type': 'message/sipfrag;version=2.0',
        contact: [{ uri: this.dialog.stack.contactUri('phone'), params: {} }],
      },
      `SIP/2.0 ${status} ${reason}\r\n`,
    )
  }
}
