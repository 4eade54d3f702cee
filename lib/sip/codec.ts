/**
 * Hand-written SIP header codec: the same objects the `sip` package's regex
 * parser (`sip.parse`, 0.0.6) builds and the same bytes its `sip.stringify`
 * writes, in a fraction of the time (about 2.5x faster to parse, 3-5x to
 * serialize, by bench/micro.ts). Both sides are exact copies of the package's
 * behaviour for the messages they accept, quirks included (they are what the
 * rest of lib/ has always read); whatever they are not sure of returns
 * `undefined` and message.ts falls back to the package (a correct fallback is
 * better than a subtle difference). test/sip-codec.ts checks both against the
 * package, message by message and under random mutation.
 */
import * as sip from 'sip'

export type SipMessage = sip.SipMessage

export const MAX_HEADER_BYTES = 16 * 1024
/** most entries a list header (Via, Route, Record-Route, Contact) may have */
export const MAX_LIST_ENTRIES = 64

export class SipParseError extends Error {}

type Params = Record<string, string | null>

interface Via {
  version: string
  protocol: string
  host: string
  port: number | undefined
  params: Params
}

interface Aor {
  name: string | undefined
  uri: string
  params: Params
}

// ---------------------------------------------------------------- characters

/** Character classes of latin1, one table lookup per character (the loops below are most of a parse). */
const WS = 1
const TOKEN = 2
/** where a Via host ends: white space, ';' or ':' */
const HOST_END = 4
/** where an addr-spec ends: white space or ';' */
const ADDR_END = 8
const CLASS = new Uint8Array(256)
// JavaScript's `\s` within latin1: the package's regexes skip exactly these (folded CRLFs included)
for (const c of [32, 9, 13, 10, 11, 12, 160]) CLASS[c] |= WS | HOST_END | ADDR_END
// the package's token class `[\w\-.!%*_+`'~]`
for (const ch of "-.!%*_+`'~") CLASS[ch.charCodeAt(0)] |= TOKEN
for (let c = 48; c <= 57; c++) CLASS[c] |= TOKEN
for (let c = 65; c <= 90; c++) CLASS[c] |= TOKEN
for (let c = 97; c <= 122; c++) CLASS[c] |= TOKEN
CLASS[59] |= HOST_END | ADDR_END
CLASS[58] |= HOST_END

/** `c` in class `k` (codes past latin1 are in none: the text is latin1, `\s` beyond it is never met) */
function is(c: number, k: number): boolean {
  return c >= 0 && c < 256 && (CLASS[c]! & k) !== 0
}

function isWs(c: number): boolean {
  return is(c, WS)
}

function isToken(c: number): boolean {
  return is(c, TOKEN)
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

/*
 * The parsers work on the whole header text, between a value's start and
 * END, never on a slice of it: reading characters of a sliced string costs
 * several times more than of the flat text (it was most of the time).
 */
let END = 0
/** Cursor of the value being parsed. */
let at = 0

/** Character at i, -1 at or past END. */
function ch(s: string, i: number): number {
  return i < END ? s.charCodeAt(i) : -1
}

function skipWs(s: string, i: number): number {
  while (i < END && isWs(s.charCodeAt(i))) i++
  return i
}

function skipToken(s: string, i: number): number {
  while (i < END && isToken(s.charCodeAt(i))) i++
  return i
}

function skipDigits(s: string, i: number): number {
  while (i < END && isDigit(s.charCodeAt(i))) i++
  return i
}

/** `+s.slice(i, end)` for a run of digits, without the string (exact below 2^53: up to 15 digits). */
function digitsValue(s: string, i: number, end: number): number {
  if (end - i > 15) return +s.slice(i, end)
  let n = 0
  for (let k = i; k < end; k++) n = n * 10 + s.charCodeAt(k) - 48
  return n
}

/** Names the package's plain lookup tables would resolve through Object.prototype ('constructor', '__proto__'...). */
const PROTO_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype))

const PRETTY = new Map<string, string>()

