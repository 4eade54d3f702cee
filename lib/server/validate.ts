/**
 * The one check of a configuration, shared by start-up, `--check-config`
 * and SIGHUP: what passes here starts (ports aside), what fails here exits
 * 78 at start-up, fails `--check-config` and is refused by a reload.
 */
import dns from 'node:dns'
import { readFileSync } from 'node:fs'
import type { Config } from '../config'
import { compileRules, type Translator } from '../translate'
import { ConfigError } from '../errors'
import { addressProblem } from '../call'
import { loadTlsFiles } from '../sip'
import { sipTlsOptions } from './sip-options'
import { checkEventSettings } from './outputs'
import { isLoopback } from '../jsonrpc'

export interface Validated {
  translator: Translator
  /** not fatal, but worth a line: start-up logs them, --check-config prints them */
  warnings: string[]
}

const NO_RULE = 'no translation rule (TranslationPattern/TranslationOutput): every request would be refused'

/**
 * Throws ConfigError (file, and line when known) for the first problem;
 * returns the compiled rules. `reload`: a file with no rule is refused (a
 * half-written file must not empty a running server's dial plan); at
 * start-up it is only a warning, as the original starts without rules.
 */
export function validateConfig(config: Config, opts: { reload?: boolean } = {}): Validated {
  const warnings: string[] = []
  if (config.translationRules.length === 0) {
    if (opts.reload) throw new ConfigError(NO_RULE, config.file)
    warnings.push(NO_RULE)
  }
  // a rule RE2 refuses is a config error with its file and line
  const translator = compileRules(config.translationRules)
  // the identity goes into the From of every call, as the translated addresses go into Request-URIs
  const identity = addressProblem(config.clickToCallIdentity)
  if (identity) throw new ConfigError(`ClickToCallIdentity: ${identity}`, config.file)
  if (config.httpPort !== 0 && config.httpAuth && !config.httpAuthPwd) {
    throw new ConfigError('HttpAuth is on but HttpAuthPwd is blank: refusing to start the HTTP interface', config.file)
  }
  if (config.jsonRpcPort !== 0 && config.jsonRpcToken === '' && !isLoopback(config.jsonRpcBindAddress)) {
    throw new ConfigError(
      `JsonRpcBindAddress is ${config.jsonRpcBindAddress || 'blank (all interfaces)'} but JsonRpcToken is blank: refusing to start the JSON-RPC interface beyond loopback without a token`,
      config.file,
    )
  }
  if (config.dnsServers.length > 0) {
    try {
      new dns.Resolver().setServers(config.dnsServers) // a throw-away resolver: no side effect
    } catch (err) {
      throw new ConfigError(`DNSServers: ${(err as Error).message}`, config.file)
    }
  }
  if (config.xmlRpcPort !== 0 && (config.xmlRpcTlsCertificate || config.xmlRpcTlsPrivateKey)) {
    if (!config.xmlRpcTlsCertificate || !config.xmlRpcTlsPrivateKey) {
      throw new ConfigError('XmlRpcTLSCertificate and XmlRpcTLSPrivateKey go together: set both or neither', config.file)
    }
    for (const [name, file] of [['XmlRpcTLSCertificate', config.xmlRpcTlsCertificate], ['XmlRpcTLSPrivateKey', config.xmlRpcTlsPrivateKey]] as const) {
      try {
        readFileSync(file)
      } catch (err) {
        throw new ConfigError(`${name}: ${(err as Error).message}`, config.file)
      }
    }
  }
  if (config.xmlRpcThreadNice !== null && (!config.xmlRpcThread || config.xmlRpcPort === 0)) {
    warnings.push(`XmlRpcThreadNice has no effect: ${config.xmlRpcPort === 0 ? 'the XML port is off (XmlRpcPort = 0)' : 'there is no XML thread (XmlRpcThread = disable)'}`)
  }
  // the SIP TLS files, read as the stack will read them (each named when it cannot be)
  const sipTls = sipTlsOptions(config)
  const tlsFiles = loadTlsFiles({ ...(sipTls ? { tls: sipTls } : {}), ...(config.tlsCaFile ? { caFile: config.tlsCaFile } : {}) })
  if (tlsFiles.domainNotNamed) warnings.push(`the SIP TLS certificate ${config.tlsCertificate} does not name TLSDomain ${tlsFiles.domainNotNamed}`)
  // action URL placeholders, webhook event names
  checkEventSettings(config)
  return { translator, warnings }
}
