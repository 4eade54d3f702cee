/**
 * The verbs of a live call, done inside the B2BUA with re-INVITEs (RFC 3725)
 * so that they work with phones that know nothing of REFER or Replaces:
 *
 * - hold / unhold: re-INVITE the named leg with the SDP it has, its direction
 *   changed as RFC 3264 §8.4 / RFC 6337 §5.3 say (sendrecv -> sendonly,
 *   recvonly -> inactive; back to what it was). The other party is not touched.
 * - transfer (blind): INVITE the target without an offer; its offer goes to
 *   the staying party in a re-INVITE; the answer goes into the target's ACK;
 *   then the released party gets a BYE.
 * - join (attended): re-INVITE one party with the other's SDP, then the other
 *   with the answer; the two remaining parties get a BYE and the second call
 *   ends (cause `joined`).
 *
 * Every verb answers with a VerbOutcome; a refusal is never an exception.
 */
import type { CallHandle, LegRole, VerbOutcome } from './api'
import type { Call, CallControl, LegHandlers } from './call'
import { Leg } from './leg'
import { CallState } from './state'
import { directionOf, holdDirection, refusingAnswer, withDirection, type Direction } from './sdp'
import { userOf } from './uri'
import type { FlowContext } from './context'
import { bridgedHandlers, offerTo } from './bridge'
import type { Dialog } from '../sip'

export interface VerbDeps {
  /** the settings and SIP stack in force now */
  context(): FlowContext
  /** a live call by id, setup id or SIP Call-ID */
  resolve(key: string): Call | undefined
  /** a transfer target through the translation rules: the SIP URI, or why not */
  translate(target: string): { ok: true; uri: string } | { ok: false; code: 'no-translation'; message: string }
}

const refuse = (code: Exclude<VerbOutcome, { ok: true }>['code'], message: string, status?: number): VerbOutcome =>
  status === undefined ? { ok: false, code, message } : { ok: false, code, message, status }

/** Why `call` cannot take a verb on an established call now, else undefined. */
function notSteerable(call: Call): VerbOutcome | undefined {
  const ended = call.refusal()
  if (ended) return ended
  if (call.state === CallState.Transferred) return refuse('not-in-call', `call ${call.id} was transferred by REFER: the server is no longer in it`)
  if (call.busy || call.state === CallState.Transferring) return refuse('bad-state', `call ${call.id}: another operation is in progress`)
  if (call.state !== CallState.Bridged) return refuse('bad-state', `call ${call.id} is ${call.state}: this applies once both parties are connected`)
  return undefined
}

function notUp(call: Call, leg: Leg): VerbOutcome | undefined {
  return leg.up ? undefined : refuse('leg-not-answered', `call ${call.id}: the ${leg.role} leg has no established dialog`)
}

export function createCallControl(deps: VerbDeps): CallControl {
  return {
    hold: (call, legs, on) => hold(call, legs, on),
    transfer: (call, leg, target) => transfer(deps, call, leg, target),
    join: (call, leg, other, otherRole) => join(deps, call, leg, other, otherRole),
  }
}

// ------------------------------------------------------------------ hold

async function hold(call: Call, legs: Leg[], on: boolean): Promise<VerbOutcome> {
  const refused = notSteerable(call) ?? legs.map((l) => notUp(call, l)).find(Boolean)
  if (refused) return refused
  call.busy = true
  try {
    for (const leg of legs) {
      if (on === leg.held) continue
      const dialog = leg.up
      const base = leg.localSdp
      if (!dialog || !base) return refuse('leg-not-answered', `call ${call.id}: the ${leg.role} leg has no media yet`)
      const direction: Direction = on ? holdDirection(directionOf(base)) : ((leg.heldFrom as Direction | undefined) ?? 'sendrecv')
      const sdp = leg.origin.restamp(withDirection(base, direction))
      const res = await dialog.reinvite(sdp)
      if (res.status < 200 || res.status >= 300) {
        call.log.info({ leg: leg.role, status: res.status, on }, 'hold re-INVITE refused')
        return refuse('sip-failed', `the ${leg.role} phone answered ${res.status} ${res.reason}`.trim(), res.status)
      }
      leg.localSdp = sdp
      if (on) {
        leg.heldFrom = directionOf(base)
        call.holds += 1
      } else {
        leg.heldFrom = undefined
      }
      call.log.info({ leg: leg.role, direction }, on ? 'leg held' : 'leg resumed')
      call.emitEvent({ type: on ? 'held' : 'resumed', leg: leg.role, by: 'api' })
    }
    return { ok: true }
  } finally {
    call.busy = false
  }
}

