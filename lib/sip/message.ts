/**
 * SIP messages: our own parser and stringifier (codec.ts: the `sip`
 * package's object shapes and bytes, in a fraction of its time), the package's
 * regex parser and stringifier as the fallback for what codec.ts is not sure
 * of, behind our own byte-exact framing and limits (the package counts
 * Content-Length in UTF-16 units and parses very long header lists in
 * quadratic time).
 */
import { randomFillSync } from 'node:crypto'
import * as sip from 'sip'
import { MAX_HEADER_BYTES, MAX_LIST_ENTRIES, SipParseError, datagramContentLength, ipv6Vias, parseHead, stringifyHead } from './codec'

export { MAX_HEADER_BYTES, MAX_LIST_ENTRIES, SipParseError }

export type SipMessage = sip.SipMessage
export type NameAddrHeader = sip.NameAddrHeader

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1')

/** Find CRLFCRLF in a buffer from `from`; -1 when absent (a Buffer needle: no string to encode per call). */
export function headerEnd(buf: Buffer, from = 0): number {
  return buf.indexOf(CRLFCRLF, from)
}

/**
 * Parse one complete message: `head` is the header section (without the
 * blank line), `body` the bytes of the body.
 */
export function parseParts(head: Buffer, body: Buffer): SipMessage {
  if (head.length > MAX_HEADER_BYTES) throw new SipParseError('header section too large')
  const text = head.toString('latin1')
  return finish(parseHead(text) ?? parseHeadReference(text), body, 0, body.length)
}

/** parseParts through the `sip` package alone: the fallback, and the reference test/sip-codec.ts compares with. */
export function parsePartsReference(head: Buffer, body: Buffer): SipMessage {
  if (head.length > MAX_HEADER_BYTES) throw new SipParseError('header section too large')
  return finish(parseHeadReference(head.toString('latin1')), body, 0, body.length)
}

function parseHeadReference(text: string): SipMessage {
  // bound list headers (over all their lines) before the package's regex
  // parser sees them: it is roughly quadratic in the number of entries
  const entries: Record<string, number> = {}
  for (const line of text.split('\r\n')) {
    const name = /^(via|v|route|record-route|contact|m)\s*:/i.exec(line)
    if (name) {
      const key = name[1]!.toLowerCase()
      let n = (entries[key] ?? 0) + 1
      for (let i = 0; i < line.length; i++) if (line.charCodeAt(i) === 44) n++
      entries[key] = n
      if (n > MAX_LIST_ENTRIES) throw new SipParseError(`too many entries in ${name[1]}`)
    }
  }
  let m: SipMessage | undefined
  try {
    m = sip.parse(`${text}\r\n\r\n`)
  } catch (err) {
    throw new SipParseError(`unparsable message: ${(err as Error).message}`)
  }
  if (!m || !m.headers) throw new SipParseError('not a SIP message')
  if (text.includes('[')) {
    const vias = ipv6Vias(text)
    if (vias) m.headers.via = vias
  }
  return m
}

/** The checks and the body (bytes `from` to `to` of `buf`), whichever parser read the header section. */
function finish(m: SipMessage, buf: Buffer, from: number, to: number): SipMessage {
  const h = m.headers
  if (!Array.isArray(h.via) || h.via.length === 0 || !h.via[0].params) throw new SipParseError('no Via')
  if (!h['call-id'] || typeof h.cseq !== 'object' || !h.from || !h.to) throw new SipParseError('missing mandatory header')
  if (m.method && typeof m.uri !== 'string') throw new SipParseError('bad request line')
  m.content = to > from ? buf.toString('utf8', from, to) : ''
  return m
}

/** Parse a datagram (one message, Content-Length optional). */
export function parseDatagram(buf: Buffer): SipMessage {
  const end = headerEnd(buf)
  if (end < 0) throw new SipParseError('no end of headers')
  // the header section decoded once (the old path decoded it twice)
  const text = buf.toString('latin1', 0, end)
  let to = buf.length
  const n = datagramContentLength(text)
  if (n !== undefined) {
    if (n > buf.length - end - 4) throw new SipParseError('Content-Length larger than the datagram')
    to = end + 4 + n
  }
  if (end > MAX_HEADER_BYTES) throw new SipParseError('header section too large')
  return finish(parseHead(text) ?? parseHeadReference(text), buf, end + 4, to)
}

/** parseDatagram through the `sip` package alone (its own regex for Content-Length): the reference of the tests. */
export function parseDatagramReference(buf: Buffer): SipMessage {
  const end = headerEnd(buf)
  if (end < 0) throw new SipParseError('no end of headers')
  const head = buf.subarray(0, end)
  let body = buf.subarray(end + 4)
  const cl = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head.toString('latin1'))
  if (cl) {
    const n = Number(cl[1])
    if (n > body.length) throw new SipParseError('Content-Length larger than the datagram')
    body = body.subarray(0, n)
  }
  return parsePartsReference(head, body)
}

/**
 * A copy of `s` that does not share the text it was cut from: V8 keeps a
 * substring of 13 characters or more as a slice of its parent, so a tag or
 * URI read from a message would keep the whole message alive. A JSON round
 * trip makes one flat string (~0.5 us; 45 characters: 68 bytes, where
 * (' ' + s).slice(1) kept a slice and its parent, 105).
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string)
}

let flatSink = 0

/**
 * `s` made one flat string in place, when it was built by concatenation
 * (a transaction id of the Call-ID and branch): its parts, strings cut from
 * a message's text, then no longer keep that text alive. Reading a
 * character makes V8 flatten it (~0.2 us; a copy by JSON round trip, as
 * `ownString` makes of a slice, took ~0.9 us and showed at 1.4 % of the main
 * thread). The sink keeps the read from being optimized away.
 */
