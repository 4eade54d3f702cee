/** The SIP stack's connection limits and TLS settings, from the config (issue 12): at start-up and at reload. */
import type { Config } from '../config'
import type { SipReconfigure, SipStackOptions } from '../sip'

export function sipConnectionOptions(config: Config): Pick<SipStackOptions, 'connections' | 'tlsClient'> {
  return {
    connections: {
      max: config.sipMaxConnections,
      perAddress: config.sipMaxConnectionsPerAddress,
      unusedIdleTimeoutMs: config.sipIdleConnectionTimeout * 1000,
    },
    tlsClient: { verify: config.tlsVerifyServer, ...(config.tlsCaFile ? { caFile: config.tlsCaFile } : {}) },
  }
}

/** the SIP listener's TLS files, when TLS is configured (a TLSPort of 0 turns it off) */
export function sipTlsOptions(config: Config): SipStackOptions['tls'] {
  return config.tlsCertificate && config.tlsPrivateKey && config.tlsPort > 0
    ? { port: config.tlsPort, certFile: config.tlsCertificate, keyFile: config.tlsPrivateKey, domain: config.tlsDomain }
    : undefined
}

/** what a reload hands to `sip.reconfigure` */
export function sipReloadOptions(config: Config): SipReconfigure {
  const tls = sipTlsOptions(config)
  return { ...sipConnectionOptions(config), ...(tls ? { tls } : {}) }
}