// -------------------------------------------------------------- transfer

type InviteOutcome = { answered: true; dialog: Dialog; offer: string | undefined } | { answered: false; status: number }

async function transfer(deps: VerbDeps, call: Call, leg: Leg, target: string): Promise<VerbOutcome> {
  const refused = notSteerable(call) ?? notUp(call, leg)
  if (refused) return refused
  const translated = deps.translate(target)
  if (!translated.ok) return translated
  const ctx = deps.context()
  const released = call.other(leg)
  const uri = translated.uri
  call.busy = true
  call.setState(CallState.Transferring, { leg: leg.role, target: uri })
  call.emitEvent({ type: 'transferring', leg: leg.role, target: uri })

  const invite = ctx.sip.invite({
    target: uri,
    from: { uri: call.request.identity ?? ctx.identity, displayName: `Click-To-Call: ${userOf(leg.uri)}` },
    ringTimeoutMs: ctx.destinationRingTimeoutMs,
  })
  // while the target rings: the staying party hanging up ends it all; the released one may go
  let stayingGone = false
  call.handlers = {
    gone(l) {
      if (l !== leg) return
      stayingGone = true
      invite.cancel()
    },
    reinvite: (_l, rq) => rq.reject(491, 'Request Pending'),
  }
  const placed = await new Promise<InviteOutcome>((resolve) => {
    invite.once('answered', (dialog: Dialog, offer: string | undefined) => resolve({ answered: true, dialog, offer }))
    invite.once('failed', (status: number) => resolve({ answered: false, status }))
  })
  const fresh = new Leg(released.role, uri, ctx.sip.host)
  const back = (status: number, why: string): VerbOutcome => {
    call.log.info({ status, leg: leg.role, target: uri }, `transfer failed: ${why}`)
    return restore(call, () => call.emitEvent({ type: 'transferred', leg: leg.role, target: uri, ok: false, status }), refuse('sip-failed', why, status))
  }
  if (!placed.answered) {
    if (stayingGone) return afterStayingLeft(call, leg)
    return back(placed.status, `the target answered ${placed.status}`)
  }
  const dialogT = placed.dialog
  if (!placed.offer) {
    dialogT.ack()
    call.spawn('release target', dialogT.bye())
    return back(488, 'the target sent no offer')
  }
  if (stayingGone || call.hangingUpNow) {
    dialogT.ack(refusingAnswer(placed.offer, fresh.origin))
    call.spawn('release target', dialogT.bye())
    return afterStayingLeft(call, leg)
  }
  const answer = await offerTo(leg, placed.offer)
  if (!answer.ok) {
    dialogT.ack(refusingAnswer(placed.offer, fresh.origin))
    call.spawn('release target', dialogT.bye())
    return back(answer.status, `the ${leg.role} phone refused the target's offer (${answer.status})`)
  }
  leg.heldFrom = undefined
  fresh.localSdp = fresh.origin.restamp(answer.sdp)
  dialogT.ack(fresh.localSdp)
  const oldDialog = released.up
  released.origin = fresh.origin
  released.uri = uri
  released.heldFrom = undefined
  released.remoteHold = false
  released.localSdp = fresh.localSdp
  call.attach(released, dialogT)
  if (oldDialog) call.spawn('release transferred party', oldDialog.bye())
  call.transfers += 1
  call.log.info({ leg: leg.role, target: uri }, 'transferred')
  return restore(call, () => call.emitEvent({ type: 'transferred', leg: leg.role, target: uri, ok: true, status: 200 }), { ok: true })
}

