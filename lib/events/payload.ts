/**
 * The JSON body of a webhook: the event (type, call id, setup id, sequence,
 * time, its own fields under `data`) and the call as it is at that moment
 * (addresses, mode, state, and both legs). Documented in docs/events.md.
 */
import { CALL_EVENT_TYPES, type CallEvent, type CallSnapshot, type LegSnapshot } from '../call'
import { callDurations } from '../store'

/** typed events sent when WebhookEvents is blank (`result` and `state` are the front-ends' own) */
export const DEFAULT_WEBHOOK_EVENTS: readonly string[] = CALL_EVENT_TYPES.filter((t) => t !== 'result' && t !== 'state')

/** every type a CallEvent can have, to check WebhookEvents */
export const ALL_EVENT_TYPES: readonly string[] = [...DEFAULT_WEBHOOK_EVENTS, 'result', 'state']

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export interface LegPayload {
  uri: string
  status: string
  sipCallId: string | null
  held: boolean
  code: number | null
  answeredAt: string | null
  endedAt: string | null
}

export interface WebhookPayload {
  /** unique per event: `<callId>-<seq>` (a receiver de-duplicates retries with it) */
  id: string
  type: CallEvent['type']
  callId: string
  setupId: string | null
  seq: number
  time: string
  call: {
    initiator: string
    destination: string
    translatedInitiator: string
    translatedDestination: string
    anchor: boolean
    mode: string
    state: string
    origin: { frontEnd: string; remoteAddress: string; user?: string }
    createdAt: string
  } | null
  legs: { initiator: LegPayload; destination: LegPayload } | null
  data: Record<string, unknown>
}

function leg(l: LegSnapshot): LegPayload {
  return { uri: l.uri, status: l.status, sipCallId: l.sipCallId, held: l.held, code: l.code, answeredAt: iso(l.answeredAt), endedAt: iso(l.endedAt) }
}

/** the event's own fields, times as ISO 8601 */
export function eventData(event: CallEvent, snapshot?: CallSnapshot): Record<string, unknown> {
  const { callId: _c, setupId: _s, seq: _q, at: _a, type: _t, ...rest } = event
  const data: Record<string, unknown> = { ...rest }
  if (event.type === 'ended') {
    const t = event.times
    data.times = {
      createdAt: iso(t.createdAt),
      initiatorAnsweredAt: iso(t.initiatorAnsweredAt),
      destinationAnsweredAt: iso(t.destinationAnsweredAt),
      bridgedAt: iso(t.bridgedAt),
      endedAt: iso(t.endedAt),
    }
    data.durations = callDurations(t, snapshot?.mode ?? null)
  }
  return data
}

export function webhookPayload(event: CallEvent, snapshot: CallSnapshot | undefined): WebhookPayload {
  return {
    id: `${event.callId}-${event.seq}`,
    type: event.type,
    callId: event.callId,
    setupId: event.setupId,
    seq: event.seq,
    time: new Date(event.at).toISOString(),
    call: snapshot
      ? {
          initiator: snapshot.initiator,
          destination: snapshot.destination,
          translatedInitiator: snapshot.translatedInitiator,
          translatedDestination: snapshot.translatedDestination,
          anchor: snapshot.anchor,
          mode: snapshot.mode,
          state: snapshot.state,
          origin: { ...snapshot.origin },
          createdAt: new Date(snapshot.createdAt).toISOString(),
        }
      : null,
    legs: snapshot ? { initiator: leg(snapshot.legs.initiator), destination: leg(snapshot.legs.destination) } : null,
    data: eventData(event, snapshot),
  }
}
