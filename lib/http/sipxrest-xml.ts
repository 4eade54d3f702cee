/**
 * sipXrest's call controller documents (namespace call-status-00-00), as its
 * clients parse them: <status-lines> with one <status> per SIP status seen
 * (timestamp in ms, Call-ID, method, status line) and <processing-status>
 * for the outcome of a request.
 */
const NS = 'http://www.sipfoundry.org/sipX/schema/xml/call-status-00-00'

export interface StatusLine {
  at: number
  callId: string
  method: string
  statusLine: string
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
}

export function statusLinesDocument(lines: StatusLine[]): string {
  let out = `<?xml version="1.0" encoding="UTF-8"?>\n<status-lines xmlns="${NS}">`
  for (const l of lines) {
    out += `\n<status>\n\t<timestamp>${l.at}</timestamp>\n\t<call-id>${esc(l.callId)}</call-id>\n\t<method>${esc(l.method)}</method>\n\t<status-line>${esc(l.statusLine)}</status-line>\n</status>`
  }
  return `${out}\n</status-lines>\n`
}

export function processingStatus(error: boolean, code: number, text: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<processing-status xmlns="${NS}">\n` +
    `<error-flag>${error ? 'ERROR' : 'OK'}</error-flag>\n<error-code>${code}</error-code>\n<error-text>${esc(text)}</error-text>\n</processing-status>\n`
  )
}

const PHRASES: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
}

/** `SIP/2.0 180 Ringing` */
export function sipStatusLine(code: number, fallbackText: string): string {
  return `SIP/2.0 ${code} ${PHRASES[code] ?? fallbackText}`
}
