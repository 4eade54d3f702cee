/**
 * The anchored call (AnchorCall true, or the REFER fallback): the server is a
 * back-to-back UA in the signalling path only; media flows between phones.
 *
 * Offer/answer (RFC 3725 §4.2 style, as the original): the initiator already
 * holds a dialog with our held (a=inactive) SDP. We INVITE the destination
 * with no SDP; its 200 carries its offer; we re-INVITE the initiator with that
 * offer; the initiator's answer goes into our ACK to the destination. The
 * destination waits for its ACK one re-INVITE round trip to a phone that has
 * already answered (no human in that loop, unlike RFC 3725 flow I's pitfall).
 *
 * `200 Connected to destination` is reported once the bridge is complete
 * (the original reports it when the destination answers, before the
 * re-INVITE; waiting means a 200 really is a connected call).
 *
 * Once bridged, a re-INVITE from either phone (hold, codec change) is relayed
 * to the other, and a hang-up on either side ends the call.
 */
import type { Dialog, DialogEndReason, IncomingReinvite } from '../sip'
import type { Call, LegHandlers } from './call'
import type { Leg } from './leg'
import { CallState } from './state'
import { directionOf, holdDirection, refusingAnswer, withDirection } from './sdp'
import { userOf } from './uri'
import type { FlowContext } from './context'
import { placeLeg } from './leg-invite'

export function connectDestination(call: Call, ctx: FlowContext): void {
  call.setState(CallState.CallingDestination, { target: call.translatedDestination, fallback: call.fellBack })
  const invite = ctx.sip.invite({
    target: call.translatedDestination,
    from: { uri: ctx.identity, displayName: `Click-To-Call: ${userOf(call.translatedInitiator)}` },
    ringTimeoutMs: ctx.destinationRingTimeoutMs,
  })
  placeLeg(call, call.destination, invite, CallState.RingingDestination)
  invite.on('answered', (dialog: Dialog, offer: string | undefined) => {
    if (call.ended || call.hangingUpNow) {
      // the teardown BYEs it; the ACK we owe comes first
      if (offer) dialog.ack(refusingAnswer(offer, call.destination.origin))
      else dialog.ack()
      return
    }
    call.attach(call.destination, dialog)
    call.destinationAnsweredAt = Date.now()
    call.spawn('bridge', bridge(call, dialog, offer))
  })
}

async function bridge(call: Call, dialogD: Dialog, offer: string | undefined): Promise<void> {
  if (!offer) {
    call.log.warn('destination answered an offerless INVITE without SDP')
    dialogD.ack()
    call.fail(call.destination, 488)
    await call.hangUp('destination sent no offer', 'server')
    return
  }
  if (!call.initiator.up || call.reportedFinal || call.hangingUpNow) {
    dialogD.ack(refusingAnswer(offer, call.destination.origin))
    await call.hangUp('initiator gone before bridging', 'initiator')
    return
  }
  call.setState(CallState.Bridging)
  const answer = await offerTo(call.initiator, offer)
  if (answer.ok) {
    const toDestination = call.destination.origin.restamp(answer.sdp)
    call.destination.localSdp = toDestination
    dialogD.ack(toDestination)
    if (call.ended || call.hangingUpNow || dialogD.state !== 'confirmed') return
    call.connected(CallState.Bridged)
    call.handlers = bridgedHandlers(call)
    return
  }
  call.log.warn({ status: answer.status }, 'initiator refused the destination offer')
  dialogD.ack(refusingAnswer(offer, call.destination.origin))
  call.fail(call.destination, answer.status >= 300 ? answer.status : 488)
  await call.hangUp('re-INVITE of the initiator failed', 'server')
}

export type OfferOutcome = { ok: true; sdp: string } | { ok: false; status: number; reason: string }

/**
 * Re-INVITE one leg's phone with an offer from the other side, re-stamped
 * with this leg's origin (and kept on hold if the leg is held). The answer
 * comes back as the phone sent it.
 */
export async function offerTo(leg: Leg, sdp: string): Promise<OfferOutcome> {
  const dialog = leg.up
  if (!dialog) return { ok: false, status: 481, reason: 'no dialog on this leg' }
  let toPhone = leg.origin.restamp(sdp)
  if (leg.held) toPhone = withDirection(toPhone, holdDirection(directionOf(toPhone)))
  const res = await dialog.reinvite(toPhone)
  if (res.status >= 200 && res.status < 300 && res.sdp) {
    leg.localSdp = toPhone
    return { ok: true, sdp: res.sdp }
  }
  return { ok: false, status: res.status >= 300 ? res.status : 488, reason: res.reason }
}

/** Bridged: a hang-up ends the call; a phone's re-INVITE is relayed to the other. */
export function bridgedHandlers(call: Call): LegHandlers {
  return {
    gone(leg: Leg, reason: DialogEndReason): void {
      call.logAt('info')?.info({ reason, leg: leg.role }, `${leg.role} hung up`)
      call.spawn('hang up', call.hangUp(`${leg.role} hung up`, reason === 'timeout' ? 'timeout' : leg.role))
    },
    reinvite(from: Leg, request: IncomingReinvite): void {
      relay(call, from, request)
    },
  }
}

/** A re-INVITE from one phone (hold, codec change) is passed to the other. */
function relay(call: Call, from: Leg, request: IncomingReinvite): void {
  const to = call.other(from)
  if (!request.sdp || !to.up) {
    // offerless re-INVITE (or nothing to relay to): answer with what this phone already has
    request.accept(from.localSdp)
    return
  }
  if (call.busy) {
    request.reject(491, 'Request Pending')
    return
  }
  call.busy = true
  const asked = directionOf(request.sdp)
  call.spawn(
    'relay re-INVITE',
    offerTo(to, request.sdp)
      .then((res) => {
        if (!res.ok) {
          request.reject(res.status)
          return
        }
        let back = from.origin.restamp(res.sdp)
        if (from.held) back = withDirection(back, holdDirection(directionOf(back)))
        from.localSdp = back
        request.accept(back)
        // a phone that holds its peer itself (RFC 6337 §5.3) is an event too
        const holding = asked === 'sendonly' || asked === 'inactive'
        if (holding !== from.remoteHold) {
          from.remoteHold = holding
          if (holding) call.holds += 1
          call.emitEvent({ type: holding ? 'held' : 'resumed', leg: to.role, by: from.role })
        }
      })
      .catch((err: unknown) => {
        request.reject(500)
        throw err
      })
      .finally(() => {
        call.busy = false
      }),
  )
}