/** The package's prettifyHeaderName: Call-ID, else a capital after each `\b` (cached: a server meets few names). */
function prettify(name: string): string {
  let p = PRETTY.get(name)
  if (p !== undefined) return p
  if (name === 'call-id') p = 'Call-ID'
  else {
    p = ''
    let wordBefore = false
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i)
      const word = c === 95 || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
      p += !wordBefore && c >= 97 && c <= 122 ? String.fromCharCode(c - 32) : name[i]
      wordBefore = word
    }
  }
  if (PRETTY.size < 1000) PRETTY.set(name, p)
  return p
}

/** Thrown inside the fast paths for "not sure": caught at their entry, never escapes. */
const UNSURE = new Error('codec: not sure')

// ---------------------------------------------------------------- parsing

/** Parameter names as usually written, found without slicing (a fresh key string costs more than the rest). */
const PARAMS: Array<string[] | undefined> = []
for (const name of ['branch', 'rport', 'received', 'tag', 'lr', 'transport', 'maddr', 'ttl', 'user', 'expires', 'id', 'q', 'ob', 'method', 'version', 'comp', 'alias', 'keep']) {
  const k = shape(name.length, name.charCodeAt(0))
  PARAMS[k] = [...(PARAMS[k] ?? []), name]
}

/** Index of a (length, first character) pair in the small lookup tables; -1 past them. */
function shape(length: number, first: number): number {
  return length < 32 ? (length << 5) | (first & 31) : -1
}

function paramName(s: string, i: number, end: number): string {
  const candidates = PARAMS[shape(end - i, s.charCodeAt(i))]
  if (candidates !== undefined)
    for (let k = 0; k < candidates.length; k++) if (sameAt(s, i, candidates[k]!)) return candidates[k]!
  return s.slice(i, end).toLowerCase()
}

/** `;name[=value]` parameters as the package's parseParams reads them (sticky regex, last one wins). */
function parseParams(s: string, params: Params): Params {
  for (;;) {
    let i = skipWs(s, at)
    if (ch(s, i) !== 59) return params
    i = skipWs(s, i + 1)
    const nameEnd = skipToken(s, i)
    if (nameEnd === i) return params
    const name = paramName(s, i, nameEnd)
    at = nameEnd
    let value: string | null = null
    let j = skipWs(s, nameEnd)
    if (ch(s, j) === 61) {
      j = skipWs(s, j + 1)
      const end = ch(s, j) === 34 ? quotedEnd(s, j) : skipToken(s, j)
      if (end > j) {
        value = s.slice(j, end)
        at = end
      }
    }
    params[name] = value
  }
}

/** End (after the closing quote) of `"[^"\\]*(?:\\.[^"\\]*)*"` at `i`, or -1. */
function quotedEnd(s: string, i: number): number {
  for (let j = i + 1; j < END; j++) {
    const c = s.charCodeAt(j)
    if (c === 34) return j + 1
    if (c === 92) {
      const n = ch(s, j + 1)
      // the package's `.` matches neither CR nor LF (nor a missing character)
      if (n < 0 || n === 10 || n === 13) return -1
      j++
    }
  }
  return -1
}

/** One Via entry (the package's parseVia); 'v6' for a `[IPv6]` host, which ipv6Vias re-reads. */
function parseVia(s: string): Via | 'v6' {
  let i = at
  if (i + 3 > END || !sameAt(s, i, 'SIP')) throw UNSURE
  i = skipWs(s, i + 3)
  if (ch(s, i) !== 47) throw UNSURE
  i = skipWs(s, i + 1)
  const vStart = i
  i = skipDigits(s, i)
  if (i === vStart || ch(s, i) !== 46) throw UNSURE
  const minor = i + 1
  i = skipDigits(s, minor)
  if (i === minor) throw UNSURE
  const version = s.slice(vStart, i)
  i = skipWs(s, i)
  if (ch(s, i) !== 47) throw UNSURE
  i = skipWs(s, i + 1)
  const pStart = i
  while (i < END && !isWs(s.charCodeAt(i))) i++
  if (i === pStart) throw UNSURE
  const protocol = s.slice(pStart, i)
  const hStart = skipWs(s, i)
  if (hStart === i) throw UNSURE
  if (ch(s, hStart) === 91) return 'v6'
  i = hStart
  for (; i < END; i++) {
    const c = s.charCodeAt(i)
    if (is(c, HOST_END)) break
  }
  if (i === hStart) throw UNSURE
  const host = s.slice(hStart, i)
  at = i
  let port: number | undefined
  let j = skipWs(s, i)
  if (ch(s, j) === 58) {
    j = skipWs(s, j + 1)
    const end = skipDigits(s, j)
    if (end > j) {
      port = digitsValue(s, j, end)
      at = end
    }
  }
  return { version, protocol, host, port, params: parseParams(s, {}) }
}

