/**
 * Anchored flow (AnchorCall true, or the REFER fallback): the server is a
 * back-to-back UA in the signalling path only; media flows between phones.
 *
 * Offer/answer (RFC 3725 §4.2 style, as the original): the initiator already
 * holds a dialog with our held (a=inactive) SDP. We INVITE the destination
 * with no SDP; its 200 carries its offer; we re-INVITE the initiator with that
 * offer; the initiator's answer goes into our ACK to the destination. The
 * destination therefore waits for its ACK for one re-INVITE round trip to a
 * phone that has already answered (no human in that loop, unlike RFC 3725
 * flow I's pitfall of an ACK waiting on a ringing phone).
 *
 * `200 Connected to destination` is reported once the bridge is complete
 * (the original reports it when the destination answers, before the
 * re-INVITE; waiting means a 200 really is a connected call).
 */
import type { Call, LegState } from './call'
import type { Dialog, IncomingReinvite } from '../sip/api'
import { CallState } from './state'
import { Texts } from './texts'
import { refusingAnswer, type SdpOrigin } from './sdp'
import { userOf } from './uri'
import type { FlowContext } from './context'
import { hangUp, placeLeg, type CallMedia } from './flow'

export function startAnchored(call: Call, ctx: FlowContext, media: CallMedia): void {
  call.setState(CallState.CallingDestination, { target: call.translatedDestination, fallback: call.fellBack })
  const invite = ctx.sip.invite({
    target: call.translatedDestination,
    from: { uri: ctx.identity, displayName: `Click-To-Call: ${userOf(call.translatedInitiator)}` },
    ringTimeoutMs: ctx.destinationRingTimeoutMs,
  })
  placeLeg(call, call.destination, invite, CallState.RingingDestination)
  invite.on('answered', (dialogD: Dialog, offer: string | undefined) => {
    call.destination.invite = undefined
    call.destination.dialog = dialogD
    dialogD.on('terminated', (reason: string) => {
      if (reason === 'local-bye' || call.ended) return
      call.log.info({ reason, state: call.state }, 'destination left')
      if (!call.reportedFinal) {
        const code = reason === 'timeout' ? 408 : 603
        call.report(code, 'Destination', Texts.failedDestination)
        call.setState(CallState.Failed, { code })
      }
      void hangUp(call, 'destination hung up')
    })
    void bridge(call, dialogD, offer, media)
  })
}

async function bridge(call: Call, dialogD: Dialog, offer: string | undefined, media: CallMedia): Promise<void> {
  const dialogI = call.initiator.dialog
  if (!offer) {
    call.log.warn('destination answered an offerless INVITE without SDP')
    dialogD.ack()
    call.report(488, 'Destination', Texts.failedDestination)
    call.setState(CallState.Failed, { code: 488 })
    void hangUp(call, 'destination sent no offer')
    return
  }
  if (!dialogI || dialogI.state !== 'confirmed' || call.reportedFinal) {
    dialogD.ack(refusingAnswer(offer, media.destination))
    void hangUp(call, 'initiator gone before bridging')
    return
  }
  call.setState(CallState.Bridging)
  const toInitiator = media.initiator.restamp(offer)
  const answer = await dialogI.reinvite(toInitiator)
  if (answer.status >= 200 && answer.status < 300 && answer.sdp) {
    call.initiator.localSdp = toInitiator
    const toDestination = media.destination.restamp(answer.sdp)
    call.destination.localSdp = toDestination
    dialogD.ack(toDestination)
    if (call.ended || dialogD.state !== 'confirmed') return
    call.report(200, 'Destination', Texts.connectedDestination)
    call.setState(CallState.Bridged)
    relayReinvites(call.initiator, call.destination, media.initiator, media.destination)
    relayReinvites(call.destination, call.initiator, media.destination, media.initiator)
    return
  }
  call.log.warn({ status: answer.status }, 'initiator refused the destination offer')
  dialogD.ack(refusingAnswer(offer, media.destination))
  call.report(answer.status >= 300 ? answer.status : 488, 'Destination', Texts.failedDestination)
  call.setState(CallState.Failed, { code: answer.status })
  void hangUp(call, 're-INVITE of the initiator failed')
}

/** A re-INVITE from one phone (hold, codec change) is passed to the other. */
function relayReinvites(from: LegState, to: LegState, fromOrigin: SdpOrigin, toOrigin: SdpOrigin): void {
  const fromDialog = from.dialog
  if (!fromDialog) return
  fromDialog.on('reinvite', (request: IncomingReinvite) => {
    const toDialog = to.dialog
    if (!request.sdp || !toDialog || toDialog.state !== 'confirmed') {
      // offerless re-INVITE (or nothing to relay to): answer with what this phone already has
      request.accept(from.localSdp)
      return
    }
    const relayed = toOrigin.restamp(request.sdp)
    toDialog.reinvite(relayed).then(
      (res) => {
        if (res.status >= 200 && res.status < 300 && res.sdp) {
          to.localSdp = relayed
          const back = fromOrigin.restamp(res.sdp)
          from.localSdp = back
          request.accept(back)
        } else {
          request.reject(res.status >= 300 ? res.status : 488)
        }
      },
      () => request.reject(500),
    )
  })
}
