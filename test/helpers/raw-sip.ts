/**
 * A SIP peer on a raw UDP socket for wire-level tests: it collects what
 * arrives, and sends and answers by hand what a test writes.
 */
import dgram from 'node:dgram'

/** what a test needs of tap's `t` here */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Received {
  text: string
  port: number
  first: string
  header(name: string): string
  headers(name: string): string[]
}

export class RawSipPeer {
  readonly got: Received[] = []
  private waiters: Array<{ test: (r: Received) => boolean; resolve: (r: Received) => void }> = []

  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (buf, rinfo) => {
      const text = buf.toString()
      const lines = text.split('\r\n\r\n')[0]!.split('\r\n')
      const headers = (name: string): string[] =>
        lines.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(l.indexOf(':') + 1).trim())
      const r: Received = { text, port: rinfo.port, first: lines[0]!, headers, header: (n) => headers(n)[0] ?? '' }
      this.got.push(r)
      for (const w of [...this.waiters]) {
        if (w.test(r)) {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          w.resolve(r)
        }
      }
    })
  }

  static async open(t: Teardown): Promise<RawSipPeer> {
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()))
    t.teardown(() => sock.close())
    return new RawSipPeer(sock)
  }

  get port(): number {
    return this.sock.address().port
  }

  /** the next message (already received after index `after`, or to come) whose first line matches */
  next(pattern: RegExp, after = 0, ms = 5000): Promise<Received> {
    const test = (r: Received): boolean => pattern.test(r.first)
    const seen = this.got.slice(after).find(test)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms`)), ms)
      this.waiters.push({ test, resolve: (r) => (clearTimeout(timer), resolve(r)) })
    })
  }

  count(pattern: RegExp): number {
    return this.got.filter((r) => pattern.test(r.first)).length
  }

  send(text: string, port: number): void {
    this.sock.send(text, port, '127.0.0.1')
  }

  /** a response to `rq`, echoing its Via/From/To/Call-ID/CSeq */
  respond(rq: Received, status: string, opts: { toTag?: string; extra?: string; body?: string } = {}): void {
    const to = rq.header('To') + (opts.toTag && !/;tag=/.test(rq.header('To')) ? `;tag=${opts.toTag}` : '')
    const body = opts.body ?? ''
    const vias = rq.headers('Via').map((v) => `Via: ${v}\r\n`).join('')
    this.send(
      `SIP/2.0 ${status}\r\n${vias}From: ${rq.header('From')}\r\nTo: ${to}\r\nCall-ID: ${rq.header('Call-ID')}\r\n` +
        `CSeq: ${rq.header('CSeq')}\r\n${opts.extra ?? ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      rq.port,
    )
  }
}