/**
 * One name-addr or addr-spec (the package's parseAOR): `name <uri>` with a
 * token-list or quoted display name, else a bare URI up to white space or ';'.
 */
function parseAor(s: string): Aor {
  const p = at
  if (p >= END) throw UNSURE
  const c = s.charCodeAt(p)
  let name: string | undefined
  let lt = -1
  if (c === 34) {
    const end = quotedEnd(s, p)
    if (end < 0) throw UNSURE
    lt = skipWs(s, end)
    if (ch(s, lt) !== 60) throw UNSURE
    name = s.slice(p, end)
  } else if (isToken(c)) {
    let last = skipToken(s, p)
    let j = skipWs(s, last)
    while (j > last && j < END && isToken(s.charCodeAt(j))) {
      last = skipToken(s, j)
      j = skipWs(s, last)
    }
    if (ch(s, j) === 60) {
      lt = j
      name = s.slice(p, last)
    }
  } else if (c === 60) {
    lt = p
  }
  let uri: string
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1)
    if (gt < 0 || gt >= END) throw UNSURE
    uri = s.slice(skipWs(s, lt + 1), gt)
    at = gt + 1
  } else {
    // addr-spec; a leading ';' would take the regex's `x@` branch: not worth copying
    if (c === 59) throw UNSURE
    let j = p
    while (j < END) {
      const d = s.charCodeAt(j)
      if (is(d, ADDR_END)) break
      j++
    }
    uri = s.slice(p, j)
    at = j
  }
  return { name, uri, params: parseParams(s, {}) }
}

/** The rest of a value after one entry: true when another `, entry` follows; only white space may be left otherwise. */
function nextEntry(s: string): boolean {
  if (at >= END) return false
  const i = skipWs(s, at)
  if (i >= END) return false
  if (s.charCodeAt(i) !== 44) throw UNSURE // the package would drop the rest silently
  at = skipWs(s, i + 1)
  return true
}

/** Route, Record-Route and Path entries carry the package's own parseUri object (NaN port included): it is used as is. */
function parseAorList(s: string, list: unknown[], withUri: boolean): void {
  do {
    const aor = parseAor(s)
    if (withUri) {
      const uri: unknown = sip.parseUri(aor.uri)
      list.push({ name: aor.name, uri, params: aor.params })
    } else list.push(aor)
  } while (nextEntry(s))
}

/** false when an entry has an IPv6 host (the whole list is then re-read from the text). */
function parseViaList(s: string, list: unknown[]): boolean {
  do {
    const v = parseVia(s)
    if (v === 'v6') return false
    list.push(v)
  } while (nextEntry(s))
  return true
}

function parseSingleAor(s: string): Aor {
  const aor = parseAor(s)
  if (skipWs(s, at) < END) throw UNSURE
  return aor
}

/** `CSeq: 314159 INVITE` as the package's unanchored `(\d+)\s*([\S]+)` reads it, when that is unambiguous. */
function parseCSeq(s: string): { seq: number; method: string } {
  const start = at
  const d = skipDigits(s, start)
  if (d === start) throw UNSURE
  const m = skipWs(s, d)
  let e = m
  while (e < END && !isWs(s.charCodeAt(e))) e++
  if (e === m || m === d) throw UNSURE
  const method = s.slice(m, e)
  if (method.includes('%')) throw UNSURE // the package unescape()s it
  return { seq: digitsValue(s, start, d), method }
}

