/**
 * One WebSocket client: decode each message, apply the command rate and the
 * per-connection command cap, dispatch to the method table, send responses
 * and notifications. A client that does not read is cut off once its
 * unsent data passes the bound; protocol errors are answered and the
 * connection goes on. Commands stop listening when the client leaves; the
 * calls themselves go on.
 */
import type { Logger } from 'pino'
import WebSocket from 'ws'
import type { CallService } from '../call'
import { decode, errorOf, notification, resultOf, RpcErrorCode, type DecodedItem, type RpcResponse } from './codec'
import type { CommandOutput, Context, Outcome } from './command'
import { METHODS } from './methods'
import { CommandRate } from './limits'
import { ParamError } from './params'

export interface ConnectionLimits {
  /** commands per second (0 = no limit) */
  rateLimit: number
  /** commands in progress at once (started, not yet Ended) */
  maxCommands: number
  /** unsent bytes beyond which the client is cut off */
  maxBufferedBytes: number
}

interface Running {
  method: string
  stop: () => void
  out: CommandOutput
}

export class Connection {
  /** answered a ping since the last one */
  alive = true
  private readonly rate: CommandRate
  private readonly commands = new Map<string, Running>()
  /** cmd_ids answered Started in this message, whose commands run once the response is sent */
  private readonly reserved = new Set<string>()
  private closed = false
  private lastRateLog = 0

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    private readonly calls: CallService,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {
    this.rate = new CommandRate(() => limits.rateLimit)
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
    ws.on('pong', () => {
      this.alive = true
    })
    ws.on('error', (err) => this.log.info({ err: err.message }, 'JSON-RPC connection error'))
    ws.on('close', (code) => this.onClose(code))
  }

  get commandCount(): number {
    return this.commands.size
  }

