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

export function parseRequest(xml: string): ParseOutcome {
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
  if (!initiator || !destination) {
    return { ok: false, text: 'Missing initiator and/or destination tags', detail: 'Initiator or Destination missing or empty' }
  }
  const anchor = text(child(request, 'AnchorCall')).toLowerCase() === 'true'
  return { ok: true, request: { initiator, destination, anchor } }
}
