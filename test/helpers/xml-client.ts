/**
 * A raw-socket XML client, as a CRM or netcat script is: writes request
 * text, splits the byte stream into result documents and decodes each
 * `<Result>` line. Every wait is bounded.
 */
import net from 'node:net'

export interface ParsedResult {
  code: number
  leg: string | undefined
  text: string
  final: boolean
  doc: string
}

export function request(initiator: string, destination: string, anchor?: boolean, crlf = false): string {
  const nl = crlf ? '\r\n' : ''
  const ind = (n: number): string => (crlf ? ' '.repeat(n) : '')
  return (
    `<ClickToCall>${nl}${ind(2)}<Request>${nl}` +
    `${ind(4)}<Initiator>${initiator}</Initiator>${nl}` +
    `${ind(4)}<Destination>${destination}</Destination>${nl}` +
    (anchor === undefined ? '' : `${ind(4)}<AnchorCall>${anchor ? 'true' : 'false'}</AnchorCall>${nl}`) +
    `${ind(2)}</Request>${nl}</ClickToCall>${nl}`
  )
}

export function parseDoc(doc: string): ParsedResult | undefined {
  const m = /<Result Code="(\d+)"(?: Leg="(\w+)")?>([^<]*)<\/Result>/.exec(doc)
  if (!m) return undefined
  const code = Number(m[1])
  const leg = m[2]
  return { code, leg, text: m[3]!, final: code >= 300 || (leg === 'Destination' && code >= 200), doc }
}

export class XmlClient {
  readonly socket: net.Socket
  readonly docs: string[] = []
  readonly results: ParsedResult[] = []
  private buf = ''
  private waiters: Array<() => void> = []
  closed = false

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      this.buf += chunk
      for (;;) {
        // a document ends with the closing tag of its root (after an optional <?xml?> prolog)
        const root = /^\s*(?:<\?[\s\S]*?\?>\s*)?(?:<!DOCTYPE[^[>]*(?:\[[\s\S]*?\])?\s*>\s*)?<([^\s>/!?]+)/i.exec(this.buf)
        if (!root) break
        const closing = `</${root[1]}>`
        const at = this.buf.toLowerCase().indexOf(closing.toLowerCase())
        if (at < 0) break
        const doc = this.buf.slice(0, at + closing.length)
        this.buf = this.buf.slice(at + closing.length)
        this.docs.push(doc)
        const r = parseDoc(doc)
        if (r) this.results.push(r)
      }
      this.wake()
    })
    socket.on('close', () => {
      this.closed = true
      this.wake()
    })
    socket.on('error', () => undefined)
  }

  static connect(port: number, host = '127.0.0.1'): Promise<XmlClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new XmlClient(s)))
      s.once('error', reject)
    })
  }

  /** bytes not yet framed into a document (e.g. a `<Response>`-only document) */
  get pending(): string {
    return this.buf
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  write(text: string | Buffer): void {
    this.socket.write(text)
  }

  /** Wait until `pred` holds on the results so far, or fail after `ms`. */
  async until(pred: (results: ParsedResult[]) => boolean, ms = 20000, what = 'results'): Promise<ParsedResult[]> {
    const deadline = Date.now() + ms
    while (!pred(this.results)) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}: ${JSON.stringify(this.summary())}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.summary())}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    return this.results
  }

  /** Wait for `n` final results. */
  finals(n = 1, ms = 20000): Promise<ParsedResult[]> {
    return this.until((r) => r.filter((x) => x.final).length >= n, ms, `${n} final result(s)`)
  }

  summary(): string[] {
    return this.results.map((r) => `${r.code}${r.leg ? ' ' + r.leg : ''} ${r.text}`)
  }

  close(): void {
    this.socket.destroy()
  }
}