/** Header names of RFC 3261 §20 compact forms, as the package expands them ('e' included, as it has it). */
function expandCompact(name: string): string {
  switch (name) {
    case 'i': return 'call-id'
    case 'm': return 'contact'
    case 'e': return 'contact-encoding'
    case 'l': return 'content-length'
    case 'c': return 'content-type'
    case 'f': return 'from'
    case 's': return 'subject'
    case 'k': return 'supported'
    case 't': return 'to'
    case 'v': return 'via'
    default: return name
  }
}

/** Counters of list entries, by the name as written (parseParts' historical pre-scan: 'v' and 'via' apart). */
interface ListCounts {
  [name: string]: number
}

function isListName(lower: string): boolean {
  return lower === 'via' || lower === 'v' || lower === 'contact' || lower === 'm' || lower === 'route' || lower === 'record-route'
}

/** One physical line's list entries: 1 + its commas (continuation lines are not counted, as before). */
function countEntries(text: string, from: number, counts: ListCounts, lower: string, raw: string): void {
  let end = text.indexOf('\r\n', from)
  if (end < 0) end = text.length
  let n = (counts[lower] ?? 0) + 1
  for (let i = text.indexOf(',', from); i >= 0 && i < end; i = text.indexOf(',', i + 1)) n++
  counts[lower] = n
  if (n > MAX_LIST_ENTRIES) throw new SipParseError(`too many entries in ${raw}`)
}

/** `major.minor` digits at i: [version, end] or undefined. */
function version(line: string, i: number): [string, number] | undefined {
  const d = skipDigits(line, i)
  if (d === i || ch(line, d) !== 46) return undefined
  const e = skipDigits(line, d + 1)
  if (e === d + 1) return undefined
  return [line.slice(i, e), e]
}

/** The status line (the package's parseResponse) in text[0, END). */
function parseStatusLine(line: string): SipMessage | undefined {
  const v = version(line, 4)
  if (!v) return undefined
  const s = skipWs(line, v[1])
  if (s === v[1]) return undefined
  const e = skipDigits(line, s)
  if (e === s) return undefined
  // `(.*)\s*$` with a greedy `.*`: trailing white space stays in the reason
  return { version: v[0], status: digitsValue(line, s, e), reason: line.slice(skipWs(line, e), END), headers: {} }
}

/** The request line (the package's parseRequest) in text[0, END). */
function parseRequestLine(line: string): SipMessage | undefined {
  const me = skipToken(line, 0)
  if (me === 0 || !isWs(ch(line, me))) return undefined
  const method = line.slice(0, me)
  if (method.includes('%')) return undefined // unescape()d by the package
  const us = me + 1
  let ue = us
  while (ue < END && !isWs(line.charCodeAt(ue))) ue++
  if (ue === us || ue + 4 > END || !sameAt(line, ue + 1, 'SIP')) return undefined
  // a request line the old list pre-scan would read as a header (`Via :x SIP/2.0`): leave it to the old path
  if (line.charCodeAt(us) === 58 && isListName(method.toLowerCase())) return undefined
  let i = skipWs(line, ue + 4)
  if (ch(line, i) !== 47) return undefined
  i = skipWs(line, i + 1)
  const v = version(line, i)
  if (!v) return undefined
  return { method, uri: line.slice(us, ue), version: v[0], headers: {} }
}

/** End of the logical line starting at `from`: the next CRLF not followed by SP/HT (RFC 3261 §7.3.1 folding). */
function logicalEnd(text: string, from: number): number {
  let i = text.indexOf('\r\n', from)
  while (i >= 0) {
    const n = text.charCodeAt(i + 2)
    if (n !== 32 && n !== 9) return i
    i = text.indexOf('\r\n', i + 2)
  }
  return text.length
}

/**
 * The header section (latin1 text, without the blank line) as `sip.parse`
 * would return it, with the IPv6 Via fix (ipv6Vias) applied; undefined when not
 * sure. Throws SipParseError for too many list entries, like parseParts' pre-scan.
 */