  /** ping, or cut off a peer that did not answer the last ping */
  heartbeat(): void {
    if (!this.alive) {
      this.log.info('JSON-RPC client did not answer a ping: closing')
      this.ws.terminate()
      return
    }
    this.alive = false
    try {
      this.ws.ping()
    } catch {
      this.ws.terminate()
    }
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason)
    setTimeout(() => this.ws.terminate(), 1000).unref()
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closed) return
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8')
    if (isBinary) this.log.debug('binary JSON-RPC message: read as UTF-8')
    // every message takes a token before it is parsed (a batch's further requests take theirs below)
    if (!this.rate.take()) {
      this.refuseRate()
      return
    }
    const decoded = decode(text)
    if (decoded.kind === 'error') {
      this.log.info({ error: decoded.error.message }, 'bad JSON-RPC message')
      this.sendJson(errorOf(null, decoded.error))
      return
    }
    if (decoded.kind === 'single') {
      const response = this.handle(decoded.item)
      if (response) this.sendJson(response.response)
      response?.after()
      return
    }
    const handled = decoded.items.map((i, n) => this.handle(i, n > 0))
    const responses = handled.flatMap((h) => (h ? [h.response] : []))
    if (responses.length > 0) this.sendJson(responses)
    for (const h of handled) h?.after()
  }

  /** the response to send (none for a notification), and what to run once it is sent */
  private handle(item: DecodedItem, takeToken = false): { response: RpcResponse; after: () => void } | undefined {
    const noop = (): void => undefined
    if (!item.ok) {
      this.log.info({ error: item.error.message }, 'invalid JSON-RPC request')
      return item.notification ? undefined : { response: errorOf(item.id, item.error), after: noop }
    }
    const req = item.request
    const reply = (outcome: Outcome, after = noop): { response: RpcResponse; after: () => void } | undefined => {
      if (req.id === undefined) {
        after()
        return undefined
      }
      if (outcome.kind === 'error') return { response: errorOf(req.id, outcome.error), after }
      if (outcome.kind === 'result') return { response: resultOf(req.id, outcome.result), after }
      return { response: resultOf(req.id, { event: 'Started', cmd_id: outcome.cmdId, ...outcome.extra }), after }
    }
    const refuse = (code: number, message: string): ReturnType<typeof reply> => reply({ kind: 'error', error: { code, message } })
    if (takeToken && !this.rate.take()) return refuse(RpcErrorCode.RATE_LIMITED, this.rateMessage())
    const handler = METHODS.get(req.method)
    if (!handler) {
      return refuse(RpcErrorCode.METHOD_NOT_FOUND, `Method not found: ${JSON.stringify(req.method.slice(0, 60))} (known: ${[...METHODS.keys()].join(', ')})`)
    }
    const cmdId = req.params.cmd_id
    if (cmdId !== undefined && (typeof cmdId !== 'string' || cmdId === '' || cmdId.length > 256)) {
      return refuse(RpcErrorCode.INVALID_PARAMS, 'Invalid params: "cmd_id" must be a non-empty string of at most 256 characters')
    }
    if (req.method !== 'Unsubscribe') {
      if (cmdId !== undefined && this.inUse(cmdId)) {
        return refuse(RpcErrorCode.INVALID_PARAMS, `Invalid params: cmd_id ${JSON.stringify(cmdId)} is already in progress on this connection`)
      }
      if (this.commands.size + this.reserved.size >= this.limits.maxCommands) {
        return refuse(RpcErrorCode.TOO_MANY_COMMANDS, `Too many commands in progress on this connection (at most ${this.limits.maxCommands})`)
      }
    }
    const ctx: Context = {
      calls: this.calls,
      remoteAddress: this.remoteAddress,
      log: this.log,
      method: req.method,
      cmdId,
      cancel: (id) => this.cancel(id),
    }
    let outcome: Outcome
    try {
      outcome = handler(req.params, ctx)
    } catch (err) {
      if (err instanceof ParamError) return refuse(RpcErrorCode.INVALID_PARAMS, `Invalid params: ${err.message}`)
      this.log.error({ err, method: req.method }, 'JSON-RPC method failed')
      return refuse(RpcErrorCode.INTERNAL_ERROR, 'Internal error')
    }
    if (outcome.kind !== 'started') return reply(outcome)
    if (this.inUse(outcome.cmdId)) {
      return refuse(RpcErrorCode.INVALID_PARAMS, `Invalid params: cmd_id ${JSON.stringify(outcome.cmdId)} is already in progress on this connection (the same call)`)
    }
    const s = outcome
    this.reserved.add(s.cmdId)
    return reply(s, () => {
      this.reserved.delete(s.cmdId)
      this.run(req.method, s.cmdId, s.run)
    })
  }

  private inUse(cmdId: string): boolean {
    return this.commands.has(cmdId) || this.reserved.has(cmdId)
  }

  private rateMessage(): string {
    return `Too many commands: at most ${this.limits.rateLimit} per second`
  }

  /** answered without parsing: the id is not known */
  private refuseRate(): void {
    const now = Date.now()
    if (now - this.lastRateLog > 1000) {
      this.lastRateLog = now
      this.log.warn('JSON-RPC message refused: JsonRpcRateLimit')
    }
    this.sendJson(errorOf(null, { code: RpcErrorCode.RATE_LIMITED, message: this.rateMessage() }))
  }

  private run(method: string, cmdId: string, run: (out: CommandOutput) => () => void): void {
    let over = false
    let stop: () => void = () => undefined
    const finish = (): void => {
      over = true
      if (this.commands.get(cmdId) === running) this.commands.delete(cmdId)
      stop()
    }
    const out: CommandOutput = {
      event: (name, data) => {
        if (!over) this.send(notification(method, cmdId, name, data))
      },
      fail: (reason, extra) => {
        if (over) return
        this.send(JSON.stringify({ jsonrpc: '2.0', method, params: { cmd_id: cmdId, event: 'Error', data: reason, ...extra } }))
        this.send(notification(method, cmdId, 'Ended'))
        finish()
      },
      end: (data) => {
        if (over) return
        this.send(notification(method, cmdId, 'Ended', data))
        finish()
      },
      get over() {
        return over
      },
    }
    const running: Running = { method, stop: () => stop(), out }
    this.commands.set(cmdId, running)
    try {
      stop = run(out)
    } catch (err) {
      this.log.error({ err, method }, 'JSON-RPC command failed')
      out.fail('internal error', { code: 'internal' })
    }
    if (over) stop()
  }

  private cancel(cmdId: string): boolean {
    const r = this.commands.get(cmdId)
    if (!r) return false
    r.out.end()
    return true
  }

  private sendJson(value: unknown): void {
    this.send(JSON.stringify(value))
  }

  private send(text: string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.log.warn({ buffered: this.ws.bufferedAmount }, 'JSON-RPC client does not read its messages: closing')
      this.closed = true
      this.ws.terminate()
      return
    }
    this.ws.send(text)
  }

  private onClose(code: number): void {
    this.closed = true
    if (this.commands.size > 0) {
      this.log.info({ code, commands: this.commands.size }, 'JSON-RPC client left: its commands stop listening, its calls go on')
    }
    for (const r of [...this.commands.values()]) r.stop()
    this.commands.clear()
  }
}
