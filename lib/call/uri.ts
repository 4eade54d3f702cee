/**
 * Minimal SIP URI check for translated addresses (RFC 3261 §19.1 shape):
 * the original refuses a translation result that does not parse as a SIP URI.
 */
export interface SipUriParts {
  scheme: 'sip' | 'sips'
  user: string | undefined
  host: string
  port: number | undefined
}

const URI_RE =
  /^(sips?):(?:([^\s@<>"]+)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?((?:;[^\s;?<>"]+)*)(?:\?[^\s<>"]*)?$/i

/** Parse a SIP/SIPS URI; returns a reason string when it is not one. */
export function parseSipUri(text: string): SipUriParts | string {
  if (text.length === 0) return 'empty URI'
  if (text.length > 1024) return 'URI too long'
  const m = URI_RE.exec(text)
  if (!m) {
    if (!/^sips?:/i.test(text)) return 'not a sip: or sips: URI'
    return 'malformed SIP URI'
  }
  const port = m[4] !== undefined ? Number(m[4]) : undefined
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${m[4]} out of range`
  const userinfo = m[2]
  const user = userinfo !== undefined ? userinfo.split(':')[0] : undefined
  return { scheme: m[1]!.toLowerCase() as 'sip' | 'sips', user, host: m[3]!, port }
}

/** The user part of a SIP URI (or the whole text when there is none): used in display names. */
export function userOf(uri: string): string {
  const parsed = parseSipUri(uri)
  if (typeof parsed === 'string') return uri
  return parsed.user ?? parsed.host
}
