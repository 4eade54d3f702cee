/**
 * HTTP Digest authentication, server side (RFC 7616), written here because
 * http-auth offers MD5 only, keeps every nonce, ignores `uri` and compares
 * with ===. Nonces are stateless: base64url(issued-at ms . HMAC(key, issued-at
 * . realm)) with a per-process random key, so they need no table and expire on
 * their own (`stale=true` then). `nc` replay is refused with a small bounded
 * map of the counts seen per nonce: the highest, and which of the 32 below it
 * were used (a browser's parallel requests may arrive out of order; a count
 * is still taken once only).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export type DigestAlgorithm = 'SHA-256' | 'MD5'

export interface DigestOptions {
  realm: string
  username: string
  password: string
  nonceTtlMs: number
  /** algorithms offered, in order of preference (default SHA-256, MD5) */
  algorithms?: DigestAlgorithm[]
  /** most nonces whose nc is remembered */
  maxTrackedNonces?: number
}

export type DigestVerdict =
  | { ok: true; algorithm: DigestAlgorithm; username: string }
  | { ok: false; stale: boolean; reason: string; username?: string }

const key = randomBytes(32)

function h(alg: DigestAlgorithm, s: string): string {
  return createHash(alg === 'SHA-256' ? 'sha256' : 'md5')
    .update(s)
    .digest('hex')
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Parse `Digest k=v, k="v"` into a map (lower-case keys). */
export function parseAuthParams(header: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g
  let m: RegExpExecArray | null
  let guard = 0
  while ((m = re.exec(header)) !== null && guard++ < 64) {
    out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!
  }
  return out
}

export class DigestAuth {
  /** nonce -> highest nc seen, and a bit per count of the 32 below it that was used */
  private readonly ncSeen = new Map<string, { max: number; below: number }>()

  private readonly o: DigestOptions

  constructor(o: DigestOptions) {
    this.o = { ...o }
  }

  /** a new password or algorithm list (SIGHUP); nonces already issued stay valid */
  configure(password: string, algorithms: DigestAlgorithm[]): void {
    this.o.password = password
    this.o.algorithms = algorithms
  }

  newNonce(now = Date.now()): string {
    const ts = String(now)
    const mac = createHmac('sha256', key).update(`${ts}.${this.o.realm}`).digest('base64url')
    return Buffer.from(`${ts}.${mac}`).toString('base64url')
  }

  /** 'bad' (forged), 'stale' (expired) or 'ok' */
  checkNonce(nonce: string, now = Date.now()): 'ok' | 'stale' | 'bad' {
    let text: string
    try {
      text = Buffer.from(nonce, 'base64url').toString()
    } catch {
      return 'bad'
    }
    const dot = text.indexOf('.')
    if (dot <= 0) return 'bad'
    const ts = text.slice(0, dot)
    const mac = createHmac('sha256', key).update(`${ts}.${this.o.realm}`).digest('base64url')
    if (!safeEqual(mac, text.slice(dot + 1))) return 'bad'
    const age = now - Number(ts)
    if (!(age >= 0) || age > this.o.nonceTtlMs) return 'stale'
    return 'ok'
  }

  /** WWW-Authenticate values: SHA-256 first, then MD5. */
  challenges(stale = false): string[] {
    const nonce = this.newNonce()
    return (this.o.algorithms ?? ['SHA-256', 'MD5']).map(
      (alg) => `Digest realm="${this.o.realm}", qop="auth", algorithm=${alg}, nonce="${nonce}"${stale ? ', stale=true' : ''}`,
    )
  }

  verify(header: string, method: string, requestTarget: string): DigestVerdict {
    const p = parseAuthParams(header.replace(/^\s*Digest\s+/i, ''))
    const username = p.username
    const fail = (reason: string, stale = false): DigestVerdict => ({ ok: false, stale, reason, ...(username ? { username } : {}) })
    const alg = (p.algorithm ?? 'MD5').toUpperCase()
    if (!(this.o.algorithms ?? ['SHA-256', 'MD5']).includes(alg as DigestAlgorithm)) return fail(`algorithm ${alg} not offered`)
    const algorithm = alg as DigestAlgorithm
    if (!p.nonce || !p.response || !p.uri || !username) return fail('incomplete Digest credentials')
    if (p.realm !== this.o.realm) return fail('wrong realm')
    if (p.uri !== requestTarget) return fail('uri does not match the request')
    if (p.qop !== 'auth' || !p.nc || !p.cnonce || !/^[0-9a-fA-F]{8}$/.test(p.nc)) return fail('qop=auth with nc and cnonce required')
    const nonceState = this.checkNonce(p.nonce)
    if (nonceState === 'bad') return fail('invalid nonce')
    const ha1 = h(algorithm, `${this.o.username}:${this.o.realm}:${this.o.password}`)
    const ha2 = h(algorithm, `${method}:${p.uri}`)
    const expected = h(algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`)
    const userOk = safeEqual(username, this.o.username)
    if (!safeEqual(expected, p.response.toLowerCase()) || !userOk) return fail('wrong credentials')
    if (nonceState === 'stale') return fail('nonce expired', true)
    const nc = parseInt(p.nc, 16)
    if (!this.takeCount(p.nonce, nc)) return fail('nonce count replayed')
    return { ok: true, algorithm, username }
  }

  /** true when `nc` was not used with this nonce before (and marks it used) */
  private takeCount(nonce: string, nc: number): boolean {
    const seen = this.ncSeen.get(nonce) ?? { max: 0, below: 0 }
    let next: { max: number; below: number }
    if (nc > seen.max) {
      const shift = nc - seen.max
      // the old max becomes bit (shift - 1) below the new one; older ones move up with it
      const moved = shift >= 32 ? 0 : (seen.below << shift) | (seen.max > 0 ? 1 << (shift - 1) : 0)
      next = { max: nc, below: moved >>> 0 }
    } else {
      const bit = seen.max - nc - 1
      if (nc === seen.max || bit >= 32 || (seen.below & (1 << bit)) !== 0) return false
      next = { max: seen.max, below: (seen.below | (1 << bit)) >>> 0 }
    }
    this.remember(nonce, next)
    return true
  }

  private remember(nonce: string, state: { max: number; below: number }): void {
    this.ncSeen.delete(nonce)
    this.ncSeen.set(nonce, state)
    const max = this.o.maxTrackedNonces ?? 10_000
    while (this.ncSeen.size > max) {
      const oldest = this.ncSeen.keys().next().value as string
      this.ncSeen.delete(oldest)
    }
  }
}
