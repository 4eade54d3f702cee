/**
 * Unanchored flow (the default): REFER the answered initiator to the
 * destination (RFC 3515, Referred-By RFC 3892) and map the NOTIFY sipfrag
 * progress to Destination results. The outcome is the final fragment, not
 * the 202. An error response to the REFER falls back to the anchored flow
 * on the same call.
 */
import type { Call } from './call'
import { CallState } from './state'
import { userOf } from './uri'
import type { FlowContext } from './context'
import { connectDestination } from './bridge'

export function startReferral(call: Call, ctx: FlowContext): void {
  const dialog = call.initiator.up
  if (!dialog) return
  call.setState(CallState.Referring, { referTo: call.translatedDestination })
  call.emitEvent({ type: 'referring', target: call.translatedDestination })
  const subscription = dialog.refer({
    referTo: call.translatedDestination,
    referredBy: { uri: call.request.identity ?? ctx.identity, displayName: `Click-To-Call: ${userOf(call.translatedDestination)}` },
  })
  let settled = false
  let accepted = false

  const conclude = (code: number, why: string): void => {
    if (settled) return
    settled = true
    call.clearTimer(noNotify)
    if (code >= 200 && code < 300) {
      call.connected(CallState.Transferred)
      // the transferee talks to the destination now: the server's leg is no longer needed
      call.spawn('hang up', call.hangUp(why, 'server', 'completed'))
      return
    }
    call.fail(call.destination, code)
    call.spawn('hang up', call.hangUp(why, code === 408 ? 'timeout' : 'destination'))
  }

  const noNotify = call.timer(ctx.referNotifyTimeoutMs, () => {
    call.log.warn({ accepted }, 'no final NOTIFY for the REFER in time')
    conclude(408, 'referral timed out')
  })

  subscription.on('response', (status: number, reason: string) => {
    if (settled) return
    if (status >= 200 && status < 300) {
      accepted = true
      call.logAt('debug')?.debug({ status }, 'REFER accepted')
      return
    }
    // refused (405, 501, 603, 4xx, or a local timeout): anchored on the same call
    settled = true
    call.clearTimer(noNotify)
    call.fellBack = true
    call.log.info({ status, reason }, 'REFER refused: falling back to an anchored call')
    call.emitEvent({ type: 'fallback', status })
    if (dialog.state !== 'confirmed') {
      call.fail(call.destination, 603)
      call.spawn('hang up', call.hangUp('initiator left during REFER', 'initiator'))
      return
    }
    connectDestination(call, ctx)
  })

  subscription.on('notify', (fragment: { status: number; reason: string }, terminated: boolean) => {
    if (settled) return
    call.logAt('debug')?.debug({ status: fragment.status, terminated }, 'REFER progress')
    if (fragment.status < 180) return
    if (fragment.status < 200) {
      call.setState(CallState.RingingDestination, { status: fragment.status })
      call.reportRinging(call.destination, fragment.status)
      return
    }
    conclude(fragment.status, fragment.status < 300 ? 'transferred' : 'transfer failed')
  })

  subscription.on('end', (why: string) => {
    if (settled || why === 'rejected') return
    if (why === 'dialog-ended') return // the initiator-gone grace below decides
    // terminated (e.g. reason=timeout) or our own timer, with no final fragment
    conclude(408, `referral ended: ${why}`)
  })

  // The initiator hung up during the referral: some phones leave the
  // transferor before the final NOTIFY. Give it a moment, then 603.
  call.once('initiator-gone', () => {
    if (settled) return
    call.endedBy ??= 'initiator'
    call.timer(ctx.referByeGraceMs, () => conclude(603, 'initiator left during referral'))
  })
}
