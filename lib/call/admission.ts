/**
 * A new call's addresses through the translation rules and the URI check,
 * as the original does before its `100 In progress`. Pure: the call manager
 * uses it, and so does the XML thread, which writes the 100 before the main
 * thread has seen the request (lib/xml/thread.ts).
 */
import type { StartRefusal } from './api'
import { checkAddress, type AddressPolicy } from './address'
import { invalidUriText, noTranslationText } from './texts'

export interface AdmissionPolicy extends AddressPolicy {
  /** the translation rules: the output for an address, or undefined when no rule matches */
  translate: (address: string) => string | undefined
}

export type Translated = { ok: true; initiator: string; destination: string }

/** The 503 of a server shutting down or at MaxCalls, or undefined when a new call may start. */
export function capacityRefusal(closing: boolean, live: number, maxCalls: number): StartRefusal | undefined {
  if (closing) return { ok: false, reason: 'overloaded', code: 503, text: 'Server shutting down' }
  if (live >= maxCalls) return { ok: false, reason: 'overloaded', code: 503, text: 'Too many calls in progress' }
  return undefined
}

/**
 * The translated initiator and destination, or the original's 400 refusal.
 * `given` (addresses another thread translated already) skips the rules,
 * not the URI check.
 */
export function translateCall(
  initiator: string,
  destination: string,
  policy: AdmissionPolicy,
  given?: { initiator: string; destination: string },
): Translated | StartRefusal {
  const ti = given ? given.initiator : policy.translate(initiator)
  const td = given ? given.destination : ti === undefined ? undefined : policy.translate(destination)
  if (ti === undefined || td === undefined) {
    return { ok: false, reason: 'no-translation', code: 400, text: noTranslationText(initiator, destination), initiator, destination }
  }
  const pi = checkAddress(ti, policy)
  const pd = checkAddress(td, policy)
  if (typeof pi === 'string' || typeof pd === 'string') {
    const why = typeof pi === 'string' ? `initiator: ${pi}` : `destination: ${pd as string}`
    return {
      ok: false,
      reason: 'invalid-uri',
      code: 400,
      text: invalidUriText(ti, initiator, td, destination, why),
      initiator,
      destination,
      translatedInitiator: ti,
      translatedDestination: td,
    }
  }
  return { ok: true, initiator: ti, destination: td }
}
