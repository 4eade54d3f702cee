/**
 * A call detail record: one per call, made when the call ends from its
 * snapshot (or, if the call layer no longer has it, from its events).
 * Columns and meanings: docs/cdr.md.
 */
import type { CallEvent, CallMode, CallSnapshot, CallTimes, CallOrigin, EndCause, EndedBy } from '../call'

export interface CdrDurations {
  /** created until the initiator answered (or the call ended) */
  initiatorRingMs: number | null
  /** initiator answered until the destination answered (or the call ended); null if the initiator never answered */
  destinationRingMs: number | null
  /** created until both parties were connected; null if they never were */
  setupMs: number | null
  /** connected until the end; null if never connected, or for REFER calls (the server left at the transfer) */
  talkMs: number | null
}

export interface CdrRecord extends CdrDurations {
  callId: string
  setupId: string | null
  frontEnd: string
  clientAddress: string
  user: string | null
  initiator: string
  destination: string
  translatedInitiator: string
  translatedDestination: string
  /** what the client asked for */
  anchor: boolean
  /** what happened: anchored, refer, refer-fallback */
  mode: CallMode | null
  initiatorSipCallId: string | null
  destinationSipCallId: string | null
  initiatorCode: number | null
  destinationCode: number | null
  createdAt: number
  initiatorAnsweredAt: number | null
  destinationAnsweredAt: number | null
  bridgedAt: number | null
  endedAt: number
  outcome: EndCause
  /** the SIP code of the outcome: 200 when connected, else the failing leg's code */
  code: number | null
  reason: string | null
  endedBy: EndedBy
  holds: number
  transfers: number
  /** the final coded result the XML/HTTP client got (e.g. 486 on Initiator) */
  resultCode: number | null
  resultLeg: string | null
}

export function callDurations(t: CallTimes, mode: CallMode | null): CdrDurations {
  const end = t.endedAt
  const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.max(0, b - a))
  return {
    initiatorRingMs: diff(t.createdAt, t.initiatorAnsweredAt ?? end),
    destinationRingMs: t.initiatorAnsweredAt === null ? null : diff(t.initiatorAnsweredAt, t.destinationAnsweredAt ?? end),
    setupMs: diff(t.createdAt, t.bridgedAt),
    talkMs: mode === 'refer' ? null : diff(t.bridgedAt, end),
  }
}

type Ended = Extract<CallEvent, { type: 'ended' }>

function finalResult(s: CallSnapshot): { code: number | null; leg: string | null } {
  const r = [...s.results].reverse().find((x) => x.final)
  return { code: r?.code ?? null, leg: r?.leg ?? null }
}

/** the record of an ended call, from its snapshot and its `ended` event */
export function recordFromSnapshot(s: CallSnapshot, ended: Ended): CdrRecord {
  const times: CallTimes = { ...s.times, endedAt: s.times.endedAt ?? ended.times.endedAt ?? ended.at }
  const result = finalResult(s)
  return {
    callId: s.id,
    setupId: s.setupId,
    frontEnd: s.origin.frontEnd,
    clientAddress: s.origin.remoteAddress,
    user: s.origin.user ?? null,
    initiator: s.initiator,
    destination: s.destination,
    translatedInitiator: s.translatedInitiator,
    translatedDestination: s.translatedDestination,
    anchor: s.anchor,
    mode: s.mode,
    initiatorSipCallId: s.legs.initiator.sipCallId,
    destinationSipCallId: s.legs.destination.sipCallId,
    initiatorCode: s.legs.initiator.code,
    destinationCode: s.legs.destination.code,
    createdAt: times.createdAt,
    initiatorAnsweredAt: times.initiatorAnsweredAt,
    destinationAnsweredAt: times.destinationAnsweredAt,
    bridgedAt: times.bridgedAt,
    endedAt: times.endedAt!,
    ...callDurations(times, s.mode),
    outcome: s.cause ?? ended.cause,
    code: s.code ?? ended.code,
    reason: ended.reason || null,
    endedBy: s.endedBy ?? ended.endedBy,
    holds: s.holds,
    transfers: s.transfers,
    resultCode: result.code,
    resultLeg: result.leg,
  }
}

/** what the events told about a call, for when its snapshot is gone */
export interface CallTrace {
  created?: { initiator: string; destination: string; translatedInitiator: string; translatedDestination: string; anchor: boolean; origin: CallOrigin }
  holds: number
  transfers: number
  fellBack: boolean
  referred: boolean
  result?: { code: number; leg: string | null }
}

export function recordFromTrace(trace: CallTrace, ended: Ended): CdrRecord {
  const c = trace.created
  const times: CallTimes = { ...ended.times, endedAt: ended.times.endedAt ?? ended.at }
  const mode: CallMode | null = trace.fellBack ? 'refer-fallback' : trace.referred ? 'refer' : c ? (c.anchor ? 'anchored' : 'refer') : null
  return {
    callId: ended.callId,
    setupId: ended.setupId,
    frontEnd: c?.origin.frontEnd ?? '',
    clientAddress: c?.origin.remoteAddress ?? '',
    user: c?.origin.user ?? null,
    initiator: c?.initiator ?? '',
    destination: c?.destination ?? '',
    translatedInitiator: c?.translatedInitiator ?? '',
    translatedDestination: c?.translatedDestination ?? '',
    anchor: c?.anchor ?? false,
    mode,
    initiatorSipCallId: null,
    destinationSipCallId: null,
    initiatorCode: null,
    destinationCode: null,
    createdAt: times.createdAt,
    initiatorAnsweredAt: times.initiatorAnsweredAt,
    destinationAnsweredAt: times.destinationAnsweredAt,
    bridgedAt: times.bridgedAt,
    endedAt: times.endedAt!,
    ...callDurations(times, mode),
    outcome: ended.cause,
    code: ended.code,
    reason: ended.reason || null,
    endedBy: ended.endedBy,
    holds: trace.holds,
    transfers: trace.transfers,
    resultCode: trace.result?.code ?? null,
    resultLeg: trace.result?.leg ?? null,
  }
}
