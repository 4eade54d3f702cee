/**
 * Peer addresses, as every listener counts and admits them: allow-lists of
 * CIDR ranges, IPv4-mapped IPv6 read as IPv4, and the key an address is
 * counted under for per-address caps (an IPv6 host commonly holds a whole
 * /64, so a /64 counts as one address).
 */
import net from 'node:net'

/** `::ffff:1.2.3.4` as `1.2.3.4`; anything else unchanged */
export function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m ? m[1]! : address
}

/** a BlockList of CIDR ranges (`10.0.0.0/8`, `::1`, a bare address is /32 or /128) */
export function allowList(cidrs: string[]): net.BlockList {
  const list = new net.BlockList()
  for (const c of cidrs) {
    const [addr, bits] = c.split('/')
    const type = net.isIPv6(addr!) ? 'ipv6' : 'ipv4'
    list.addSubnet(addr!, Number(bits ?? (type === 'ipv4' ? 32 : 128)), type)
  }
  return list
}

export function isAllowed(list: net.BlockList, address: string): boolean {
  const a = unmapped(address)
  return list.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4')
}

/** true for 127.0.0.0/8 and ::1 */
export function isLoopback(address: string): boolean {
  const a = unmapped(address)
  if (net.isIPv4(a)) return a.startsWith('127.')
  return a === '::1'
}

function expandIpv6(address: string): string[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined]
  const h = head ? head.split(':') : []
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : []
  const fill = tail !== undefined ? Array<string>(Math.max(0, 8 - h.length - tl.length)).fill('0') : []
  return [...h, ...fill, ...tl]
}

/**
 * The key one address is counted under for a per-address cap: the IPv4
 * address (IPv4-mapped IPv6 included), or the /64 of an IPv6 address.
 */
export function addressKey(address: string): string {
  const a = unmapped(address)
  if (!net.isIPv6(a)) return a
  const groups = expandIpv6(a.toLowerCase().replace(/%.*$/, ''))
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
