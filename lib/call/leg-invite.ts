/** Following the INVITE that places a leg: its ringing and its failure as the call's results. */
import type { OutgoingInvite } from '../sip'
import type { Call } from './call'
import type { Leg } from './leg'
import type { CallState } from './state'

/**
 * Follow the INVITE of one leg: report its first 18x as ringing, and a
 * failure as that leg's final result (then hang up the rest). The caller
 * handles 'answered'.
 */
export function placeLeg(call: Call, leg: Leg, invite: OutgoingInvite, ringing: CallState): void {
  leg.calling(invite)
  invite.on('progress', (status: number) => {
    if (status < 180 || leg.ringingReported || call.ended || call.hangingUpNow) return
    call.setState(ringing, { status })
    call.reportRinging(leg, status)
  })
  invite.on('failed', (status: number, reason: string) => {
    leg.failed(status)
    if (call.ended || call.hangingUpNow) return
    call.log.info({ status, reason, leg: leg.name }, 'leg failed')
    call.fail(leg, status)
    call.spawn('hang up', call.hangUp(`${leg.role} failed`, status === 408 ? 'timeout' : leg.role))
  })
}
