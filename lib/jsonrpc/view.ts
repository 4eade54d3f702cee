/**
 * What this API shows of a call: a snapshot for CallStatus/CallList, and
 * each typed event for Subscribe, in call-api's vocabulary (caller/callee,
 * snake_case names). The client's own address is left out: other clients
 * may read these.
 */
import type { CallEvent, CallSnapshot, CallTimes, EndedBy, LegSnapshot } from '../call'
import { legName } from './params'

function by(who: EndedBy): string {
  if (who === 'initiator') return 'caller'
  if (who === 'destination') return 'callee'
  return who
}

function times(t: CallTimes): Record<string, number | null> {
  return {
    created_at: t.createdAt,
    caller_answered_at: t.initiatorAnsweredAt,
    callee_answered_at: t.destinationAnsweredAt,
    bridged_at: t.bridgedAt,
    ended_at: t.endedAt,
  }
}

function leg(l: LegSnapshot): Record<string, unknown> {
  return {
    uri: l.uri,
    status: l.status,
    sip_call_id: l.sipCallId,
    held: l.held,
    code: l.code,
    answered_at: l.answeredAt,
    ended_at: l.endedAt,
  }
}

export function callView(s: CallSnapshot): Record<string, unknown> {
  return {
    callid: s.id,
    setup_id: s.setupId,
    state: s.state,
    anchor: s.anchor,
    mode: s.mode,
    front_end: s.origin.frontEnd,
    caller: s.initiator,
    callee: s.destination,
    translated_caller: s.translatedInitiator,
    translated_callee: s.translatedDestination,
    legs: { caller: leg(s.legs.initiator), callee: leg(s.legs.destination) },
    times: times(s.times),
    holds: s.holds,
    transfers: s.transfers,
    cause: s.cause,
    ended_by: s.endedBy === null ? null : by(s.endedBy),
    code: s.code,
  }
}

/** Subscribe's name for an event and its data; undefined for events not shown (the XML result stream). */
export function eventView(e: CallEvent): { event: string; data: Record<string, unknown> } | undefined {
  const base: Record<string, unknown> = { callid: e.callId, seq: e.seq, at: e.at }
  if (e.setupId !== null) base.setup_id = e.setupId
  switch (e.type) {
    case 'created':
      return {
        event: 'CallCreated',
        data: { ...base, caller: e.initiator, callee: e.destination, translated_caller: e.translatedInitiator, translated_callee: e.translatedDestination, anchor: e.anchor, front_end: e.origin.frontEnd },
      }
    case 'ringing':
      return { event: 'CallRinging', data: { ...base, leg: legName(e.leg), status: e.status } }
    case 'answered':
      return { event: 'CallAnswered', data: { ...base, leg: legName(e.leg) } }
    case 'referring':
      return { event: 'CallReferring', data: { ...base, target: e.target } }
    case 'fallback':
      return { event: 'CallFallback', data: { ...base, status: e.status } }
    case 'bridged':
      return { event: 'CallBridged', data: base }
    case 'held':
      return { event: 'CallHeld', data: { ...base, leg: legName(e.leg), by: by(e.by) } }
    case 'resumed':
      return { event: 'CallResumed', data: { ...base, leg: legName(e.leg), by: by(e.by) } }
    case 'transferring':
      return { event: 'CallTransferring', data: { ...base, leg: legName(e.leg), destination: e.target } }
    case 'transferred':
      return { event: 'CallTransferred', data: { ...base, leg: legName(e.leg), destination: e.target, ok: e.ok, status: e.status } }
    case 'joined':
      return {
        event: 'CallJoined',
        data: { ...base, leg: legName(e.leg), other_callid: e.otherCallId, other_leg: legName(e.otherLeg), ok: e.ok, status: e.status },
      }
    case 'state':
      return { event: 'CallState', data: { ...base, state: e.state, prev: e.prev } }
    case 'ended':
      return { event: 'CallEnded', data: { ...base, cause: e.cause, ended_by: by(e.endedBy), code: e.code, reason: e.reason, times: times(e.times) } }
    case 'result':
      return undefined
  }
}

export function endedBy(who: EndedBy): string {
  return by(who)
}
