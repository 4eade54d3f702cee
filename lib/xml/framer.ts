/**
 * Request framing, as the original: after optional white space the first `<`
 * starts a request; the text up to the next `>` is the initial tag; the
 * request ends after the first `</name>` of that tag's element name. Several
 * requests per connection, split or joined across packets. Better than the
 * original: a leading `<?xml ...?>` declaration (and comments) before the root
 * are accepted, and a request larger than `maxRequestSize` is an error instead
 * of being buffered forever. Linear in the input: each byte is scanned once.
 */

export type FrameEvent = { kind: 'request'; text: string } | { kind: 'too-large' } | { kind: 'garbage'; text: string }

export class RequestFramer {
  private buf = ''
  /** where the current request starts in buf (-1: not yet found) */
  private start = -1
  /** the closing tag being looked for, e.g. `</ClickToCall>` */
  private closing: string | undefined
  /** where to resume the search */
  private scan = 0
  private prologEnd = -1

  constructor(private readonly maxRequestSize: number | (() => number)) {}

  private get max(): number {
    return typeof this.maxRequestSize === 'number' ? this.maxRequestSize : this.maxRequestSize()
  }

  /** Feed text; returns the complete requests (and errors) found. */
  push(chunk: string): FrameEvent[] {
    this.buf += chunk
    const out: FrameEvent[] = []
    for (let guard = 0; guard < 100_000; guard++) {
      if (this.start < 0) {
        // skip white space between requests
        let i = 0
        while (i < this.buf.length && /\s/.test(this.buf[i]!)) i++
        this.buf = this.buf.slice(i)
        if (this.buf.length === 0) break
        if (this.buf[0] !== '<') {
          // text that is not a request: report it once and drop up to the next '<'
          const next = this.buf.indexOf('<')
          const text = next < 0 ? this.buf : this.buf.slice(0, next)
          this.buf = next < 0 ? '' : this.buf.slice(next)
          out.push({ kind: 'garbage', text: text.slice(0, 200) })
          continue
        }
        this.start = 0
        this.scan = 0
        this.closing = undefined
      }
      if (this.closing === undefined) {
        // find the root's initial tag, skipping <?xml ...?>, <!-- ... --> before it
        const found = this.findRoot()
        if (found === 'wait') {
          if (this.buf.length > this.max) return this.overflow(out)
          break
        }
        if (found.endsWith('/')) {
          // a self-closing root: the request is that one tag
          out.push({ kind: 'request', text: this.buf.slice(0, this.scan) })
          this.buf = this.buf.slice(this.scan)
          this.start = -1
          this.scan = 0
          this.prologEnd = -1
          continue
        }
        this.closing = `</${found}>`
      }
      const end = this.buf.indexOf(this.closing, Math.max(this.scan, 0))
      if (end < 0) {
        if (this.buf.length > this.max) return this.overflow(out)
        this.scan = Math.max(0, this.buf.length - this.closing.length + 1)
        break
      }
      const stop = end + this.closing.length
      if (stop > this.max) return this.overflow(out)
      out.push({ kind: 'request', text: this.buf.slice(0, stop) })
      this.buf = this.buf.slice(stop)
      this.start = -1
      this.closing = undefined
      this.scan = 0
      this.prologEnd = -1
    }
    return out
  }

  /** The root element's name, or 'wait' for more input. */
  private findRoot(): string | 'wait' {
    let i = this.prologEnd >= 0 ? this.prologEnd : 0
    for (let guard = 0; guard < 1000; guard++) {
      while (i < this.buf.length && /\s/.test(this.buf[i]!)) i++
      if (i >= this.buf.length) return 'wait'
      if (this.buf.startsWith('<?', i)) {
        const e = this.buf.indexOf('?>', i + 2)
        if (e < 0) return 'wait'
        i = e + 2
        this.prologEnd = i
        continue
      }
      if (this.buf.startsWith('<!DOCTYPE', i) || this.buf.startsWith('<!doctype', i)) {
        // kept in the request text (the parser refuses it); skip its internal subset
        const gt = this.buf.indexOf('>', i)
        const bracket = this.buf.indexOf('[', i)
        const e = bracket >= 0 && (gt < 0 || bracket < gt) ? this.buf.indexOf(']>', bracket) : gt
        if (e < 0) return 'wait'
        i = e + (this.buf[e] === ']' ? 2 : 1)
        this.prologEnd = i
        continue
      }
      if (this.buf.startsWith('<!--', i)) {
        const e = this.buf.indexOf('-->', i + 4)
        if (e < 0) return 'wait'
        i = e + 3
        this.prologEnd = i
        continue
      }
      const gt = this.buf.indexOf('>', i)
      if (gt < 0) return 'wait'
      const tag = this.buf.slice(i + 1, gt)
      const name = /^[^\s/>]+/.exec(tag)?.[0] ?? tag
      this.scan = gt + 1
      return tag.endsWith('/') ? `${name}/` : name
    }
    return 'wait'
  }

  private overflow(out: FrameEvent[]): FrameEvent[] {
    this.buf = ''
    this.start = -1
    this.closing = undefined
    out.push({ kind: 'too-large' })
    return out
  }
}
