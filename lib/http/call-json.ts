/** A call as the REST API shows it: the call layer's snapshot, its typed events when the call is still known, links. */
import type { CallEvent, CallHandle, CallSnapshot } from '../call'

export interface CallJson extends CallSnapshot {
  events?: CallEvent[]
  links: { self: string }
}

export function callJson(snap: CallSnapshot, handle?: CallHandle): CallJson {
  return { ...snap, ...(handle ? { events: [...handle.events] } : {}), links: { self: `/v1/calls/${encodeURIComponent(snap.id)}` } }
}
