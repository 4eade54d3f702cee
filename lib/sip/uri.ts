/**
 * SIP URI parsing for routing (RFC 3261 §19.1), IPv6 references included:
 * the `sip` package's parseUri does not accept `[::1]` hosts.
 */
import type * as sip from 'sip'

const URI = /^(sips?):(?:([^@\s]+)@)?(\[[0-9a-fA-F:.]+\]|[^\s:;?]+)(?::(\d{1,5}))?((?:;[^;?\s]*)*)(?:\?(.*))?$/i

export function parseSipUri(text: string): sip.SipUri | undefined {
  const m = URI.exec(text.trim())
  if (!m) return undefined
  const params: Record<string, string | null> = {}
  for (const p of (m[5] ?? '').split(';').filter(Boolean)) {
    const eq = p.indexOf('=')
    if (eq < 0) params[p.toLowerCase()] = null
    else params[p.slice(0, eq).toLowerCase()] = p.slice(eq + 1)
  }
  const userinfo = m[2]
  const uri: sip.SipUri = {
    schema: m[1]!.toLowerCase(),
    host: m[3]!,
    params,
    headers: {},
  }
  if (userinfo !== undefined) uri.user = userinfo.split(':')[0]!
  if (m[4] !== undefined) uri.port = Number(m[4])
  return uri
}
