/**
 * Translated addresses as SIP URIs: the original refuses a translation result
 * that does not parse as one. The parsing itself is lib/sip's (one parser).
 */
import { checkSipUri, type SipUriParts } from '../sip'

export type { SipUriParts }

/** Parse a SIP/SIPS URI; returns a reason string when it is not one. */
export function parseSipUri(text: string): SipUriParts | string {
  return checkSipUri(text)
}

/** The user part of a SIP URI (or the whole text when there is none): used in display names. */
export function userOf(uri: string): string {
  const parsed = checkSipUri(uri)
  if (typeof parsed === 'string') return uri
  return parsed.user ?? parsed.host
}
