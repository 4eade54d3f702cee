/**
 * The click-to-call flow, common part: call the initiator, then hand over to
 * the referral (unanchored) or the bridge (anchored). Also the teardown that
 * every path ends with.
 */
import { Call, type LegState } from './call'
import type { Dialog, OutgoingInvite } from '../sip/api'
import { CallState } from './state'
import { Texts } from './texts'
import { SdpOrigin } from './sdp'
import { userOf } from './uri'
import type { FlowContext } from './context'
import { startReferral } from './referral'
import { startAnchored } from './anchor'

/** Per-call SDP origins, one per leg (the o= line each phone sees from us). */
export interface CallMedia {
  initiator: SdpOrigin
  destination: SdpOrigin
}

export function runCall(call: Call, ctx: FlowContext): void {
  const media: CallMedia = { initiator: new SdpOrigin(ctx.sip.host), destination: new SdpOrigin(ctx.sip.host) }
  // Whatever the peers do, the client gets a final result in bounded time.
  const bound = ctx.initiatorRingTimeoutMs + ctx.destinationRingTimeoutMs + ctx.referNotifyTimeoutMs + 30_000
  call.timer(bound, () => {
    if (call.reportedFinal) return
    call.log.warn({ boundMs: bound, state: call.state }, 'call setup exceeded its bound')
    failCurrentLeg(call, 408)
    hangUp(call, 'setup bound exceeded')
  })

  call.setState(CallState.CallingInitiator, { target: call.translatedInitiator })
  const offer = media.initiator.heldOffer()
  call.initiator.localSdp = offer
  const invite = ctx.sip.invite({
    target: call.translatedInitiator,
    from: { uri: ctx.identity, displayName: `Click-To-Call: ${userOf(call.translatedDestination)}` },
    sdp: offer,
    headers: ctx.initiatorHeaders,
    ringTimeoutMs: ctx.initiatorRingTimeoutMs,
  })
  placeLeg(call, call.initiator, invite, CallState.RingingInitiator)
  invite.on('answered', (dialog: Dialog) => {
    call.initiator.invite = undefined
    call.initiator.dialog = dialog
    dialog.on('terminated', (reason: string) => onInitiatorGone(call, reason))
    if (call.ended || call.reportedFinal) {
      // aborted (shutdown, bound) while ringing: hang up what answered
      hangUp(call, 'answered after abort')
      return
    }
    call.report(200, 'Initiator', Texts.connectedInitiator)
    call.setState(CallState.InitiatorConnected)
    if (call.anchor) startAnchored(call, ctx, media)
    else startReferral(call, ctx, media)
  })
}

const LEG_TEXTS = {
  Initiator: { ringing: Texts.ringingInitiator, failed: Texts.failedInitiator },
  Destination: { ringing: Texts.ringingDestination, failed: Texts.failedDestination },
} as const

/**
 * Follow the INVITE of one leg: report its first 18x as ringing, and a
 * failure as that leg's final result (then hang up the rest). The caller
 * handles 'answered'.
 */
export function placeLeg(call: Call, leg: LegState, invite: OutgoingInvite, ringing: CallState): void {
  leg.invite = invite
  invite.on('progress', (status: number) => {
    if (status < 180 || leg.ringingReported || call.ended) return
    call.setState(ringing, { status })
    call.reportRinging(leg, LEG_TEXTS[leg.name].ringing)
  })
  invite.on('failed', (status: number, reason: string) => {
    leg.invite = undefined
    call.log.info({ status, reason, leg: leg.name }, 'leg failed')
    call.report(status, leg.name, LEG_TEXTS[leg.name].failed)
    call.setState(CallState.Failed, { leg: leg.name, code: status })
    void hangUp(call, `${leg.name.toLowerCase()} failed`)
  })
}

/** The initiator's dialog ended (BYE from the phone, or a timeout). */
function onInitiatorGone(call: Call, reason: string): void {
  if (reason === 'local-bye' || call.ended) return
  call.log.info({ reason, state: call.state }, 'initiator left')
  switch (call.state) {
    case CallState.Referring:
    case CallState.RingingDestination:
      if (call.destination.invite) {
        // anchored: CANCEL the ringing destination; its 'failed' (487) is the final result
        call.destination.invite.cancel()
        return
      }
      // referral: the transferee may still report the outcome; referral.ts waits a grace period
      call.emit('initiator-gone', reason)
      return
    case CallState.CallingDestination:
      if (call.destination.invite) {
        call.destination.invite.cancel()
        return
      }
      break
    default:
      break
  }
  // a BYE is a hang-up (603, as the original); a dead peer (no answer to a request) is a 408
  if (!call.reportedFinal) failCurrentLeg(call, reason === 'timeout' ? 408 : 603)
  void hangUp(call, reason === 'timeout' ? 'initiator vanished' : 'initiator hung up')
}

/** Report the failure on the leg the call is working on. */
export function failCurrentLeg(call: Call, code: number): void {
  const onDestination =
    call.state === CallState.Referring ||
    call.state === CallState.CallingDestination ||
    call.state === CallState.RingingDestination ||
    call.state === CallState.Bridging ||
    call.state === CallState.InitiatorConnected
  if (onDestination) call.report(code, 'Destination', Texts.failedDestination)
  else call.report(code, 'Initiator', Texts.failedInitiator)
  if (!call.isReportedFinalState()) call.setState(CallState.Failed, { code })
}

function releaseLeg(leg: LegState): Promise<void> {
  if (leg.invite) {
    const invite = leg.invite
    leg.invite = undefined
    return new Promise<void>((resolve) => {
      const done = (): void => resolve()
      invite.once('failed', done)
      invite.once('answered', (dialog: Dialog) => {
        void dialog.bye().finally(done)
      })
      invite.cancel()
    })
  }
  if (leg.dialog && leg.dialog.state === 'confirmed') return leg.dialog.bye()
  return Promise.resolve()
}

/**
 * End the server's part of the call: CANCEL what rings, BYE what is up,
 * then mark the call ended. Safe to call more than once.
 */
export function hangUp(call: Call, why: string): Promise<void> {
  if (call.ended) return Promise.resolve()
  if (call.hangingUp) return call.hangingUp
  call.hangingUp = Promise.all([releaseLeg(call.initiator), releaseLeg(call.destination)]).then(
    () => call.end(why),
    (err: unknown) => {
      call.log.warn({ err }, 'error while hanging up')
      call.end(why)
    },
  )
  return call.hangingUp
}
