/**
 * The identity a request asks the server to call as (REST `identity`,
 * sipXrest `agent`): only when HttpAllowIdentity is on; a bare name
 * (`201`) becomes sip:201@<ClickToCallIdentity's host>.
 */
import { HttpProblem } from './problem'
import type { HttpSettings } from './settings'

const USER_PART = /^[A-Za-z0-9._~!$&'()*+,;=%-]{1,64}$/

export function requestedIdentity(value: string | undefined, field: string, s: HttpSettings): string | undefined {
  if (value === undefined) return undefined
  if (!s.allowIdentity) throw new HttpProblem('identity-not-allowed', `${field}: naming the calling identity is turned off (HttpAllowIdentity)`)
  if (/^sips?:/i.test(value)) return value
  if (!USER_PART.test(value)) throw new HttpProblem('bad-request', `${field}: a user name (201) or a SIP URI (sip:201@example.com)`)
  return `sip:${value}@${s.identityDomain}`
}
