/**
 * An incoming INVITE (UAS, RFC 3261 §13.3): used by simulated phones.
 * 100 Trying at once; progress(); accept() with 2xx retransmission until the
 * ACK; reject(); CANCEL answered 487.
 */
import { EventEmitter } from 'node:events'
import type * as sip from 'sip'
import type { Dialog, IncomingInvite, NameAddr } from './api'
import type { StackCore, StackServerInvite } from './core'
import type { Remote } from './transport'
import { DialogImpl, newTag } from './dialog'
import { makeResponse, unquote, type SipMessage } from './message'
import { parseSipUri } from './uri'

export class IncomingInviteImpl extends EventEmitter implements IncomingInvite, StackServerInvite {
  readonly callId: string
  readonly requestUri: string
  readonly from: NameAddr
  readonly to: NameAddr
  readonly sdp: string | undefined
  readonly headers: Record<string, unknown>
  private final = false
  /** our To tag for every response to this INVITE (and to its CANCEL) */
  readonly localTag = newTag()
  private readonly branch: string

  constructor(
    private readonly stack: StackCore,
    private readonly m: SipMessage,
    private readonly st: sip.ServerTransaction,
    private readonly remote: Remote,
  ) {
    super()
    this.callId = String(m.headers['call-id'])
    this.requestUri = String(m.uri)
    const from = m.headers.from
    const to = m.headers.to
    this.from = { uri: String(from.uri), ...(from.name ? { displayName: unquote(from.name)! } : {}) }
    this.to = { uri: String(to.uri), ...(to.name ? { displayName: unquote(to.name)! } : {}) }
    this.sdp = m.content ? m.content : undefined
    this.headers = m.headers
    this.branch = String(m.headers.via[0].params.branch)
    stack.serverInvites.set(this.branch, this)
    st.send(makeResponse(m, 100, 'Trying'))
  }

  /** our Contact's user part: the user the INVITE was addressed to */
  private get contactUser(): string {
    const user = parseSipUri(this.requestUri)?.user
    return user && /^[\w.!~*'()&=+$,%-]+$/.test(user) ? user : 'phone'
  }

  private respond(status: number, reason: string, extra: Record<string, unknown> = {}): void {
    const rs = makeResponse(this.m, status, reason, extra, undefined, this.stack.userAgent)
    rs.headers.to = { ...this.m.headers.to, params: { ...this.m.headers.to.params, tag: this.localTag } }
    this.st.send(rs)
  }

  progress(status = 180, reason = 'Ringing'): void {
    if (this.final) return
    this.respond(status, reason, { contact: [{ uri: this.stack.contactUri(this.contactUser, this.remote.protocol), params: {} }] })
  }

  accept(sdp?: string): Promise<Dialog> {
    if (this.final) return Promise.reject(new Error('already answered'))
    this.final = true
    this.forget()
    const m = this.m
    const dialog = new DialogImpl(this.stack, {
      callId: this.callId,
      localTag: this.localTag,
      remoteTag: String(m.headers.from.params?.tag ?? ''),
      local: { ...m.headers.to, params: {} },
      remote: { ...m.headers.from, params: {} },
      remoteTarget: String(m.headers.contact?.[0]?.uri ?? m.headers.from.uri),
      routeSet: ((m.headers['record-route'] ?? []) as Array<{ uri: string; params: Record<string, string | null> }>).map((r) => ({
        uri: r.uri,
        params: r.params ?? {},
      })),
      localSeq: Math.floor(Math.random() * 10000),
      remoteSeq: m.headers.cseq.seq as number,
      protocol: this.remote.protocol,
      inviteSeq: 0,
    })
    dialog.contactUser = this.contactUser
    dialog.remoteSdp = this.sdp
    dialog.localSdp = sdp
    return new Promise<Dialog>((resolve, reject) => {
      dialog.once('terminated', () => reject(new Error('no ACK')))
      dialog.send2xx(m, this.st, sdp, () => resolve(dialog))
    })
  }

  reject(status: number, reason = 'Busy Here'): void {
    if (this.final) return
    this.final = true
    this.forget()
    this.respond(status, reason)
  }

  onCancel(): void {
    if (this.final) return
    this.final = true
    this.forget()
    this.respond(487, 'Request Terminated')
    this.emit('cancel')
  }

  private forget(): void {
    // 64*T1 (32 s by default): a late CANCEL still finds its INVITE
    this.stack.waits.after(64 * this.stack.timers.T1, this)
  }

  /** the 64*T1 of forget() are over (Expiring) */
  expire(): void {
    if (this.stack.serverInvites.get(this.branch) === this) this.stack.serverInvites.delete(this.branch)
  }
}
