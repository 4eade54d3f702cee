/**
 * What a SIGHUP can change in a running server, and what needs a restart.
 * Pure: compares two configurations by the settings table.
 */
import { SETTINGS, type Config } from '../config'

type Field = keyof Config

/**
 * Settings a reload applies at once (for new requests and connections; calls
 * in progress keep theirs). Every other setting re-binds a socket, re-opens a
 * file or rebuilds the SIP stack: a reload names it in a warning
 * (`HttpPort changed: restart to apply`) and keeps the running value. A new
 * setting is restart-only until it is listed here, so a reload never claims
 * to apply what it does not.
 */
export const LIVE_FIELDS: readonly Field[] = [
  'translationRules',
  'initiatorHeaders',
  'clickToCallIdentity',
  'initiatorRingTimeout',
  'destinationRingTimeout',
  'referNotifyTimeout',
  'resultCacheTime',
  'maxCalls',
  'allowUriHeaders',
  'dnsServers',
  // SIP connection limits and TLS (sip.reconfigure; TLS turned on or off: see sipTlsMode)
  'sipMaxConnections',
  'sipMaxConnectionsPerAddress',
  'sipIdleConnectionTimeout',
  'tlsVerifyServer',
  'tlsCaFile',
  'tlsDomain',
  'tlsCertificate',
  'tlsPrivateKey',
]

/** every XmlRpc* setting but the port, bind address and thread (TLS files: see xmlTlsMode) */
function xmlLive(f: Field): boolean {
  return f.startsWith('xmlRpc') && f !== 'xmlRpcPort' && f !== 'xmlRpcBindAddress' && f !== 'xmlRpcThread'
}

/** every Http* setting but the port and bind address, when the HTTP front-end can take them */
function httpLive(f: Field): boolean {
  return f.startsWith('http') && f !== 'httpPort' && f !== 'httpBindAddress'
}

/** every JsonRpc* setting but the port and bind address */
function jsonRpcLive(f: Field): boolean {
  return f.startsWith('jsonRpc') && f !== 'jsonRpcPort' && f !== 'jsonRpcBindAddress'
}

/** the restart-only settings (for docs and tests): everything not live */
export function restartFields(all: readonly Field[]): Field[] {
  return all.filter((f) => f !== 'file' && !LIVE_FIELDS.includes(f) && !xmlLive(f) && !httpLive(f) && !jsonRpcLive(f))
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

/** SIP TLS on or off needs a new listener; new files for a TLS listener are swapped in */
function sipTlsMode(c: Config): boolean {
  return Boolean(c.tlsCertificate && c.tlsPrivateKey && c.tlsPort > 0)
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
  const live = (f: Field): boolean => LIVE_FIELDS.includes(f) || xmlLive(f) || jsonRpcLive(f) || (opts.httpLive && httpLive(f))
  const changed = changedFields(running, next)
  const applied: string[] = []
  const restart: string[] = []
  const effective: Config = { ...next }
  const keep = <F extends Field>(f: F): void => {
    effective[f] = running[f]
  }
  for (const f of changed) {
    const xmlTlsSwitch = (f === 'xmlRpcTlsCertificate' || f === 'xmlRpcTlsPrivateKey') && xmlTlsMode(running) !== xmlTlsMode(next)
    const sipTlsSwitch = (f === 'tlsCertificate' || f === 'tlsPrivateKey') && sipTlsMode(running) !== sipTlsMode(next)
    if (!live(f) || xmlTlsSwitch || sipTlsSwitch) {
      restart.push(settingName(f))
      keep(f)
    } else {
      applied.push(settingName(f))
    }
  }
  return { applied: [...new Set(applied)], restart: [...new Set(restart)], effective }
}
