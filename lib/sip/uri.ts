/**
 * The one SIP URI parser (RFC 3261 §19.1), IPv6 references included (the
 * `sip` package's parseUri does not accept `[::1]` hosts). Routing uses
 * `parseSipUri`; the call layer checks translated addresses with
 * `checkSipUri`, which says why a text is not a SIP URI.
 */
import type * as sip from 'sip'

const URI =
  /^(sips?):(?:([^\s@<>"]+)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?((?:;[^\s;?<>"]*)*)(?:\?([^\s<>"]*))?$/i

export interface SipUriParts {
  scheme: 'sip' | 'sips'
  user: string | undefined
  host: string
  port: number | undefined
  params: Record<string, string | null>
  /** the URI's `?headers` part, raw, when present */
  headers: string | undefined
}

/** Parse a SIP/SIPS URI; returns a reason string when it is not one. */
export function checkSipUri(text: string): SipUriParts | string {
  if (text.length === 0) return 'empty URI'
  if (text.length > 1024) return 'URI too long'
  const m = URI.exec(text)
  if (!m) {
    if (!/^sips?:/i.test(text)) return 'not a sip: or sips: URI'
    return 'malformed SIP URI'
  }
  const port = m[4] !== undefined ? Number(m[4]) : undefined
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${m[4]} out of range`
  const params: Record<string, string | null> = {}
  for (const p of (m[5] ?? '').split(';').filter(Boolean)) {
    const eq = p.indexOf('=')
    if (eq < 0) params[p.toLowerCase()] = null
    else params[p.slice(0, eq).toLowerCase()] = p.slice(eq + 1)
  }
  const userinfo = m[2]
  return {
    scheme: m[1]!.toLowerCase() as 'sip' | 'sips',
    user: userinfo !== undefined ? userinfo.split(':')[0] : undefined,
    host: m[3]!,
    port,
    params,
    headers: m[6],
  }
}

/** A SIP URI in the `sip` package's shape (for routing), or undefined. */
export function parseSipUri(text: string): sip.SipUri | undefined {
  const parts = checkSipUri(text.trim())
  if (typeof parts === 'string') return undefined
  const uri: sip.SipUri = { schema: parts.scheme, host: parts.host, params: parts.params, headers: {} }
  if (parts.user !== undefined) uri.user = parts.user
  if (parts.port !== undefined) uri.port = parts.port
  return uri
}

/** An IPv6 reference's address (`[::1]` -> `::1`); any other host as it is (a regex replace per request was a measurable cost). */
export function unbracket(host: string): string {
  return host.length >= 2 && host.charCodeAt(0) === 91 && host.charCodeAt(host.length - 1) === 93 && !/[\r\n\u2028\u2029]/.test(host) ? host.slice(1, -1) : host
}
