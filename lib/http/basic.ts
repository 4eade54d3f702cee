/** HTTP Basic, as the original really challenges and reads it (user admin). Constant-time comparison. */
import { createHash, timingSafeEqual } from 'node:crypto'

function digestOf(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

export function checkBasic(header: string, username: string, password: string): { ok: boolean; username?: string } {
  const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!m) return { ok: false }
  const text = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return { ok: false }
  const user = text.slice(0, colon)
  const pass = text.slice(colon + 1)
  // hash both sides so the comparison is constant-time whatever the lengths
  const ok = timingSafeEqual(digestOf(`${user}\0${pass}`), digestOf(`${username}\0${password}`))
  return { ok, username: user }
}