export function flatten(s: string): string {
  flatSink ^= s.charCodeAt(0) | 0
  return s
}

const WIRE = Symbol('wire')

/**
 * A message kept only to be sent again (a final response a server
 * transaction repeats for 64*T1 over UDP): its text, its first line and its
 * Call-ID (for logs and traces), nothing of the request it answers. The
 * message object itself shared the request's headers, and through strings
 * cut from it the request's whole text: ~1.4 KiB per transaction, three
 * NOTIFYs' worth per REFER call, for 32 s.
 */
export function keptForResending(m: SipMessage): SipMessage {
  const callId = m.headers['call-id']
  // the Call-ID, for logs only: a flat copy one character longer (~0.2 us; ownString's copy is smaller but ~5x slower)
  const ownCallId = typeof callId === 'string' ? flatten(' ' + callId).slice(1) : callId
  const kept = { status: m.status, reason: m.reason, method: m.method, uri: m.uri, headers: { 'call-id': ownCallId } } as SipMessage
  // the text, not a Buffer: a small Buffer is a view of an 8 KiB pool slab, which it would keep
  ;(kept as unknown as Record<symbol, string>)[WIRE] = serializeText(m)
  return kept
}

/** The bytes to send: the kept text of `keptForResending`, else the message serialized now. */
export function wireOf(m: SipMessage): Buffer | string {
  return (m as unknown as Record<symbol, string | undefined>)[WIRE] ?? serialize(m)
}

/** Serialize with a byte-exact Content-Length. */
export function serialize(m: SipMessage): Buffer {
  return Buffer.from(serializeText(m), 'utf8')
}

/** the text `serialize` encodes (kept as it is by `keptForResending`) */
function serializeText(m: SipMessage): string {
  const content = m.content ?? ''
  return stringifyHead(m, Buffer.byteLength(content, 'utf8'), content) ?? referenceText(m)
}

/** serialize through the `sip` package: the fallback, and the reference test/sip-codec.ts compares with. */
export function serializeReference(m: SipMessage): Buffer {
  return Buffer.from(referenceText(m), 'utf8')
}

function referenceText(m: SipMessage): string {
  const content = m.content ?? ''
  const text = sip.stringify({ ...m, content: '' })
  // Content-Length counts bytes (the package counts UTF-16 units); one UTF-8
  // encoding of the whole message, no second buffer and copy for the body
  const head = text.replace(/\r\nContent-Length: \d+\r\n/, `\r\nContent-Length: ${Buffer.byteLength(content, 'utf8')}\r\n`)
  return head + content
}

// Tags, Call-IDs and branches take random bytes from a pool refilled 4 KiB at a
// time: one randomFillSync per ~200 identifiers instead of one per identifier
// (it was among the top costs in a CPU profile at load).
const POOL = Buffer.alloc(4096)
let poolAt = POOL.length

function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL)
    poolAt = 0
  }
  const s = POOL.toString('hex', poolAt, poolAt + bytes)
  poolAt += bytes
  return s
}

export function randomToken(bytes = 8): string {
  return randomHex(bytes)
}

export function newBranch(): string {
  return `z9hG4bK${randomHex(10)}`
}

/**
 * Via parameters with a crypto-random branch (RFC 3261 §8.1.1.7). A plain
 * object: our transaction layer (transaction.ts) never rewrites a branch,
 * so the read-only getter that guarded it from the sip package's layer is
 * gone (an accessor property per Via was 0.9 % of the busy time at load).
 */
export function viaParams(branch = newBranch(), extra: Record<string, string | null> = {}): Record<string, string | null> {
  return { branch, ...extra }
}

export function firstLine(m: SipMessage): string {
  return m.method ? `${m.method} ${m.uri}` : `${m.status} ${m.reason}`
}

/** Header value as a single string ('' when absent). */
export function headerText(m: SipMessage, name: string): string {
  const v = m.headers[name]
  if (v === undefined || v === null) return ''
  return Array.isArray(v) ? v.join(', ') : String(v)
}

export function makeResponse(
  rq: SipMessage,
  status: number,
  reason: string,
  headers?: Record<string, unknown>,
  content?: string,
  userAgent?: string,
): SipMessage {
  // what the package's makeResponse builds (the same keys, in the same order:
  // they are the order of the header lines), without its option object,
  // spread and closure per response; a User-Agent goes before the extra headers
  const h = rq.headers
  const out: Record<string, unknown> = { via: h.via, to: h.to, from: h.from, 'call-id': h['call-id'], cseq: h.cseq }
  if (userAgent !== undefined) out['user-agent'] = userAgent
  if (headers !== undefined) for (const k of Object.keys(headers)) out[k] = headers[k]
  return { status, reason: reason || '', version: rq.version, headers: out, content } as SipMessage
}

/** `"Display" <uri>` as the package's stringifier wants it. */
export function nameAddr(uri: string, displayName?: string, params: Record<string, string | null> = {}): NameAddrHeader {
  const h: NameAddrHeader = { uri, params }
  if (displayName !== undefined) h.name = `"${displayName.replace(/["\\]/g, (c) => `\\${c}`)}"`
  return h
}

export function unquote(s: string | undefined): string | undefined {
  if (s === undefined || s === null) return undefined
  const m = /^"(.*)"$/.exec(s)
  return m ? m[1]!.replace(/\\(.)/g, '$1') : s
}