export function parseHead(text: string): SipMessage | undefined {
  try {
    return parseHeadOrThrow(text)
  } catch (err) {
    if (err === UNSURE) return undefined
    throw err
  }
}

function parseHeadOrThrow(text: string): SipMessage | undefined {
  // the package strips leading white space and cuts at the first blank line: leave such texts to it
  if (text.length === 0 || isWs(text.charCodeAt(0))) return undefined
  const first = logicalEnd(text, 0)
  // a folded start line, or a lone CR or LF in it (the package's `.` stops there): the old path
  const cr = text.indexOf('\r')
  const lf = text.indexOf('\n')
  if (first < text.length ? cr !== first || lf !== first + 1 : cr >= 0 || lf >= 0) return undefined
  END = first
  const m = first >= 4 && sameAt(text, 0, 'SIP/') ? parseStatusLine(text) : parseRequestLine(text)
  if (!m) return undefined
  const h: Record<string, unknown> = m.headers
  const counts: ListCounts = {}
  let v6 = false
  for (let start = first + 2; start <= text.length; ) {
    const end = logicalEnd(text, start)
    if (end === start) return undefined
    v6 = parseHeaderLine(text, start, end, h, counts) || v6
    start = end + 2
  }
  if (v6 || text.includes('[')) {
    const vias = ipv6Vias(text)
    if (vias) h.via = vias
    else if (v6) return undefined
  }
  return m
}

/** What a header name as written resolves to: the package's key, and the pre-scan's list counter (if a list). */
interface KnownName {
  spelling: string
  key: string
  list: string | undefined
  /** a header the package keeps as text (no parser of its own) */
  generic: boolean
}

/** Headers the package parses (or that are left to it): the rest are text. */
const STRUCTURED = new Set(['via', 'to', 'from', 'refer-to', 'contact', 'route', 'record-route', 'path', 'cseq', 'content-length', 'www-authenticate', 'proxy-authenticate', 'authorization', 'proxy-authorization', 'authentication-info'])

/**
 * Header names as they are usually written, found by (length, first
 * character) and startsWith: no slice, no lowercasing, no hashing of the
 * name (those cost more than the rest of a header line). Any other spelling
 * takes the general path.
 */
const KNOWN: Array<KnownName[] | undefined> = []
const COMMON = [
  'via', 'to', 'from', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-type', 'content-length', 'allow', 'user-agent',
  'server', 'supported', 'require', 'record-route', 'route', 'event', 'subscription-state', 'refer-to', 'referred-by', 'accept',
  'expires', 'session-expires', 'min-se', 'p-asserted-identity', 'reason', 'date', 'subject', 'allow-events', 'replaces',
  'unsupported', 'content-disposition', 'warning', 'organization', 'call-info', 'alert-info', 'privacy', 'timestamp',
  'retry-after', 'accept-language', 'accept-encoding', 'content-encoding', 'min-expires', 'rseq', 'rack',
]

function addKnown(spelling: string, key: string, list: string | undefined): void {
  const k = shape(spelling.length, spelling.charCodeAt(0))
  if (k < 0) return
  const entries = (KNOWN[k] ??= [])
  if (!entries.some((e) => e.spelling === spelling)) entries.push({ spelling, key, list, generic: !STRUCTURED.has(key) })
}

// the usual spelling first: it is the one compared first
addKnown('CSeq', 'cseq', undefined)
for (const lower of COMMON) {
  const list = isListName(lower) ? lower : undefined
  for (const spelling of [prettify(lower), lower, lower.toUpperCase(), lower.replace(/\b[a-z]/g, (c) => c.toUpperCase())])
    addKnown(spelling, lower, list)
}
addKnown('Call-Id', 'call-id', undefined)
for (const c of 'imelcfsktv') {
  const list = isListName(c) ? c : undefined
  addKnown(c, expandCompact(c), list)
  addKnown(c.toUpperCase(), expandCompact(c), list)
}

