/**
 * From the call layer's answers to HTTP: a start refusal or a verb refusal
 * becomes a problem with its status (404 unknown call, 409 a verb that does
 * not apply now, 400 bad argument, 502 the phone refused, 503 at capacity).
 */
import type { StartRefusal, VerbOutcome } from '../call'
import { HttpProblem } from './problem'

export function startProblem(r: StartRefusal): HttpProblem {
  if (r.reason === 'overloaded') return new HttpProblem('overloaded', r.text, {}, { 'Retry-After': '5' })
  if (r.reason === 'no-translation') return new HttpProblem('no-translation', r.text, { initiator: r.initiator, destination: r.destination })
  return new HttpProblem('invalid-uri', r.text, {
    initiator: r.initiator,
    destination: r.destination,
    translatedInitiator: r.translatedInitiator,
    translatedDestination: r.translatedDestination,
  })
}

export function verbProblem(o: Exclude<VerbOutcome, { ok: true }>): HttpProblem {
  const extra = o.status !== undefined ? { sipStatus: o.status } : {}
  switch (o.code) {
    case 'unknown-call':
      return new HttpProblem('not-found', o.message)
    case 'bad-argument':
      return new HttpProblem('bad-request', o.message)
    case 'no-translation':
      return new HttpProblem('no-translation', o.message)
    case 'sip-failed':
      return new HttpProblem('sip-failed', o.message, extra)
    default:
      return new HttpProblem(o.code, o.message, extra)
  }
}
