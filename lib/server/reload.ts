/**
 * What a SIGHUP can change in a running server, and what needs a restart.
 * Pure: compares two configurations by the settings table.
 */
import { SETTINGS, type Config } from '../config'

type Field = keyof Config

/**
 * Settings that re-bind a socket, re-open a file or rebuild the SIP stack:
 * a reload names them in a warning (`HttpPort changed: restart to apply`)
 * and keeps the running value.
 */
export const RESTART_FIELDS: readonly Field[] = [
  'ipAddress',
  'udpTcpPort',
  'tlsPort',
  'tlsDomain',
  'keepAlives',
  'outboundProxy',
  'tlsCertificate',
  'tlsPrivateKey',
  'sipAuthUser',
  'sipAuthPassword',
  'sipAuthRealm',
  'logLevel',
  'logFilename',
  'logFileMaxLines',
  'xmlRpcPort',
  'xmlRpcBindAddress',
  'httpPort',
  'httpBindAddress',
]

/** The HTTP settings a reload hands to the HTTP front-end (restart-only if it cannot take them). */
export const HTTP_LIVE_FIELDS: readonly Field[] = ['httpAuth', 'httpAuthPwd', 'httpAuthBasic', 'httpDigestAlgorithms']

/** What the HTTP front-end's reconfigure() takes (lib/http owns it). */
export interface HttpUpdate {
  auth?: boolean
  password?: string
  basicAllowed?: boolean
  digestAlgorithms?: Array<'SHA-256' | 'MD5'>
  allowedHosts?: string[]
  allowedOrigins?: string[]
  rateLimit?: number
  maxConnections?: number
  maxConnectionsPerAddress?: number
}

/** the setting's name as the file spells it (first name for a field with two spellings) */
export function settingName(field: Field): string {
  if (field === 'translationRules') return 'TranslationPattern/TranslationOutput'
  if (field === 'initiatorHeaders') return 'InitiatorHeader'
  return SETTINGS.find((s) => s.field === field)?.name ?? field
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** every setting whose value differs (rules compared by pattern and output) */
export function changedFields(prev: Config, next: Config): Field[] {
  const out: Field[] = []
  for (const f of Object.keys(next) as Field[]) {
    if (f === 'file') continue
    if (f === 'translationRules') {
      const rules = (c: Config): Array<[string, string]> => c.translationRules.map((r) => [r.pattern, r.output])
      if (!same(rules(prev), rules(next))) out.push(f)
      continue
    }
    if (!same(prev[f], next[f])) out.push(f)
  }
  return out
}

/** XML TLS on or off needs a new listener; new files for a TLS listener are swapped in */
function xmlTlsMode(c: Config): boolean {
  return Boolean(c.xmlRpcTlsCertificate && c.xmlRpcTlsPrivateKey)
}

export interface ReloadPlan {
  /** changed settings that take effect now */
  applied: string[]
  /** changed settings that need a restart (named in warnings) */
  restart: string[]
  /** the configuration now in force: `next`, with the running value of each restart-only setting */
  effective: Config
}

export function planReload(running: Config, next: Config, opts: { httpLive: boolean }): ReloadPlan {
  const restartFields = new Set<Field>(RESTART_FIELDS)
  if (!opts.httpLive) for (const f of HTTP_LIVE_FIELDS) restartFields.add(f)
  const changed = changedFields(running, next)
  const applied: string[] = []
  const restart: string[] = []
  const effective: Config = { ...next }
  const keep = <F extends Field>(f: F): void => {
    effective[f] = running[f]
  }
  for (const f of changed) {
    const xmlTlsSwitch = (f === 'xmlRpcTlsCertificate' || f === 'xmlRpcTlsPrivateKey') && xmlTlsMode(running) !== xmlTlsMode(next)
    if (restartFields.has(f) || xmlTlsSwitch) {
      restart.push(settingName(f))
      keep(f)
    } else {
      applied.push(settingName(f))
    }
  }
  return { applied: [...new Set(applied)], restart: [...new Set(restart)], effective }
}
