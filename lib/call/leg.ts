/**
 * The server's side of one leg: the INVITE in progress and/or the dialog, the
 * o= origin this server presents to that phone, the SDP last sent to it, and
 * what the call's records need (status, codes, times). A leg's dialog may be
 * replaced by a transfer or a join; the role stays.
 */
import type { Dialog, OutgoingInvite } from '../sip'
import type { LegName, LegRole, LegSnapshot, LegStatus } from './api'
import { SdpOrigin } from './sdp'

export class Leg {
  readonly name: LegName
  invite: OutgoingInvite | undefined
  dialog: Dialog | undefined
  /** the o= line this phone sees from us (RFC 3264 §8: one origin per session) */
  origin: SdpOrigin
  /** the SDP this server last sent on this leg */
  localSdp: string | undefined
  /** a 18x was already reported for this leg */
  ringingReported = false
  status: LegStatus = 'idle'
  code: number | null = null
  answeredAt: number | null = null
  endedAt: number | null = null
  sipCallId: string | null = null
  /** held by the hold verb: the direction it had before (restored by unhold) */
  heldFrom: string | undefined
  /** the phone itself put the other party on hold (a=sendonly/inactive in its re-INVITE) */
  remoteHold = false

  constructor(
    readonly role: LegRole,
    public uri: string,
    host: string,
  ) {
    this.name = role === 'initiator' ? 'Initiator' : 'Destination'
    this.origin = new SdpOrigin(host)
  }

  get held(): boolean {
    return this.heldFrom !== undefined
  }

  /** the dialog, when confirmed */
  get up(): Dialog | undefined {
    return this.dialog && this.dialog.state === 'confirmed' ? this.dialog : undefined
  }

  calling(invite: OutgoingInvite): void {
    this.invite = invite
    this.status = 'calling'
    this.sipCallId = invite.callId
    this.code = null
  }

  answered(dialog: Dialog): void {
    this.invite = undefined
    this.dialog = dialog
    this.status = 'answered'
    this.code = 200
    this.answeredAt = Date.now()
    this.sipCallId = dialog.callId
  }

  failed(code: number): void {
    this.invite = undefined
    this.status = 'ended'
    this.code = code
    this.endedAt ??= Date.now()
  }

  gone(): void {
    if (this.status !== 'ended') {
      this.status = 'ended'
      this.endedAt = Date.now()
    }
  }

  /** Take over another leg's dialog (join): its phone, origin and SDP state. */
  adopt(other: Leg): void {
    this.invite = undefined
    this.dialog = other.dialog
    this.origin = other.origin
    this.localSdp = other.localSdp
    this.uri = other.uri
    this.status = other.status
    this.code = other.code
    this.answeredAt = other.answeredAt
    this.endedAt = null
    this.sipCallId = other.sipCallId
    this.heldFrom = other.heldFrom
    this.remoteHold = other.remoteHold
    other.dialog = undefined
  }

  snapshot(): LegSnapshot {
    return {
      role: this.role,
      uri: this.uri,
      status: this.status,
      sipCallId: this.sipCallId,
      held: this.held,
      code: this.code,
      answeredAt: this.answeredAt,
      endedAt: this.endedAt,
    }
  }
}
