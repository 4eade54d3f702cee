/** Writing an answer: every answer has a length and closes the connection (one request per connection). */
import type http from 'node:http'

export interface Answer {
  status: number
  body: string
  type?: string
  headers?: Record<string, string | string[]>
}

export function send(res: http.ServerResponse, version: string, a: Answer): void {
  if (res.headersSent) return
  const buf = Buffer.from(a.body, 'utf8')
  res.writeHead(a.status, {
    Server: `clicktocall ${version}`,
    'Mime-version': '1.0',
    Pragma: 'no-cache',
    'Cache-Control': 'no-store',
    'Content-Type': a.type ?? 'text/html',
    'Content-Length': String(buf.length),
    Connection: 'close',
    ...(a.headers ?? {}),
  })
  res.end(res.req.method === 'HEAD' ? undefined : buf)
}
