/** What the flows need from outside: the SIP stack and the deployment's settings. */
import type { SipStack } from '../sip'

export interface FlowSettings {
  /** ClickToCallIdentity: From URI of the server's legs */
  identity: string
  initiatorRingTimeoutMs: number
  destinationRingTimeoutMs: number
  /** how long a referral waits for its final NOTIFY after the REFER */
  referNotifyTimeoutMs: number
  /** how long, after the initiator hangs up during a referral, a final NOTIFY is still awaited */
  referByeGraceMs: number
  /** extra headers on the initiator's INVITE (auto-answer: Call-Info, Alert-Info, Answer-Mode) */
  initiatorHeaders: Record<string, string[]>
}

export interface FlowContext extends FlowSettings {
  sip: SipStack
}
