/**
 * A JSON-RPC 2.0 client over a real WebSocket (the `ws` package), as a
 * call-api client is: sends requests, queues every message, and waits (with
 * a bound) for a response by id or for a command's notification by event.
 */
import WebSocket from 'ws'

export interface RpcMessage {
  jsonrpc?: string
  id?: string | number | null
  result?: Record<string, unknown>
  error?: { code: number; message: string; data?: unknown }
  method?: string
  params?: { cmd_id?: string; event?: string; data?: unknown; [k: string]: unknown }
}

export interface ConnectOptions {
  token?: string
  tokenInQuery?: boolean
  origin?: string
  path?: string
  maxPayload?: number
}

export class RpcClient {
  /** every message received, in order (batches as arrays) */
  readonly received: Array<RpcMessage | RpcMessage[]> = []
  private waiters: Array<() => void> = []
  private nextId = 1
  closeCode: number | undefined

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as RpcMessage | RpcMessage[])
      this.wake()
    })
    ws.on('close', (code) => {
      this.closeCode = code
      this.wake()
    })
    ws.on('error', () => this.wake())
  }

  static url(port: number, o: ConnectOptions = {}): string {
    const q = o.token !== undefined && o.tokenInQuery ? `?token=${encodeURIComponent(o.token)}` : ''
    return `ws://127.0.0.1:${port}${o.path ?? '/call-api'}${q}`
  }

  static connect(port: number, o: ConnectOptions = {}): Promise<RpcClient> {
    const headers: Record<string, string> = {}
    if (o.token !== undefined && !o.tokenInQuery) headers.authorization = `Bearer ${o.token}`
    const ws = new WebSocket(RpcClient.url(port, o), { headers, ...(o.origin ? { origin: o.origin } : {}), handshakeTimeout: 3000 })
    const c = new RpcClient(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c))
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`HTTP ${res.statusCode}`))
        ws.terminate()
      })
      ws.once('error', (err) => reject(err))
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** resolves when `pred` holds over the received messages, or rejects after timeoutMs */
  async until<T>(what: string, pred: () => T | undefined, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = pred()
      if (v !== undefined) return v
      if (this.closeCode !== undefined) throw new Error(`connection closed (${this.closeCode}) while waiting for ${what}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received).slice(0, 2000)}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          r()
        })
      })
    }
  }

  sendRaw(text: string): void {
    this.ws.send(text)
  }

  /** send a request; returns its id */
  request(method: string, params?: Record<string, unknown>, id: string | number = this.nextId++): string | number {
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }))
    return id
  }

  response(id: string | number | null, timeoutMs = 5000): Promise<RpcMessage> {
    return this.until(`response ${id}`, () => this.singles().find((m) => m.id === id && (m.result !== undefined || m.error !== undefined)), timeoutMs)
  }

  /** send and wait for the response */
  async call(method: string, params?: Record<string, unknown>, timeoutMs = 5000): Promise<RpcMessage> {
    return this.response(this.request(method, params), timeoutMs)
  }

  singles(): RpcMessage[] {
    return this.received.filter((m): m is RpcMessage => !Array.isArray(m))
  }

  /** notifications of one command, in order */
  events(cmdId: string): Array<{ event: string; data: unknown; method: string }> {
    return this.singles()
      .filter((m) => m.method !== undefined && m.params?.cmd_id === cmdId)
      .map((m) => ({ event: String(m.params?.event), data: m.params?.data, method: m.method! }))
  }

  /** waits for a command's notification named `event`; returns its data */
  event(cmdId: string, event: string, timeoutMs = 5000): Promise<unknown> {
    return this.until(`${event} of ${cmdId}`, () => {
      const e = this.events(cmdId).find((x) => x.event === event)
      return e ? { data: e.data } : undefined
    }, timeoutMs).then((x) => x.data)
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.ws.terminate()
        resolve()
      }, 1000)
      this.ws.once('close', () => {
        clearTimeout(t)
        resolve()
      })
      this.ws.close()
    })
  }
}