function knownAt(text: string, start: number, end: number): KnownName | undefined {
  const k = shape(end - start, text.charCodeAt(start))
  const candidates = k < 0 ? undefined : KNOWN[k]
  if (candidates === undefined) return undefined
  for (let i = 0; i < candidates.length; i++) if (sameAt(text, start, candidates[i]!.spelling)) return candidates[i]
  return undefined
}

/** `word` at `i` of `s` (a loop over character codes: startsWith(x, position) is a slow builtin call in V8). */
function sameAt(s: string, i: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (s.charCodeAt(i + k) !== word.charCodeAt(k)) return false
  return true
}

/** One header line into `h`; true when it held an IPv6 Via. */
function parseHeaderLine(text: string, start: number, end: number, h: Record<string, unknown>, counts: ListCounts): boolean {
  const colon = text.indexOf(':', start)
  if (colon < 0 || colon >= end) throw UNSURE // no header line: the package gives up on the message
  const known = knownAt(text, start, colon)
  if (known === undefined) return parseOtherHeaderLine(text, start, end, h, counts)
  if (known.list !== undefined) countEntries(text, start, counts, known.list, known.spelling)
  const from = skipWsTo(text, colon + 1, end)
  if (!known.generic) return parseHeaderValue(known.key, text, from, end, h)
  addText(h, known.key, text.slice(from, end))
  return false
}

/** A header the package keeps as text; repeated ones are joined with ',' (an empty earlier value is dropped). */
function addText(h: Record<string, unknown>, name: string, value: string): void {
  const prev = h[name]
  if (prev !== undefined && typeof prev !== 'string') throw UNSURE
  h[name] = prev ? `${prev},${value}` : value
}

/** A header line with a name not in KNOWN (any case, white space before ':', unusual names). */
function parseOtherHeaderLine(text: string, start: number, end: number, h: Record<string, unknown>, counts: ListCounts): boolean {
  // `^([\S]*?)\s*:\s*([\s\S]*)$`: the name ends at ':' or white space
  let i = start
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === 58 || isWs(c)) break
    i++
  }
  const raw = text.slice(start, i)
  i = skipWsTo(text, i, end)
  if (i >= end || text.charCodeAt(i) !== 58) throw UNSURE
  let lower = raw.toLowerCase()
  if (raw.includes('%') || PROTO_NAMES.has(lower)) throw UNSURE // unescape()d, or resolved through Object.prototype
  if (isListName(lower)) countEntries(text, start, counts, lower, raw)
  lower = expandCompact(lower)
  return parseHeaderValue(lower, text, skipWsTo(text, i + 1, end), end, h)
}

function skipWsTo(s: string, i: number, end: number): number {
  while (i < end && isWs(s.charCodeAt(i))) i++
  return i
}

function listOf(h: Record<string, unknown>, name: string): unknown[] {
  const prev = h[name]
  if (prev === undefined) return []
  if (!Array.isArray(prev)) throw UNSURE
  return prev
}

/** The value text[from, to) of header `name` into `h`; true when it held an IPv6 Via. */
function parseHeaderValue(name: string, text: string, from: number, to: number, h: Record<string, unknown>): boolean {
  END = to
  at = from
  switch (name) {
    case 'via': {
      const list = listOf(h, name)
      const plain = parseViaList(text, list)
      h.via = list
      return !plain
    }
    case 'to':
    case 'from':
    case 'refer-to':
      h[name] = parseSingleAor(text)
      return false
    case 'contact':
    case 'route':
    case 'record-route':
    case 'path': {
      // the package's `v == '*'` compares its cursor object: `Contact: *` is an entry with uri '*'
      const list = listOf(h, name)
      parseAorList(text, list, name !== 'contact')
      h[name] = list
      return false
    }
    case 'cseq':
      h.cseq = parseCSeq(text)
      return false
    case 'content-length':
      h[name] = +text.slice(from, to)
      return false
    case 'www-authenticate':
    case 'proxy-authenticate':
    case 'authorization':
    case 'proxy-authorization':
    case 'authentication-info':
      throw UNSURE // rare: the package parses these
    default:
      addText(h, name, text.slice(from, to))
      return false
  }
}

