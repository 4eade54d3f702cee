/** Value readers for settings: each returns the value or throws a plain Error saying what is wrong. */
import net from 'node:net'

export function text(value: string): string {
  return value
}

export function bool(value: string): boolean {
  const x = value.toLowerCase()
  if (['1', 'true', 'on', 'enable', 'yes'].includes(x)) return true
  if (['0', 'false', 'off', 'disable', 'no'].includes(x)) return false
  throw new Error(`"${value}" is not a boolean (1|true|on|enable or 0|false|off|disable)`)
}

export function port(value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`"${value}" is not a port number`)
  const n = Number(value)
  if (n > 65535) throw new Error(`port ${value} is out of range (0-65535)`)
  return n
}

export function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`"${value}" is not a whole number`)
  return Number(value)
}

/** a nice value, -20 (first served) to 19 (last); blank = none */
export function nice(value: string): number | null {
  if (value === '') return null
  if (!/^[-+]?\d+$/.test(value)) throw new Error(`"${value}" is not a nice value (-20..19)`)
  const n = Number(value)
  if (n < -20 || n > 19) throw new Error(`nice ${value} is out of range (-20..19)`)
  return n
}

export function positive(value: string): number {
  const n = count(value)
  if (n === 0) throw new Error('must be greater than 0')
  return n
}

export function list(value: string): string[] {
  return value
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0)
}

export function address(value: string): string {
  if (value === '') return ''
  const bare = value.replace(/^\[(.*)\]$/, '$1')
  if (net.isIP(bare) === 0) throw new Error(`"${value}" is not an IP address`)
  return bare
}

export function cidr(value: string): string {
  const [addr, bits, extra] = value.split('/')
  if (extra !== undefined || !addr) throw new Error(`"${value}" is not an address or CIDR`)
  const family = net.isIP(addr)
  if (family === 0) throw new Error(`"${value}" is not an address or CIDR`)
  const max = family === 4 ? 32 : 128
  if (bits === undefined) return `${addr}/${max}`
  if (!/^\d+$/.test(bits) || Number(bits) > max) throw new Error(`"${value}": prefix length must be 0-${max}`)
  return `${addr}/${bits}`
}

export function cidrList(value: string): string[] {
  return list(value).map(cidr)
}

const SIP_URI = /^sips?:(?:[^\s@<>"]+@)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?(?:;[^\s;?<>"]+)*$/i

export function sipUri(value: string): string {
  if (!SIP_URI.test(value)) throw new Error(`"${value}" is not a SIP URI (sip:user@domain)`)
  return value
}

export function optionalSipUri(value: string): string {
  return value === '' ? '' : sipUri(value)
}

export const LOG_LEVELS = ['NONE', 'CRIT', 'ERR', 'WARNING', 'INFO', 'DEBUG', 'STACK'] as const

export function logLevel(value: string): string {
  const x = value.toUpperCase()
  if ((LOG_LEVELS as readonly string[]).includes(x)) return x
  throw new Error(`"${value}" is not a log level (${LOG_LEVELS.join('|')})`)
}

/** `Name: value` for InitiatorHeader lines */
export function header(value: string): { name: string; value: string } {
  const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*:\s*(.*)$/.exec(value)
  if (!m || m[2]!.length === 0) throw new Error(`"${value}" is not a header line (Name: value)`)
  if (/[\r\n]/.test(value)) throw new Error('a header may not contain line breaks')
  return { name: m[1]!, value: m[2]! }
}

export function digestAlgorithms(value: string): Array<'SHA-256' | 'MD5'> {
  const out = list(value).map((x) => x.toUpperCase())
  if (out.length === 0) throw new Error('at least one of SHA-256, MD5')
  for (const a of out) if (a !== 'SHA-256' && a !== 'MD5') throw new Error(`"${a}" is not SHA-256 or MD5`)
  return out as Array<'SHA-256' | 'MD5'>
}

/** one http(s) URL (as a one-element list, for repeatable settings); `{placeholders}` allowed */
export function urlList(value: string): string[] {
  if (value === '') return []
  let url: URL
  try {
    url = new URL(value.replace(/\{[A-Za-z0-9]+\}/g, 'x'))
  } catch {
    throw new Error(`"${value}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${value}" is not an http: or https: URL`)
  return [value]
}

/** comma-separated web origins: scheme://host[:port], lower-cased, no path */
export function origins(value: string): string[] {
  return list(value).map((x) => {
    let u: URL
    try {
      u = new URL(x)
    } catch {
      throw new Error(`"${x}" is not an origin (https://host[:port])`)
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname.replace(/\/$/, '') !== '' || u.search || u.hash || u.username) {
      throw new Error(`"${x}" is not an origin (https://host[:port])`)
    }
    return u.origin.toLowerCase()
  })
}
