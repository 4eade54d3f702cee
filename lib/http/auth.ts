/**
 * Authentication of an HTTP request (user admin): Digest (RFC 7616) always
 * offered, Basic when allowed, failures throttled per (address, user). The
 * settings are read at each request, so a SIGHUP applies to the next one.
 */
import type http from 'node:http'
import { DigestAuth, parseAuthParams } from './digest'
import { checkBasic } from './basic'
import { FailureThrottle } from './throttle'
import type { HttpSettings } from './settings'

export const USER = 'admin'

export type AuthVerdict =
  | { ok: true; user?: string; scheme: string }
  /** 401 with these WWW-Authenticate values */
  | { ok: false; status: 401; challenges: string[]; reason: string; user?: string }
  /** 429: throttled */
  | { ok: false; status: 429; retryAfterS: number; reason: string; user?: string }

export class Authenticator {
  private readonly digest: DigestAuth
  readonly throttle: FailureThrottle

  constructor(
    private readonly settings: () => HttpSettings,
    readonly realm: string,
    nonceTtlMs: number,
    maxFailures: number,
  ) {
    const s = settings()
    this.digest = new DigestAuth({ realm, username: USER, password: s.password, nonceTtlMs, algorithms: s.digestAlgorithms })
    this.throttle = new FailureThrottle(maxFailures)
  }

  challenges(stale = false): string[] {
    const s = this.settings()
    this.digest.configure(s.password, s.digestAlgorithms)
    const out = this.digest.challenges(stale)
    if (s.basicAllowed) out.push(`Basic realm="${this.realm}"`)
    return out
  }

  check(req: http.IncomingMessage, remote: string): AuthVerdict {
    const s = this.settings()
    if (!s.auth) return { ok: true, scheme: 'none' }
    this.digest.configure(s.password, s.digestAlgorithms)
    const header = req.headers.authorization ?? ''
    const isDigest = /^\s*Digest\s/i.test(header)
    const isBasic = /^\s*Basic\s/i.test(header)
    const claimed = isDigest ? (parseAuthParams(header.replace(/^\s*Digest\s+/i, '')).username ?? '') : isBasic ? basicUser(header) : ''
    const user = claimed.slice(0, 64)
    const throttled = this.throttle.state(remote, user)
    // a throttled pair: only a Digest answer, and only at its next try time, is checked
    if (throttled.throttled && !(isDigest && throttled.mayTry)) {
      return { ok: false, status: 429, retryAfterS: throttled.retryAfterS, reason: 'too many failures', user }
    }
    let ok = false
    let stale = false
    let scheme = 'none'
    let reason = header ? 'unsupported scheme' : 'no credentials'
    if (isDigest) {
      const v = this.digest.verify(header, req.method ?? 'GET', req.url ?? '')
      ok = v.ok
      scheme = v.ok ? `Digest ${v.algorithm}` : 'Digest'
      if (!v.ok) {
        stale = v.stale
        reason = v.reason
      }
    } else if (isBasic && s.basicAllowed) {
      ok = checkBasic(header, USER, s.password).ok
      scheme = 'Basic'
      reason = ok ? '' : 'wrong credentials'
    }
    if (ok) {
      this.throttle.succeed(remote, user)
      return { ok: true, user, scheme }
    }
    if (header && !stale) this.throttle.fail(remote, user)
    return { ok: false, status: 401, challenges: this.challenges(stale), reason, user }
  }
}

function basicUser(header: string): string {
  const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return ''
  const text = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  return colon < 0 ? '' : text.slice(0, colon)
}