const VIA_ENTRY = /^\s*SIP\s*\/\s*(\d+\.\d+)\s*\/\s*(\S+)\s+(\[[0-9a-fA-F:.]+\]|[^\s;:]+)(?:\s*:\s*(\d+))?\s*((?:;[^;]*)*)$/

/**
 * The package's Via parser stops at the first ':' of an IPv6 reference: the
 * Vias of a text holding '[' are read here instead (undefined when one of
 * them does not fit, or there is none).
 */
export function ipv6Vias(text: string): Array<Record<string, unknown>> | undefined {
  const vias: Array<Record<string, unknown>> = []
  for (const line of text.split('\r\n')) {
    const m = /^(?:via|v)\s*:(.*)$/i.exec(line)
    if (!m) continue
    for (const entry of m[1]!.split(',')) {
      const v = VIA_ENTRY.exec(entry)
      if (!v) return undefined
      const params: Record<string, string | null> = {}
      for (const p of v[5]!.split(';').map((x) => x.trim()).filter(Boolean)) {
        const eq = p.indexOf('=')
        if (eq < 0) params[p.toLowerCase()] = null
        else params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim()
      }
      vias.push({ version: v[1], protocol: v[2], host: v[3], ...(v[4] ? { port: Number(v[4]) } : {}), params })
    }
  }
  return vias.length > 0 ? vias : undefined
}

/** What parseDatagram has always cut a datagram's body at (compiled once; this regex is faster than a loop here). */
const DATAGRAM_CL = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i

/** The first Content-Length (or l) of a datagram's header section, as a number. */
export function datagramContentLength(text: string): number | undefined {
  const cl = DATAGRAM_CL.exec(text)
  return cl ? Number(cl[1]) : undefined
}

// ---------------------------------------------------------------- stringifying

/** `'' + v` for the primitives; objects (custom toString/valueOf) are left to the package. */
function str(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return String(v)
    default:
      if (v === null) return 'null'
      throw UNSURE
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null
}

/** The package's stringifyParams: every enumerable name (inherited too, as its for-in), falsy values bare. */
function paramsText(params: unknown): string {
  if (params === undefined || params === null) return ''
  if (!isObject(params)) throw UNSURE
  let s = ''
  for (const n in params) {
    const v = params[n]
    s += v ? `;${n}=${str(v)}` : `;${n}`
  }
  return s
}

/** The package's stringifyUri: strings as they are, uri objects rebuilt. */
function uriText(uri: unknown): string {
  if (typeof uri === 'string') return uri
  if (!isObject(uri)) throw UNSURE
  let s = `${uri.schema ? str(uri.schema) : 'sip'}:`
  if (uri.user) s += uri.password ? `${str(uri.user)}:${str(uri.password)}@` : `${str(uri.user)}@`
  s += str(uri.host)
  if (uri.port) s += `:${str(uri.port)}`
  if (uri.params) s += paramsText(uri.params)
  const hs = uri.headers
  if (hs) {
    if (!isObject(hs)) throw UNSURE
    const h = Object.keys(hs)
      .map((x) => `${x}=${str(hs[x])}`)
      .join('&')
    if (h.length) s += `?${h}`
  }
  return s
}

/** The package's stringifyAOR: `name <uri>;params`, a space first when there is no name. */
function aorText(aor: unknown): string {
  if (!isObject(aor)) throw UNSURE
  return `${aor.name ? str(aor.name) : ''} <${uriText(aor.uri)}>${paramsText(aor.params)}`
}

function aorListText(list: unknown): string {
  if (!Array.isArray(list)) throw UNSURE
  let s = ''
  for (let i = 0; i < list.length; i++) s += i === 0 ? aorText(list[i]) : `, ${aorText(list[i])}`
  return s
}

