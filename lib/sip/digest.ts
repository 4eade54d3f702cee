/**
 * Digest authentication toward proxies and registrars (RFC 3261 §22,
 * RFC 8760 for SHA-256): answer a 401/407 challenge once.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { SipCredentials } from './api'
import { unquote, type SipMessage } from './message'

interface Challenge {
  scheme?: string
  realm?: string
  nonce?: string
  qop?: string
  algorithm?: string
  opaque?: string
  [k: string]: string | undefined
}

function hash(alg: string, s: string): string {
  return createHash(alg === 'SHA-256' ? 'sha256' : 'md5')
    .update(s)
    .digest('hex')
}

/** Pick the strongest challenge we can answer (SHA-256 over MD5). */
function pick(challenges: Challenge[]): Challenge | undefined {
  const digest = challenges.filter((c) => (c.scheme ?? '').toLowerCase() === 'digest')
  const alg = (c: Challenge): string => (unquote(c.algorithm) ?? 'MD5').toUpperCase()
  return digest.find((c) => alg(c) === 'SHA-256') ?? digest.find((c) => alg(c) === 'MD5')
}

/**
 * Authorization header value for `request` answering the challenge in
 * `response`, or undefined when no credentials fit.
 */
export function authorize(
  request: SipMessage,
  response: SipMessage,
  credentials: SipCredentials[] | undefined,
): { header: 'authorization' | 'proxy-authorization'; value: Record<string, string> } | undefined {
  if (!credentials || credentials.length === 0) return undefined
  const proxy = response.status === 407
  const list = (response.headers[proxy ? 'proxy-authenticate' : 'www-authenticate'] ?? []) as Challenge[]
  const c = pick(Array.isArray(list) ? list : [])
  if (!c || !c.nonce) return undefined
  const realm = unquote(c.realm) ?? ''
  const cred = credentials.find((x) => x.realm === undefined || x.realm === realm)
  if (!cred) return undefined
  const algorithm = (unquote(c.algorithm) ?? 'MD5').toUpperCase()
  const nonce = unquote(c.nonce)!
  const uri = String(request.uri)
  const ha1 = hash(algorithm, `${cred.username}:${realm}:${cred.password}`)
  const ha2 = hash(algorithm, `${request.method}:${uri}`)
  const qops = (unquote(c.qop) ?? '').split(',').map((x) => x.trim())
  const value: Record<string, string> = {
    scheme: 'Digest',
    username: `"${cred.username}"`,
    realm: `"${realm}"`,
    nonce: `"${nonce}"`,
    uri: `"${uri}"`,
    algorithm,
  }
  if (qops.includes('auth')) {
    const cnonce = randomBytes(8).toString('hex')
    const nc = '00000001'
    value.response = `"${hash(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`
    value.qop = 'auth'
    value.nc = nc
    value.cnonce = `"${cnonce}"`
  } else {
    value.response = `"${hash(algorithm, `${ha1}:${nonce}:${ha2}`)}"`
  }
  if (c.opaque !== undefined) value.opaque = c.opaque
  return { header: proxy ? 'proxy-authorization' : 'authorization', value }
}
