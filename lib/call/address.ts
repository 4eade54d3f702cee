/**
 * What may reach the SIP wire as a translated Initiator or Destination: a
 * clean SIP URI (RFC 3261 §19.1, §25.1). Pure.
 *
 * - No control character (NUL..US, DEL) and no raw non-ASCII anywhere: they
 *   must be percent-encoded (`%HH`) by whoever writes the address or rule.
 * - The user part holds only what RFC 3261's `user` grammar allows
 *   (unreserved, `%HH`, `&=+$,;`), so the From display name built from it
 *   (`"Click-To-Call: <user>"`) never needs more than the quoting it gets.
 * - URI headers (`?Route=...&X-Evil=1`) and the `maddr` parameter steer the
 *   phone's own request (a REFER target's headers go into the phone's
 *   INVITE): refused unless the operator allows them (`AllowUriHeaders`).
 *
 * A refusal is a reason string for the original's `400 Invalid URI format`.
 */
import { parseSipUri, type SipUriParts } from './uri'

export interface AddressPolicy {
  /** accept `?headers` and `maddr=` in translated addresses (AllowUriHeaders) */
  allowUriHeaders?: boolean
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/
const NON_ASCII = /[^\x00-\x7f]/
/** user / password: unreserved, escaped, user-unreserved (and ':' between user and password) */
const USERINFO = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;:]|%[0-9A-Fa-f]{2})+$/
/** a URI parameter: paramchar (param-unreserved, unreserved, escaped) and '=' */
const PARAM = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$=]|%[0-9A-Fa-f]{2})+$/
/** URI headers, when allowed: hname=hvalue pairs joined by '&' */
const HEADERS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$=&]|%[0-9A-Fa-f]{2})*$/

function describe(c: string): string {
  const code = c.codePointAt(0)!
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
}

/** Why `uri` may not be sent, or undefined when it is clean. */
export function addressProblem(uri: string, policy: AddressPolicy = {}): string | undefined {
  const control = CONTROL.exec(uri)
  if (control) return `control character ${describe(control[0])} in URI`
  const raw = NON_ASCII.exec(uri)
  if (raw) return `raw non-ASCII character ${describe(raw[0])} in URI (percent-encode it)`
  const scheme = /^sips?:/i.exec(uri)
  if (!scheme) return undefined // parseSipUri says why
  let rest = uri.slice(scheme[0].length)
  const q = rest.indexOf('?')
  const at = rest.lastIndexOf('@', q < 0 ? undefined : q)
  if (at >= 0) {
    const userinfo = rest.slice(0, at)
    if (!USERINFO.test(userinfo)) {
      const bad = [...userinfo].find((c) => !/[A-Za-z0-9\-_.!~*'()&=+$,;:%]/.test(c))
      return bad !== undefined ? `character "${bad}" not allowed in the user part` : 'bad percent-encoding in the user part'
    }
    rest = rest.slice(at + 1)
  }
  const hq = rest.indexOf('?')
  if (hq >= 0) {
    if (!policy.allowUriHeaders) return 'URI headers (?...) not allowed (AllowUriHeaders)'
    if (!HEADERS.test(rest.slice(hq + 1))) return 'malformed URI headers'
    rest = rest.slice(0, hq)
  }
  const params = rest.split(';').slice(1)
  for (const p of params) {
    if (!PARAM.test(p)) return `malformed URI parameter ";${p}"`
    if (/^maddr(?:=|$)/i.test(p) && !policy.allowUriHeaders) return 'maddr parameter not allowed (AllowUriHeaders)'
  }
  return undefined
}

/** parseSipUri, then the checks above: the parts, or the reason for a 400 Invalid URI format. */
export function checkAddress(uri: string, policy: AddressPolicy = {}): SipUriParts | string {
  return addressProblem(uri, policy) ?? parseSipUri(uri)
}
