/**
 * What the HTTP front-end can be told again at SIGHUP without re-binding its
 * socket (port and bind address need a restart): one object, read at each
 * request, so reconfigure() takes effect for the next request.
 */
import type { Config } from '../config'
import type { DigestAlgorithm } from './digest'

export interface HttpSettings {
  /** require a password (user admin) */
  auth: boolean
  password: string
  /** accept Basic credentials (the original's clients send them) */
  basicAllowed: boolean
  /** Digest algorithms offered, in order */
  digestAlgorithms: DigestAlgorithm[]
  /** host names the port answers to besides its own address and localhost */
  allowedHosts: string[]
  /** web origins (scheme://host[:port]) whose pages may send requests */
  allowedOrigins: string[]
  /** most connections at once */
  maxConnections: number
  /** most connections at once from one address */
  maxConnectionsPerAddress: number
  /** most calls per minute placed from one address (0 = no limit) */
  rateLimit: number
  /** largest JSON request body, bytes */
  maxBodySize: number
  /** token of the command URL; '' = that URL is refused */
  commandToken: string
  /** a request may name the identity the server calls as (REST `identity`, sipXrest `agent`) */
  allowIdentity: boolean
  /** domain of a bare agent name (`201` becomes sip:201@<domain>): ClickToCallIdentity's host */
  identityDomain: string
}

export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  auth: false,
  password: '',
  basicAllowed: true,
  digestAlgorithms: ['SHA-256', 'MD5'],
  allowedHosts: [],
  allowedOrigins: [],
  maxConnections: 256,
  maxConnectionsPerAddress: 32,
  rateLimit: 120,
  maxBodySize: 65536,
  commandToken: '',
  allowIdentity: false,
  identityDomain: 'localhost',
}

/** the HTTP settings of a config (at start and at each SIGHUP) */
export function httpSettingsOf(c: Config): HttpSettings {
  return {
    auth: c.httpAuth,
    password: c.httpAuthPwd,
    basicAllowed: c.httpAuthBasic,
    digestAlgorithms: c.httpDigestAlgorithms,
    allowedHosts: c.httpAllowedHosts,
    allowedOrigins: c.httpAllowedOrigins,
    maxConnections: c.httpMaxConnections,
    maxConnectionsPerAddress: c.httpMaxConnectionsPerAddress,
    rateLimit: c.httpRateLimit,
    maxBodySize: c.httpMaxBodySize,
    commandToken: c.httpCommandToken,
    allowIdentity: c.httpAllowIdentity,
    identityDomain: identityDomain(c.clickToCallIdentity),
  }
}

/** the host part of a SIP URI (sip:user@host:port;params) */
function identityDomain(uri: string): string {
  const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;?>]+)/i.exec(uri)
  return m ? m[1]! : 'localhost'
}
