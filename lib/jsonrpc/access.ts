/**
 * Who may connect: the address allow-list, loopback detection, the bearer
 * token (header or ?token=, compared in constant time) and the browser
 * Origin rule (a page in a browser may not drive a loopback API that has
 * no token).
 */
import net from 'node:net'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export function allowList(cidrs: string[]): net.BlockList {
  const list = new net.BlockList()
  for (const c of cidrs) {
    const [addr, bits] = c.split('/')
    const type = net.isIPv6(addr!) ? 'ipv6' : 'ipv4'
    list.addSubnet(addr!, Number(bits ?? (type === 'ipv4' ? 32 : 128)), type)
  }
  return list
}

function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m ? m[1]! : address
}

export function isAllowed(list: net.BlockList, address: string): boolean {
  const a = unmapped(address)
  return list.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4')
}

/** true for 127.0.0.0/8 and ::1; blank (all interfaces) is not loopback */
export function isLoopback(address: string): boolean {
  const a = unmapped(address)
  if (net.isIPv4(a)) return a.startsWith('127.')
  return a === '::1'
}

/** the token the client sent: `Authorization: Bearer X`, else `?token=X` */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization
  if (auth) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth)
    if (m) return m[1]
  }
  return parseUrl(req)?.searchParams.get('token') ?? undefined
}

function parseUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'ws://x')
  } catch {
    return undefined
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** constant time in the secret's content and length (both sides hashed first) */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false
  return timingSafeEqual(digest(expected), digest(presented))
}

/** the request's path without its query */
export function pathOf(req: IncomingMessage): string {
  return parseUrl(req)?.pathname ?? ''
}
