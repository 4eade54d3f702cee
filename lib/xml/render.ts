/**
 * Result documents, byte-compatible with the original: the request's text up
 * to and including `</Request>` and the white space after it, CRLF,
 * `  <Response>`, the response data, `  </Response>`, CRLF, then the rest of
 * the request (normally `</ClickToCall>`). The response data is CRLF, extra
 * elements, then `    <Result Code="N" Leg="L">text</Result>` CRLF.
 */
const CRLF = '\r\n'

/**
 * Escape text content: & < > (quotes are legal in text and kept as the
 * original writes them); a character XML 1.0 cannot hold at all (C0 controls
 * other than tab, LF, CR: e.g. a NUL echoed in a 400 text) becomes U+FFFD.
 */
export function escapeXml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '\ufffd'))
}

export interface RenderedResult {
  code: number
  leg?: string | undefined
  text: string
  translatedInitiator?: string | undefined
  translatedDestination?: string | undefined
}

export function responseData(r: RenderedResult): string {
  let data = CRLF
  if (r.translatedInitiator !== undefined) data += `    <TranslatedInitiator>${escapeXml(r.translatedInitiator)}</TranslatedInitiator>${CRLF}`
  if (r.translatedDestination !== undefined) data += `    <TranslatedDestination>${escapeXml(r.translatedDestination)}</TranslatedDestination>${CRLF}`
  data += `    <Result Code="${r.code}"${r.leg ? ` Leg="${escapeXml(r.leg).replace(/"/g, '&quot;')}"` : ''}>${escapeXml(r.text)}</Result>${CRLF}`
  return data
}

/** One result document for a request whose text is `request`. */
export function renderResult(request: string, r: RenderedResult): string {
  const data = responseData(r)
  // the original finds `</Request>`; element names are case-insensitive in its parser, so here too
  let at = request.indexOf('</Request>')
  if (at < 0) at = request.search(/<\/request>/i)
  if (at < 0) return `<Response>${data}</Response>`
  let split = at + '</Request>'.length
  while (split < request.length && /\s/.test(request[split]!)) split++
  return `${request.slice(0, split)}${CRLF}  <Response>${data}  </Response>${CRLF}${request.slice(split)}`
}
