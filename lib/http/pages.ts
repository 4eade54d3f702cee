/**
 * The original's XHTML pages (same markup and texts, so scripts that read
 * them keep working), with every value HTML-escaped (the original is not).
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function page(title: string, body: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml">\n' +
    '<head>\n' +
    '<meta http-equiv="content-type" content="text/html;charset=utf-8" />\n' +
    `<title>${title}</title>\n` +
    '</head>\n' +
    '<body bgcolor="#ffffff">\n' +
    body +
    '</body>\n' +
    '</html>\n'
  )
}

export function indexPage(): string {
  return page('ClickToCall Server Login', '  <p>Click-To-Call HTML Server</p>\n')
}

export function clickToCallPage(lines: string[]): string {
  return page('ClickToCall Server', lines.map((l) => `${l}\n`).join(''))
}

export function requestLine(initiator: string, destination: string, anchor: boolean): string {
  return `<p><em>ClickToCall:</em> initiator=${escapeHtml(initiator)}, destination=${escapeHtml(destination)}${anchor ? ' (anchored)' : ''}</p>`
}

export function initiatingLine(ti: string, i: string, td: string, d: string, anchor: boolean): string {
  return `<p>Initiating ClickToCall from ${escapeHtml(ti)}(${escapeHtml(i)}) to ${escapeHtml(td)}(${escapeHtml(d)}${anchor ? ') (anchored)' : ') (unanchored)'}...</p>`
}

export function textLine(text: string): string {
  return `<p>${escapeHtml(text)}</p>`
}

export function authFailedPage(): string {
  return clickToCallPage(['<p>Authentication required.</p>'])
}
