/**
 * The webhook signature: `X-Clicktocall-Signature: t=<unix seconds>,v1=<hex>`
 * where v1 = HMAC-SHA256(WebhookSecret, `<t>.<raw body>`). The receiver
 * recomputes it over the raw bytes it got, compares in constant time, and
 * refuses a `t` too far from its clock (replays). See docs/events.md.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'X-Clicktocall-Signature'

export function signatureValue(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex')
  return `t=${unixSeconds},v1=${mac}`
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'expired' }

/**
 * What a receiver does (and what the tests use): parse the header, recompute
 * over the raw body, compare in constant time, check the age.
 */
export function verifySignature(
  secret: string,
  body: string | Buffer,
  header: string | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'malformed' }
  let t: number | undefined
  const sigs: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const k = part.slice(0, eq).trim()
    const v = part.slice(eq + 1).trim()
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v)
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) sigs.push(v)
  }
  if (t === undefined || sigs.length === 0) return { ok: false, reason: 'malformed' }
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest()
  const match = sigs.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected))
  if (!match) return { ok: false, reason: 'mismatch' }
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return { ok: false, reason: 'expired' }
  return { ok: true, timestamp: t }
}
