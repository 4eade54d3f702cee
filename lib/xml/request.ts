/**
 * Parse one framed request with fast-xml-parser: validator first (the parser
 * alone is lenient), any DOCTYPE refused (no entity expansion), values kept
 * as strings (`0049123` stays `0049123`). Element names are matched without
 * regard to case, as the original does; unknown elements are ignored.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'

export interface ClickToCallRequest {
  initiator: string
  destination: string
  anchor: boolean
}

export type ParseOutcome =
  | { ok: true; request: ClickToCallRequest }
  | { ok: false; text: 'Unknown method' | 'Parse error' | 'Missing initiator and/or destination tags'; detail: string }

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
})

function child(node: unknown, name: string): unknown {
  if (!node || typeof node !== 'object') return undefined
  const lower = name.toLowerCase()
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : v
  }
  return undefined
}

function text(node: unknown): string {
  if (typeof node === 'string') return node
  if (typeof node === 'number' || typeof node === 'boolean') return String(node)
  return ''
}

// sticky: each matches exactly at lastIndex
const LEAF = /<([A-Za-z][A-Za-z0-9_.-]*)>([^<&\r]*)<\/([A-Za-z][A-Za-z0-9_.-]*)>[ \t\r\n]*/y
const OPEN = /<([A-Za-z][A-Za-z0-9_.-]*)>[ \t\r\n]*/y
const CLOSE = /<\/([A-Za-z][A-Za-z0-9_.-]*)>[ \t\r\n]*/y
const WS = /[ \t\r\n]*/y

function stickyAt(re: RegExp, xml: string, at: number): RegExpExecArray | null {
  re.lastIndex = at
  return re.exec(xml)
}

/**
 * The plain shape every client writes, read without the validator and the
 * parser: `<ClickToCall><Request>` and leaf elements holding plain text (no CR: the parser turns CRLF into LF),
 * whitespace between. Anything else (a declaration, a comment, an attribute,
 * an entity, CDATA, a nested or self-closing element, mismatched tags)
 * returns undefined and goes the full way, so the outcome is always the
 * parser's (test/xml-request-fast.ts compares both on mutated requests).
 * Issue 16: ~22 µs a request through the validator and the parser.
 */
export function plainRequest(xml: string): ClickToCallRequest | 'missing' | undefined {
  let at = stickyAt(WS, xml, 0)![0].length
  const root = stickyAt(OPEN, xml, at)
  if (!root || root[1]!.toLowerCase() !== 'clicktocall') return undefined
  at += root[0].length
  const req = stickyAt(OPEN, xml, at)
  if (!req || req[1]!.toLowerCase() !== 'request') return undefined
  at += req[0].length
  let initiator: string | undefined
  let destination: string | undefined
  let anchor: string | undefined
  for (let leaf = stickyAt(LEAF, xml, at); leaf; leaf = stickyAt(LEAF, xml, at)) {
    if (leaf[1] !== leaf[3]) return undefined
    const key = leaf[1]!.toLowerCase()
    // the first of repeated elements counts, as in the parsed document
    if (key === 'initiator') initiator ??= leaf[2]!.trim()
    else if (key === 'destination') destination ??= leaf[2]!.trim()
    else if (key === 'anchorcall') anchor ??= leaf[2]!.trim()
    at += leaf[0].length
  }
  for (const name of [req[1], root[1]]) {
    const end = stickyAt(CLOSE, xml, at)
    if (!end || end[1] !== name) return undefined
    at += end[0].length
  }
  if (at !== xml.length) return undefined
  if (!initiator || !destination) return 'missing'
  return { initiator, destination, anchor: anchor?.toLowerCase() === 'true' }
}

export function parseRequest(xml: string): ParseOutcome {
  const plain = plainRequest(xml)
  if (plain === 'missing') return missing()
  if (plain) return { ok: true, request: plain }
  return parseFully(xml)
}

function missing(): ParseOutcome {
  return { ok: false, text: 'Missing initiator and/or destination tags', detail: 'Initiator or Destination missing or empty' }
}

/** The validator and the parser: any request, however it is written. */
export function parseFully(xml: string): ParseOutcome {
  if (/<!DOCTYPE/i.test(xml)) return { ok: false, text: 'Parse error', detail: 'DOCTYPE is not allowed' }
  const valid = XMLValidator.validate(xml)
  if (valid !== true) return { ok: false, text: 'Parse error', detail: `${valid.err.msg} (line ${valid.err.line})` }
  let doc: Record<string, unknown>
  try {
    doc = parser.parse(xml) as Record<string, unknown>
  } catch (err) {
    return { ok: false, text: 'Parse error', detail: (err as Error).message }
  }
  const roots = Object.keys(doc)
  if (roots.length !== 1) return { ok: false, text: 'Parse error', detail: 'one root element expected' }
  if (roots[0]!.toLowerCase() !== 'clicktocall') return { ok: false, text: 'Unknown method', detail: roots[0]! }
  const request = child(doc[roots[0]!], 'Request')
  const initiator = text(child(request, 'Initiator'))
  const destination = text(child(request, 'Destination'))
  if (!initiator || !destination) return missing()
  const anchor = text(child(request, 'AnchorCall')).toLowerCase() === 'true'
  return { ok: true, request: { initiator, destination, anchor } }
}
