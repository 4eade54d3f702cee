/**
 * The key the per-address connection cap counts by: the IPv4 address, or
 * the /64 prefix of an IPv6 one (a single host commonly holds a whole /64,
 * so counting single IPv6 addresses would cap nothing).
 */
import net from 'node:net'

export function addressKey(address: string): string {
  if (!net.isIPv6(address)) return address
  const [head = '', tail = ''] = address.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  // an embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups
  const groups = (list: string[]): number => list.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0)
  const full = address.includes('::') ? [...left, ...Array<string>(8 - groups(left) - groups(right)).fill('0'), ...right] : left
  return `${full
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '').toLowerCase()))
    .join(':')}::/64`
}
