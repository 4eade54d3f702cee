/**
 * Simulated phones: real SIP endpoints on our own stack (messages cross real
 * sockets), for tests and the demo. A phone answers, refuses, or rings
 * forever; with followRefer it performs a blind transfer itself (RFC 3515):
 * 202, NOTIFY 100, calls the Refer-To target, NOTIFYs 180/200 or the failure.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { createSipStack, type Dialog, type IncomingInvite, type SipStack } from '../sip'

export type PhoneBehaviour = 'answer' | 'busy' | 'no-answer' | 'reject-refer'

export interface PhoneOptions {
  name: string
  address?: string
  port?: number
  behaviour: PhoneBehaviour
  answerAfterMs?: number
  followRefer?: boolean
  /** how a following phone reports a transfer: normally; a NOTIFY before its 202; never a final NOTIFY */
  referStyle?: 'normal' | 'notify-before-202' | 'no-final-notify' | 'bye-after-202' | 'bye-silent'
  /** hang up this long after answering */
  hangUpAfterMs?: number
  logger: Logger
}

export interface PhoneEvent {
  type: 'invite' | 'answered' | 'rejected' | 'cancelled' | 'bye' | 'refer' | 'reinvite' | 'transfer-result'
  at: number
  sdp?: string
  status?: number
  detail?: string
}

export class Phone extends EventEmitter {
  readonly events: PhoneEvent[] = []
  readonly dialogs: Dialog[] = []
  readonly sdp: string

  constructor(
    readonly name: string,
    readonly stack: SipStack,
    private readonly options: PhoneOptions,
  ) {
    super()
    const host = stack.host.replace(/^\[|\]$/g, '')
    const mediaPort = 20000 + (stack.port % 20000)
    this.sdp = `v=0\r\no=${name} 1 1 IN IP4 ${host}\r\ns=${name}\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${mediaPort} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`
    stack.on('invite', (inv: IncomingInvite) => this.onInvite(inv))
  }

  get uri(): string {
    return `sip:${this.name}@${this.stack.host}:${this.stack.port}`
  }

  private record(e: Omit<PhoneEvent, 'at'>): void {
    const full = { ...e, at: Date.now() }
    this.events.push(full)
    this.emit('event', full)
  }

  /** Resolves when an event of that type has happened (now or later), or rejects after ms. */
  waitFor(type: PhoneEvent['type'], ms = 10000): Promise<PhoneEvent> {
    const seen = this.events.find((e) => e.type === type)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('event', on)
        reject(new Error(`${this.name}: no ${type} within ${ms} ms`))
      }, ms)
      const on = (e: PhoneEvent): void => {
        if (e.type !== type) return
        clearTimeout(t)
        this.off('event', on)
        resolve(e)
      }
      this.on('event', on)
    })
  }

  private onInvite(inv: IncomingInvite): void {
    this.record({ type: 'invite', ...(inv.sdp ? { sdp: inv.sdp } : {}), detail: inv.from.displayName ?? '' })
    inv.on('cancel', () => this.record({ type: 'cancelled' }))
    switch (this.options.behaviour) {
      case 'busy':
        inv.reject(486, 'Busy Here')
        this.record({ type: 'rejected', status: 486 })
        return
      case 'no-answer':
        inv.progress(180)
        return
      default:
        inv.progress(180)
        setTimeout(() => void this.answer(inv), this.options.answerAfterMs ?? 50).unref()
    }
  }

  private async answer(inv: IncomingInvite): Promise<void> {
    let dialog: Dialog
    try {
      dialog = await inv.accept(this.sdp)
    } catch {
      return
    }
    this.dialogs.push(dialog)
    this.record({ type: 'answered' })
    this.watch(dialog)
    if (this.options.hangUpAfterMs !== undefined) {
      setTimeout(() => {
        if (dialog.state === 'confirmed') void dialog.bye()
      }, this.options.hangUpAfterMs).unref()
    }
  }

  private watch(dialog: Dialog): void {
    dialog.on('terminated', (reason) => {
      if (reason === 'remote-bye') this.record({ type: 'bye' })
    })
    dialog.on('reinvite', (r) => {
      this.record({ type: 'reinvite', ...(r.sdp ? { sdp: r.sdp } : {}) })
      r.accept(this.sdp)
    })
    dialog.on('refer', (refer) => {
      this.record({ type: 'refer', detail: refer.referTo })
      if (this.options.behaviour === 'reject-refer' || !this.options.followRefer) {
        refer.reject(603, 'Decline')
        return
      }
      const style = this.options.referStyle ?? 'normal'
      if (style === 'notify-before-202') void refer.notify(100, 'Trying', false)
      refer.accept()
      if (style === 'bye-after-202' || style === 'bye-silent') void dialog.bye()
      if (style === 'bye-silent') return
      if (style === 'no-final-notify') {
        void refer.notify(100, 'Trying', false)
        return
      }
      void (async () => {
        if (style !== 'notify-before-202') await refer.notify(100, 'Trying', false)
        const call = this.stack.invite({ target: refer.referTo, from: { uri: this.uri, displayName: this.name }, sdp: this.sdp })
        call.on('progress', (status: number, reason: string) => {
          if (status >= 180) void refer.notify(status, reason, false)
        })
        call.on('answered', (d: Dialog) => {
          this.dialogs.push(d)
          this.watch(d)
          this.record({ type: 'transfer-result', status: 200 })
          void refer.notify(200, 'OK', true)
        })
        call.on('failed', (status: number, reason: string) => {
          this.record({ type: 'transfer-result', status })
          void refer.notify(status, reason, true)
        })
      })()
    })
  }

  /** Hang up every call of this phone. */
  async hangUp(): Promise<void> {
    await Promise.all(this.dialogs.filter((d) => d.state === 'confirmed').map((d) => d.bye()))
  }

  close(): Promise<void> {
    return this.stack.close()
  }
}

export async function createPhone(options: PhoneOptions): Promise<Phone> {
  const stack = await createSipStack({
    address: options.address ?? '127.0.0.1',
    port: options.port ?? 0,
    advertisedHost: options.address ?? '127.0.0.1',
    keepAlives: false,
    userAgent: `clicktocall-phone/${options.name}`,
    logger: options.logger,
  })
  return new Phone(options.name, stack, options)
}
