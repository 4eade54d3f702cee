/**
 * The CDR sink: listens to every call's events and adds one record to the
 * store when a call ends. It only reads the call's snapshot and appends to
 * the store's queue: nothing here touches the disk or can throw into the
 * call layer.
 */
import type { Logger } from 'pino'
import type { CallEvent, CallService } from '../call'
import type { CdrStore } from './sqlite'
import { recordFromSnapshot, recordFromTrace, type CallTrace } from './record'

/** calls in progress whose events are traced (a bound, should `ended` never come) */
const MAX_TRACES = 100_000

export interface CdrRecorder {
  stop(): void
  /** records handed to the store; traces dropped at the bound; listener errors */
  stats(): { recorded: number; tracesDropped: number; errors: number }
}

export function recordCalls(calls: Pick<CallService, 'subscribe' | 'get'>, store: CdrStore, logger: Logger): CdrRecorder {
  const traces = new Map<string, CallTrace>()
  const counts = { recorded: 0, tracesDropped: 0, errors: 0 }
  const trace = (id: string): CallTrace => {
    let t = traces.get(id)
    if (!t) {
      if (traces.size >= MAX_TRACES) {
        const oldest = traces.keys().next().value as string
        traces.delete(oldest)
        counts.tracesDropped++
      }
      t = { holds: 0, transfers: 0, fellBack: false, referred: false }
      traces.set(id, t)
    }
    return t
  }
  const onEvent = (e: CallEvent): void => {
    try {
      switch (e.type) {
        case 'created':
          trace(e.callId).created = {
            initiator: e.initiator,
            destination: e.destination,
            translatedInitiator: e.translatedInitiator,
            translatedDestination: e.translatedDestination,
            anchor: e.anchor,
            origin: e.origin,
          }
          return
        case 'held':
          trace(e.callId).holds++
          return
        case 'transferred':
        case 'joined':
          if (e.ok) trace(e.callId).transfers++
          return
        case 'referring':
          trace(e.callId).referred = true
          return
        case 'fallback':
          trace(e.callId).fellBack = true
          return
        case 'result':
          if (e.result.final) trace(e.callId).result = { code: e.result.code, leg: e.result.leg ?? null }
          return
        case 'ended': {
          const t = traces.get(e.callId) ?? { holds: 0, transfers: 0, fellBack: false, referred: false }
          traces.delete(e.callId)
          const snapshot = calls.get(e.callId)
          store.add(snapshot ? recordFromSnapshot(snapshot, e) : recordFromTrace(t, e))
          counts.recorded++
          return
        }
        default:
          return
      }
    } catch (err) {
      counts.errors++
      logger.error({ module: 'cdr', callId: e.callId, type: e.type, err }, 'CDR recorder failed on an event')
    }
  }
  const unsubscribe = calls.subscribe(onEvent)
  return {
    stop: unsubscribe,
    stats: () => ({ ...counts }),
  }
}
