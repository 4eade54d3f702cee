/**
 * Stream framing for SIP over TCP/TLS (RFC 3261 §18.3): Buffer-based, with
 * Content-Length counted in bytes, bounded header and body sizes, CRLF
 * keepalives (RFC 5626 §3.5.1) recognised, and linear in the input.
 */
import { MAX_HEADER_BYTES, SipParseError, headerEnd, parseParts, type SipMessage } from './message'

/** messages (or skipped bad ones) handled per push before yielding to the event loop */
const MAX_MESSAGES_PER_TURN = 1000
/** unparsable messages in a row before the connection is closed */
const MAX_BAD_IN_ROW = 8

export interface FramerEvents {
  message(m: SipMessage): void
  /** a CRLFCRLF keepalive ping arrived: answer with CRLF */
  ping(): void
  /** a bad message was skipped (fatal=false), or framing is lost: close the connection (fatal=true) */
  error(reason: string, fatal: boolean): void
}

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0)
  /** where to resume looking for CRLFCRLF */
  private scanFrom = 0
  private failed = false
  /** unparsable messages in a row: a peer that sends only garbage is cut off */
  private badInRow = 0

  constructor(
    private readonly maxMessageSize: number,
    private readonly on: FramerEvents,
  ) {}

  push(chunk: Buffer): void {
    if (this.failed) return
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    // bounded loop: each pass consumes at least one byte or waits for more;
    // past the bound, the rest is taken on the next turn of the event loop
    for (let guard = 0; this.buf.length > 0; guard++) {
      if (guard >= MAX_MESSAGES_PER_TURN) {
        setImmediate(() => {
          try {
            this.push(Buffer.alloc(0))
          } catch (err) {
            this.fail(`framing error: ${(err as Error).message}`)
          }
        })
        return
      }
      // leading CRLFs: keepalive ping (CRLFCRLF) or pong (CRLF)
      let lead = 0
      while (lead + 1 < this.buf.length && this.buf[lead] === 13 && this.buf[lead + 1] === 10) lead += 2
      if (lead > 0) {
        if (lead >= 4) this.on.ping()
        this.buf = this.buf.subarray(lead)
        this.scanFrom = 0
        continue
      }
      const end = headerEnd(this.buf, Math.max(0, this.scanFrom - 3))
      if (end < 0) {
        if (this.buf.length > MAX_HEADER_BYTES) return this.fail('header section too large')
        this.scanFrom = this.buf.length
        return
      }
      const head = this.buf.subarray(0, end)
      const cl = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head.toString('latin1'))
      const length = cl ? Number(cl[1]) : 0
      if (length > this.maxMessageSize) return this.fail('Content-Length exceeds the limit')
      const total = end + 4 + length
      if (this.buf.length < total) {
        this.scanFrom = end // header found; wait for the body
        return
      }
      const body = this.buf.subarray(end + 4, total)
      this.buf = this.buf.subarray(total)
      this.scanFrom = 0
      let m: SipMessage
      try {
        m = parseParts(head, body)
      } catch (err) {
        if (err instanceof SipParseError) {
          if (++this.badInRow >= MAX_BAD_IN_ROW) return this.fail(`${this.badInRow} unparsable messages in a row`)
          this.on.error(err.message, false)
          continue // a bad message in a well-framed stream: skip it
        }
        throw err
      }
      this.badInRow = 0
      this.on.message(m)
    }
  }

  private fail(reason: string): void {
    this.failed = true
    this.buf = Buffer.alloc(0)
    this.on.error(reason, true)
  }

  get broken(): boolean {
    return this.failed
  }
}
