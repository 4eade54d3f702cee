/**
 * Setting up a call, as one story: call the initiator (a held offer, as the
 * original), report its ringing and answer, then hand over to the referral
 * (unanchored, referral.ts) or the bridge (anchored, bridge.ts). Whatever the
 * phones do, the client gets one final result within a bounded time.
 */
import type { Dialog, DialogEndReason } from '../sip'
import type { Call } from './call'
import type { Leg } from './leg'
import { CallState } from './state'
import { Texts } from './texts'
import { userOf } from './uri'
import type { FlowContext } from './context'
import { startReferral } from './referral'
import { connectDestination } from './bridge'
import { placeLeg } from './leg-invite'

export function runCall(call: Call, ctx: FlowContext): void {
  const ringMs = call.request.initiatorRingTimeoutMs ?? ctx.initiatorRingTimeoutMs
  const bound = ringMs + ctx.destinationRingTimeoutMs + ctx.referNotifyTimeoutMs + 30_000
  call.timerUntilFinal(bound, () => {
    if (call.reportedFinal) return
    call.log.warn({ boundMs: bound, state: call.state }, 'call setup exceeded its bound')
    call.failCurrentLeg(408)
    call.spawn('hang up', call.hangUp('setup bound exceeded', 'timeout'))
  })
  call.handlers = { gone: (leg, reason) => legGoneDuringSetup(call, leg, reason), reinvite: (leg, rq) => rq.accept(leg.localSdp) }

  call.setState(CallState.CallingInitiator, { target: call.translatedInitiator })
  // The INVITE is built and sent once this turn of the event loop has read
  // every request that was waiting: each front-end's `100 In progress` goes
  // out first instead of queueing behind the SIP work of the calls read
  // before it (issue 16: the 100's p99 was the SIP work of a burst).
  setImmediate(() => {
    if (call.ended || call.hangingUpNow) return // ended before it began: nothing to release
    try {
      inviteInitiator(call, ctx, ringMs)
    } catch (err) {
      call.log.error({ err }, 'the INVITE to the initiator could not be sent')
      call.fail(call.initiator, 503)
      call.spawn('hang up', call.hangUp('initiator INVITE failed', 'server'))
    }
  })
}

/** The INVITE to the initiator, and what its answer leads to. */
function inviteInitiator(call: Call, ctx: FlowContext, ringMs: number): void {
  const offer = call.initiator.origin.heldOffer()
  call.initiator.localSdp = offer
  const headers: Record<string, string[]> = { ...ctx.initiatorHeaders }
  if (call.request.subject) headers['Subject'] = [call.request.subject]
  const invite = ctx.sip.invite({
    target: call.translatedInitiator,
    from: { uri: call.request.identity ?? ctx.identity, displayName: `Click-To-Call: ${userOf(call.translatedDestination)}` },
    sdp: offer,
    headers,
    ringTimeoutMs: ringMs,
  })
  placeLeg(call, call.initiator, invite, CallState.RingingInitiator)
  invite.on('answered', (dialog: Dialog) => {
    if (call.ended || call.hangingUpNow) return // the teardown BYEs what answered late
    call.attach(call.initiator, dialog)
    call.report(200, 'Initiator', Texts.connectedInitiator)
    call.setState(CallState.InitiatorConnected)
    if (call.anchor) connectDestination(call, ctx)
    else startReferral(call, ctx)
  })
}

/** A leg's dialog ended (BYE from the phone, or a timeout) before the call was up. */
function legGoneDuringSetup(call: Call, leg: Leg, reason: DialogEndReason): void {
  const by = reason === 'timeout' ? 'timeout' : leg.role
  call.logAt('info')?.info({ reason, state: call.state, leg: leg.role }, `${leg.role} left`)
  if (leg.role === 'initiator') {
    const ringing = call.destination.invite
    if (ringing && (call.state === CallState.CallingDestination || call.state === CallState.RingingDestination || call.state === CallState.Referring)) {
      // anchored: CANCEL the ringing destination; its 487 is the final result
      call.endedBy ??= by
      ringing.cancel()
      return
    }
    if (call.state === CallState.Referring || call.state === CallState.RingingDestination) {
      // referral: the transferee may still report the outcome; referral.ts waits a grace period
      call.emit('initiator-gone', reason)
      return
    }
  }
  // a BYE is a hang-up (603, as the original); a dead peer (no answer to a request) is a 408
  if (!call.reportedFinal) call.failCurrentLeg(reason === 'timeout' ? 408 : 603)
  call.spawn('hang up', call.hangUp(reason === 'timeout' ? `${leg.role} vanished` : `${leg.role} hung up`, by))
}
