/**
 * Who may talk to the HTTP port, by the names in the request: the `Host`
 * header must name this server (against DNS rebinding), and a request that
 * a web page of another site sent (its `Origin`, `Referer` or
 * `Sec-Fetch-Site` says so) is refused unless that origin is allowed.
 */
import net from 'node:net'
import type http from 'node:http'

export interface HostRules {
  /** the configured bind address ('' = all interfaces) */
  bindAddress: string
  allowedHosts: string[]
  allowedOrigins: string[]
}

function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '')
  return a === '::1' || /^127\./.test(a)
}

/** `host[:port]` or `[v6][:port]` to the bare lower-case host */
export function bareHost(hostHeader: string): string | undefined {
  const h = hostHeader.trim().toLowerCase()
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h)
  if (v6) return v6[1]
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h)
  return m ? m[1]!.replace(/\.$/, '') : undefined
}

/** true when `host` (bare) names this server for a request that came in on `localAddress` */
export function hostAllowed(host: string, localAddress: string, rules: HostRules): boolean {
  const local = localAddress.replace(/^::ffff:/i, '')
  if (host === 'localhost') return true
  if (rules.bindAddress !== '' && host === rules.bindAddress.toLowerCase()) return true
  if (net.isIP(host) !== 0 && host === local.toLowerCase()) return true
  if (isLoopback(local) && (host === '::1' || /^127\./.test(host))) return true
  return rules.allowedHosts.some((a) => a.toLowerCase() === host)
}

export type SiteVerdict = { ok: true } | { ok: false; status: 403 | 421; reason: string }

/** the Host and cross-site checks of one request */
export function checkSite(req: http.IncomingMessage, rules: HostRules): SiteVerdict {
  const local = req.socket.localAddress ?? ''
  const hostHeader = req.headers.host
  if (hostHeader !== undefined) {
    const host = bareHost(hostHeader)
    if (!host || !hostAllowed(host, local, rules)) return { ok: false, status: 421, reason: `Host ${hostHeader.slice(0, 100)} is not this server (HttpAllowedHosts)` }
  }
  const from = req.headers.origin ?? refererOrigin(req.headers.referer)
  if (from !== undefined) {
    if (rules.allowedOrigins.includes(from.toLowerCase())) return { ok: true }
    let u: URL | undefined
    try {
      u = new URL(from)
    } catch {
      u = undefined
    }
    const host = u ? bareHost(u.host) : undefined
    const sameSite = u !== undefined && host !== undefined && (u.protocol === 'http:' || u.protocol === 'https:') && hostAllowed(host, local, rules) && u.port === String(req.socket.localPort ?? '')
    if (!sameSite) return { ok: false, status: 403, reason: `requests from ${from.slice(0, 100)} are not allowed (HttpAllowedOrigins)` }
    return { ok: true }
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') return { ok: false, status: 403, reason: 'cross-site requests are not allowed (HttpAllowedOrigins)' }
  return { ok: true }
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (referer === undefined) return undefined
  try {
    return new URL(referer).origin
  } catch {
    return 'null'
  }
}