/** Back to Bridged after a verb (or on to the end if a party left meanwhile). */
function restore(call: Call, announce: () => void, outcome: VerbOutcome): VerbOutcome {
  call.busy = false
  if (call.ended || call.hangingUpNow) return outcome
  call.setState(CallState.Bridged)
  call.handlers = bridgedHandlers(call)
  announce()
  if (!call.initiator.up || !call.destination.up) {
    const gone = call.initiator.up ? call.destination : call.initiator
    call.spawn('hang up', call.hangUp(`${gone.role} hung up during an operation`, gone.role))
  }
  return outcome
}

function afterStayingLeft(call: Call, leg: Leg): VerbOutcome {
  call.busy = false
  call.spawn('hang up', call.hangUp(`${leg.role} hung up during a transfer`, leg.role))
  return refuse('call-ended', `the ${leg.role} party hung up during the transfer`)
}

// ------------------------------------------------------------------ join

async function join(deps: VerbDeps, call: Call, leg: Leg, otherKey: string | CallHandle, otherRole: LegRole): Promise<VerbOutcome> {
  const other = deps.resolve(typeof otherKey === 'string' ? otherKey : otherKey.id)
  if (!other) return refuse('unknown-call', `no call ${typeof otherKey === 'string' ? otherKey : otherKey.id}`)
  if (other === call) return refuse('bad-argument', 'a call cannot be joined with itself')
  const otherLeg = other.leg(otherRole)
  const refused = notSteerable(call) ?? notSteerable(other) ?? notUp(call, leg) ?? notUp(other, otherLeg)
  if (refused) return refused
  const remain = call.other(leg)
  const released = other.other(otherLeg)
  const sdp1 = leg.up?.remoteSdp
  if (!sdp1) return refuse('leg-not-answered', `call ${call.id}: the ${leg.role} leg has no media yet`)

  const watch = (c: Call, keep: Leg): LegHandlers => ({
    gone(l) {
      if (l === keep) lost = true
    },
    reinvite: (_l, rq) => rq.reject(491, 'Request Pending'),
  })
  let lost = false
  for (const c of [call, other]) {
    c.busy = true
    c.setState(CallState.Transferring, { join: c === call ? other.id : call.id })
  }
  call.handlers = watch(call, leg)
  other.handlers = watch(other, otherLeg)
  const announce = (ok: boolean, status: number) => (): void => {
    call.emitEvent({ type: 'joined', leg: leg.role, otherCallId: other.id, otherLeg: otherRole, ok, status })
  }
  const failed = (status: number, why: string): VerbOutcome => {
    restore(other, () => undefined, { ok: true })
    return restore(call, announce(false, status), refuse('sip-failed', why, status))
  }

  // 1. the other call's party gets this party's media; its answer comes back
  const second = await offerTo(otherLeg, sdp1)
  if (!second.ok || lost) return failed(second.ok ? 481 : second.status, `the other call's ${otherRole} phone did not take the join (${second.ok ? 'hung up' : second.status})`)
  // 2. this party gets the other party's answer
  const first = await offerTo(leg, second.sdp)
  if (!first.ok || lost) {
    // put the other call's party back on its own peer
    const peer = released.up?.remoteSdp
    if (peer) await offerTo(otherLeg, peer)
    return failed(first.ok ? 481 : first.status, `the ${leg.role} phone did not take the join (${first.ok ? 'hung up' : first.status})`)
  }
  // 3. the two remaining parties are released; the other call's party moves into this call
  const remainDialog = remain.up
  const answeredAt = otherLeg.answeredAt
  const moved = otherLeg.dialog!
  remain.adopt(otherLeg)
  call.attach(remain, moved, false)
  remain.answeredAt = answeredAt
  if (remainDialog) call.spawn('release joined party', remainDialog.bye())
  other.emitEvent({ type: 'joined', leg: otherRole, otherCallId: call.id, otherLeg: leg.role, ok: true, status: 200 })
  other.busy = false
  call.spawn('end joined call', other.hangUp(`joined into call ${call.id}`, 'api', 'joined'))
  void released
  call.transfers += 1
  call.log.info({ otherCall: other.id, leg: leg.role, otherLeg: otherRole }, 'calls joined')
  return restore(call, announce(true, 200), { ok: true })
}