function viaText(list: unknown): string {
  if (!Array.isArray(list)) throw UNSURE
  let s = ''
  for (const via of list as unknown[]) {
    if (!isObject(via)) throw UNSURE
    if (!via.host) continue
    if (typeof via.protocol !== 'string') throw UNSURE
    const port = via.port ? `:${str(via.port)}` : ''
    s += `Via: SIP/${via.version ? str(via.version) : '2.0'}/${via.protocol.toUpperCase()} ${str(via.host)}${port}${paramsText(via.params)}\r\n`
  }
  return s
}

/** A generic header's value as `'' + value` (arrays joined with ','). */
function genericText(v: unknown): string {
  if (Array.isArray(v)) {
    for (const x of v as unknown[]) str(x) // objects inside: left to the package
    return v.join(',')
  }
  return str(v)
}

/** One header (the package's stringifiers table, or `Name: value`). */
function headerText(n: string, v: unknown): string {
  if (typeof v === 'string') return `${prettify(n)}: ${v}\r\n`
  switch (n) {
    case 'via':
      return viaText(v)
    case 'to':
      return `To: ${aorText(v)}\r\n`
    case 'from':
      return `From: ${aorText(v)}\r\n`
    case 'refer-to':
      return `Refer-To: ${aorText(v)}\r\n`
    case 'contact':
      // `(h !== '*' && h.length) ? list : '*'`: an empty list is written as '*'
      if (!Array.isArray(v)) throw UNSURE
      return `Contact: ${v.length ? aorListText(v) : '*'}\r\n`
    case 'route':
    case 'record-route':
    case 'path':
      if (!Array.isArray(v)) throw UNSURE
      return v.length ? `${prettify(n)}: ${aorListText(v)}\r\n` : ''
    case 'cseq':
      if (!isObject(v)) throw UNSURE
      return `CSeq: ${str(v.seq)} ${str(v.method)}\r\n`
    case 'www-authenticate':
    case 'proxy-authenticate':
    case 'authorization':
    case 'proxy-authorization':
    case 'authentication-info':
      throw UNSURE
    default:
      if (PROTO_NAMES.has(n)) throw UNSURE // the package's stringifiers table would resolve it
      return `${prettify(n)}: ${genericText(v)}\r\n`
  }
}

/**
 * The header section as serialize() wrote it (sip.stringify of the message
 * without content, its Content-Length replaced by the body's byte count),
 * blank line included, then `content` (the body, whose UTF-8 length is
 * `contentBytes`); undefined when not sure. Like sip.stringify, leaves
 * `content-length: 0` in m.headers.
 */
export function stringifyHead(m: SipMessage, contentBytes: number, content = ''): string | undefined {
  try {
    return stringifyHeadOrThrow(m, contentBytes, content)
  } catch (err) {
    if (err === UNSURE) return undefined
    throw err
  }
}

const CL = '\r\nContent-Length: '

/**
 * The pieces are joined once: `+=` made a rope of ~20 nodes that the check
 * below, the body's append and the UTF-8 encoding flattened again (~1.5 KB
 * of garbage a message, issue 16).
 */
function stringifyHeadOrThrow(m: SipMessage, contentBytes: number, content: string): string | undefined {
  const h: unknown = m.headers
  if (!isObject(h)) return undefined
  const first = m.status
    ? `SIP/${m.version ? str(m.version) : '2.0'} ${str(m.status)} ${str(m.reason)}\r\n`
    : `${str(m.method)} ${uriText(m.uri)} SIP/${m.version ? str(m.version) : '2.0'}\r\n`
  const parts = [first]
  let length = first.length
  h['content-length'] = 0
  let clAt = -1
  for (const n in h) {
    const v = h[n]
    if (v === undefined) continue
    let piece: string
    if (n === 'content-length') {
      clAt = length - 2
      piece = `Content-Length: ${contentBytes}\r\n`
    } else piece = headerText(n, v)
    parts.push(piece)
    length += piece.length
  }
  parts.push('\r\n', content)
  const s = parts.join('')
  // the old path replaced the first `\r\nContent-Length: \d+\r\n`: it must be ours
  if (clAt < 0 || s.indexOf(CL) !== clAt) return undefined
  return s
}
