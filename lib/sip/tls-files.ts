/**
 * The files of SIP over TLS, read and checked before they are used: a file
 * that cannot be read or parsed is a ConfigError naming it (start-up exits
 * 78; a reload is refused and nothing changes).
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import tls from 'node:tls'
import { ConfigError } from '../errors'

export interface TlsFiles {
  /** the listener's certificate and key, when TLS is configured */
  server?: { cert: Buffer; key: Buffer }
  /** CA certificates for outbound peers, replacing the built-in list */
  clientCa?: Buffer
  /** the certificate does not name this TLSDomain (a warning, not an error) */
  domainNotNamed?: string
}

function read(setting: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${(err as Error).message}`)
  }
}

export function loadTlsFiles(o: { tls?: { certFile: string; keyFile: string; domain?: string }; caFile?: string }): TlsFiles {
  const out: TlsFiles = {}
  if (o.tls) {
    const server = { cert: read('TLSCertificate', o.tls.certFile), key: read('TLSPrivateKey', o.tls.keyFile) }
    try {
      tls.createSecureContext(server)
    } catch (err) {
      throw new ConfigError(`TLSCertificate/TLSPrivateKey (${o.tls.certFile}, ${o.tls.keyFile}): ${(err as Error).message}`)
    }
    out.server = server
    const domain = o.tls.domain
    if (domain) {
      let named = false
      try {
        named = new X509Certificate(server.cert).checkHost(domain) !== undefined
      } catch {
        named = false
      }
      if (!named) out.domainNotNamed = domain
    }
  }
  if (o.caFile) {
    const ca = read('TLSCAFile', o.caFile)
    try {
      tls.createSecureContext({ ca })
    } catch (err) {
      throw new ConfigError(`TLSCAFile (${o.caFile}): ${(err as Error).message}`)
    }
    out.clientCa = ca
  }
  return out
}
