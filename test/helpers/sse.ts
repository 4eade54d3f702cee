/**
 * A raw Server-Sent Events client for tests: one GET over a plain socket
 * (optionally from a chosen local address), the status and headers, every
 * message parsed as it arrives, comment lines counted, and waiting for a
 * message that matches, bounded in time. Importing this file does nothing.
 */
import net from 'node:net'
import { StringDecoder } from 'node:string_decoder'

export interface SseMessage {
  event: string
  data: string
}

export interface SseClient {
  readonly status: number
  readonly headers: Record<string, string>
  readonly messages: SseMessage[]
  readonly comments: number
  readonly bytes: number
  readonly closed: boolean
  /** the first message (already here or later) for which `match` is true; rejects after ms */
  next(match: (m: SseMessage) => boolean, ms?: number, what?: string): Promise<SseMessage>
  /** resolves when the server closes the connection, or rejects after ms */
  whenClosed(ms?: number): Promise<void>
  close(): void
}

export interface SseOptions {
  port: number
  path?: string
  localAddress?: string
  headers?: Record<string, string>
  /** after the head, read nothing until resume() (a slow reader) */
  paused?: boolean
}

export function openSse(o: SseOptions): Promise<SseClient & { resume(): void; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) })
    let head: { status: number; headers: Record<string, string> } | undefined
    let buf = ''
    let comments = 0
    let bytes = 0
    let closed = false
    const messages: SseMessage[] = []
    const waiters = new Set<() => void>()
    const closeWaiters = new Set<() => void>()
    const wake = (): void => {
      for (const w of [...waiters]) w()
    }
    const feed = (text: string): void => {
      buf += text
      let i: number
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        let event = 'message'
        const data: string[] = []
        let any = false
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments += 1
          else if (line.startsWith('event:')) event = line.slice(6).trim()
          else if (line.startsWith('data:')) {
            data.push(line.slice(5).replace(/^ /, ''))
            any = true
          }
        }
        if (any) messages.push({ event, data: data.join('\n') })
      }
      wake()
    }
    const client = {
      socket,
      get status() {
        return head?.status ?? 0
      },
      get headers() {
        return head?.headers ?? {}
      },
      messages,
      get comments() {
        return comments
      },
      get bytes() {
        return bytes
      },
      get closed() {
        return closed
      },
      next(match: (m: SseMessage) => boolean, ms = 5000, what = 'message'): Promise<SseMessage> {
        return new Promise<SseMessage>((res, rej) => {
          let from = 0
          const check = (): void => {
            for (; from < messages.length; from++) {
              if (match(messages[from]!)) {
                done()
                res(messages[from]!)
                return
              }
            }
            if (closed) {
              done()
              rej(new Error(`stream closed before ${what}`))
            }
          }
          const timer = setTimeout(() => {
            done()
            rej(new Error(`no ${what} within ${ms} ms (${messages.length} messages: ${messages.map((m) => m.event).join(',')})`))
          }, ms)
          const done = (): void => {
            clearTimeout(timer)
            waiters.delete(check)
          }
          waiters.add(check)
          check()
        })
      },
      whenClosed(ms = 5000): Promise<void> {
        if (closed) return Promise.resolve()
        return new Promise<void>((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`stream still open after ${ms} ms`)), ms)
          closeWaiters.add(() => {
            clearTimeout(timer)
            res()
          })
        })
      },
      close(): void {
        socket.destroy()
      },
      resume(): void {
        socket.resume()
      },
    }
    const decoder = new StringDecoder('utf8')
    let pending = Buffer.alloc(0)
    let chunked = false
    /** the body bytes so far: de-chunked when the answer is chunked */
    const body = (b: Buffer): void => {
      if (!chunked) {
        feed(decoder.write(b))
        return
      }
      pending = Buffer.concat([pending, b])
      for (;;) {
        const nl = pending.indexOf('\r\n')
        if (nl < 0) return
        const size = parseInt(pending.subarray(0, nl).toString('latin1'), 16)
        if (!Number.isFinite(size) || pending.length < nl + 2 + size + 2) return
        feed(decoder.write(pending.subarray(nl + 2, nl + 2 + size)))
        pending = pending.subarray(nl + 4 + size)
      }
    }
    let rawHead = Buffer.alloc(0)
    socket.on('connect', () => {
      const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      socket.write(`GET ${o.path ?? '/console/events'} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nAccept: text/event-stream\r\n${extra}\r\n`)
    })
    socket.on('data', (d: Buffer) => {
      bytes += d.length
      if (head) {
        body(d)
        return
      }
      rawHead = Buffer.concat([rawHead, d])
      const end = rawHead.indexOf('\r\n\r\n')
      if (end < 0) return
      const lines = rawHead.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':')
        if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim()
      }
      head = { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0), headers }
      chunked = /chunked/i.test(headers['transfer-encoding'] ?? '')
      body(rawHead.subarray(end + 4))
      // a slow reader: takes the head, then reads nothing more until resume()
      if (o.paused) socket.pause()
      resolve(client)
      wake()
    })
    socket.on('close', () => {
      closed = true
      wake()
      for (const w of closeWaiters) w()
      if (!head) reject(new Error('connection closed before an answer'))
    })
    socket.on('error', () => {})
    socket.setTimeout(30_000, () => socket.destroy())
  })
}
