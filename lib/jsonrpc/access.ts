/**
 * Who may connect: the address allow-list, loopback detection, the bearer
 * token (header or ?token=, compared in constant time) and the browser
 * Origin rule (a page in a browser may not drive a loopback API that has
 * no token).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { allowList, isAllowed, isLoopback } from '../net'

export { allowList, isAllowed, isLoopback }

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
