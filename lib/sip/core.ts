/**
 * What the parts of the SIP layer ask of each other, as interfaces: the
 * stack of its dialogs and INVITE transactions, and they of the stack. The
 * classes (Stack, DialogImpl, InviteClient, IncomingInviteImpl, the REFER
 * subscriptions) implement these, so their files name each other's shape
 * here instead of importing each other's classes: no ring, not even of types.
 */
import type { Logger } from 'pino'
import type * as sip from 'sip'
import type { SipMessage } from './message'
import type { CallIdMap } from './call-index'
import type { Protocol, Remote } from './transport'
import type { Waits } from './waits'

export interface Timers {
  T1: number
  T2: number
  T4: number
  noNotifyTimeoutMs: number
}

export type ResponseHandler = (rs: SipMessage) => void

/** how a request handler answers (status, reason, extra headers, body) */
export type Reply = (status: number, reason: string, headers?: Record<string, unknown>, content?: string) => void

export interface SentRequest {
  /** the request as sent (Via branch filled) */
  request: SipMessage
  remote: Remote | undefined
  /** end the client transaction now; no further responses are reported */
  abort(): void
}

/** what the stack asks of a dialog when a message for it arrives */
export interface StackDialog {
  readonly callId: string
  onRequest(m: SipMessage, st: sip.ServerTransaction, reply: Reply, remote: Remote): void
  onAck(m: SipMessage): void
  onRetransmitted2xx(m: SipMessage): void
}

/** what the stack asks of an outgoing INVITE after its transaction */
export interface StackClientInvite {
  onLate2xx(m: SipMessage): void
  abandon(): void
}

/** what the stack asks of an incoming INVITE (its CANCEL) */
export interface StackServerInvite {
  readonly callId: string
  readonly localTag: string
  onCancel(): void
}

/** what dialogs, INVITE transactions and REFER subscriptions ask of the stack */
export interface StackCore {
  readonly log: Logger
  readonly userAgent: string
  readonly timers: Timers
  readonly waits: Waits
  readonly dialogs: CallIdMap<string, StackDialog>
  readonly clientInvites: Map<string, StackClientInvite>
  readonly serverInvites: CallIdMap<string, StackServerInvite>
  contactUri(user?: string, protocol?: Protocol): string
  applyOutboundProxy(rq: SipMessage): void
  sendRequest(rq: SipMessage, onResponse: ResponseHandler, bumpCSeq?: () => number): SentRequest
  sendStateless(m: SipMessage, remote?: Remote): void
  via(protocol: Protocol): Record<string, unknown>
  dialogKey(callId: string, localTag: string, remoteTag: string): string
}

/** what a REFER subscription asks of its dialog */
export interface ReferDialog {
  readonly callId: string
  readonly stack: StackCore
  contact(user?: string): Array<{ uri: string; params: Record<string, never> }>
  request(
    method: string,
    headers?: Record<string, unknown>,
    content?: string,
    onProvisional?: (rs: SipMessage) => void,
    onSent?: (sent: SentRequest) => void,
  ): Promise<SipMessage>
}
