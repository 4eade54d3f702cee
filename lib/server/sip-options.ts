/** The SIP stack's connection limits and TLS client settings, from the config (issue 12). */
import type { Config } from '../config'
import type { SipStackOptions } from '../sip'

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
