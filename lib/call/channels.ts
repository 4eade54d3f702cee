/**
 * Call events on diagnostics_channel, one channel per event type
 * (`clicktocall:call:created`, `clicktocall:call:ended`, ...), as undici
 * publishes a channel per lifecycle stage. Publishing costs nothing while
 * nobody subscribes.
 */
import diagnostics from 'node:diagnostics_channel'
import type { CallEvent, CallEventType } from './api'

/** every type a CallEvent can have, in the order of a call's life */
export const CALL_EVENT_TYPES: readonly CallEventType[] = [
  'created',
  'ringing',
  'answered',
  'referring',
  'fallback',
  'bridged',
  'held',
  'resumed',
  'transferring',
  'transferred',
  'joined',
  'result',
  'state',
  'ended',
]

export const callChannels: Readonly<Record<CallEventType, diagnostics.Channel>> = Object.fromEntries(
  CALL_EVENT_TYPES.map((t) => [t, diagnostics.channel(`clicktocall:call:${t}`)]),
) as Record<CallEventType, diagnostics.Channel>

export function publishEvent(event: CallEvent): void {
  const channel = callChannels[event.type]
  if (channel.hasSubscribers) channel.publish(event)
}
