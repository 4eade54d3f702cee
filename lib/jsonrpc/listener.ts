/**
 * The JSON-RPC 2.0 over WebSocket listener (OpenSIPS call-api's wire
 * format). An HTTP server that only upgrades: the allow-list and the
 * connection limits apply to the TCP connection, the path, the token and
 * the Origin rule to the upgrade request. It refuses to start on a
 * non-loopback address without a token.
 */
import http from 'node:http'
import type net from 'node:net'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { CallService } from '../call'
import { BindError, ConfigError } from '../errors'
import { allowList, isAllowed, isLoopback, pathOf, presentedToken, tokenMatches } from './access'
import { AddressCounter } from './limits'
import { Connection } from './connection'

export interface JsonRpcFrontEndOptions {
  calls: CallService
  port: number
  /** bind address; '' = all interfaces (then a token is required) */
  host: string
  /** URL path of the WebSocket (call-api's: /call-api) */
  path?: string
  /** addresses/CIDRs allowed to connect */
  allow: string[]
  /** bearer token; '' = none (allowed on loopback only) */
  token: string
  /** Origin header values accepted from browsers; [] = browsers only with the token */
  origins?: string[]
  /** largest message accepted, bytes (larger closes the connection with 1009) */
  maxMessageSize: number
  maxConnections: number
  maxConnectionsPerAddress: number
  /** commands per second per connection; 0 = no limit */
  rateLimit: number
  /** commands in progress per connection */
  maxCommandsPerConnection: number
  /** ping period, ms; a peer silent for two periods is dropped; 0 = no pings */
  pingIntervalMs: number
  /** unsent bytes beyond which a client is cut off (default 1 MiB) */
  maxBufferedBytes?: number
  logger: Logger
}

/** What a reload (SIGHUP) may change: everything but the port, the bind address and the path. */
export type JsonRpcLiveSettings = Pick<
  JsonRpcFrontEndOptions,
  'allow' | 'token' | 'origins' | 'maxMessageSize' | 'maxConnections' | 'maxConnectionsPerAddress' | 'rateLimit' | 'maxCommandsPerConnection' | 'pingIntervalMs'
>

export interface JsonRpcFrontEnd {
  readonly port: number
  /** open WebSocket connections */
  readonly connections: number
  /**
   * New settings for new connections (limits, allow-list, token). Open
   * connections from addresses no longer allowed are closed, and all of them
   * when the token changed (they authenticated with the old one); their calls go on.
   */
  reconfigure(settings: JsonRpcLiveSettings): void
  /** stop listening and close every connection (1001 going away) */
  close(): Promise<void>
}

export const DEFAULT_PATH = '/call-api'

function refuse(socket: net.Socket, status: number, text: string, headers: Record<string, string> = {}): void {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  const body = `${text}\n`
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`)
  setTimeout(() => socket.destroy(), 1000).unref()
}

export async function createJsonRpcFrontEnd(options: JsonRpcFrontEndOptions): Promise<JsonRpcFrontEnd> {
  // one mutable copy: reconfigure() changes it for every later connection
  const o: JsonRpcFrontEndOptions = { ...options }
  const log = o.logger.child({ module: 'jsonrpc' })
  const path = o.path ?? DEFAULT_PATH
  if (!isLoopback(o.host) && o.token === '') {
    throw new ConfigError(
      `JsonRpcBindAddress is ${o.host || 'blank (all interfaces)'} but JsonRpcToken is blank: refusing to start the JSON-RPC interface beyond loopback without a token`,
    )
  }
  let allowed = allowList(o.allow)
  let origins = new Set(o.origins ?? [])
  const perAddress = new AddressCounter()
  const conns = new Set<Connection>()
  const limits = {
    rateLimit: o.rateLimit,
    maxCommands: o.maxCommandsPerConnection,
    maxBufferedBytes: o.maxBufferedBytes ?? 1024 * 1024,
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxMessageSize, perMessageDeflate: false, clientTracking: false })

  const server = http.createServer((req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' })
    res.end(`JSON-RPC 2.0 over WebSocket: connect to ws://<host>:<port>${path}\n`)
  })
  server.maxConnections = o.maxConnections
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  server.on('connection', (socket: net.Socket) => {
    const remote = socket.remoteAddress ?? ''
    if (!isAllowed(allowed, remote)) {
      log.warn({ remote }, 'JSON-RPC connection refused: address not in JsonRpcAllow')
      socket.destroy()
      return
    }
    if (perAddress.count(remote) >= o.maxConnectionsPerAddress) {
      log.warn({ remote, max: o.maxConnectionsPerAddress }, 'JSON-RPC connection refused: JsonRpcMaxConnectionsPerAddress')
      socket.destroy()
      return
    }
    perAddress.add(remote)
    socket.once('close', () => perAddress.remove(remote))
  })
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => undefined)
    const remote = socket.remoteAddress ?? ''
    if (pathOf(req) !== path) {
      refuse(socket, 404, `no WebSocket here: the path is ${path}`)
      return
    }
    if (o.token !== '' && !tokenMatches(o.token, presentedToken(req))) {
      log.warn({ remote }, 'JSON-RPC connection refused: missing or wrong token')
      refuse(socket, 401, 'a token is required (Authorization: Bearer <JsonRpcToken>, or ?token=)', { 'WWW-Authenticate': 'Bearer realm="clicktocall"' })
      return
    }
    const origin = req.headers.origin
    if (origin !== undefined && !origins.has(origin) && o.token === '') {
      log.warn({ remote, origin: origin.slice(0, 100) }, 'JSON-RPC connection refused: browser Origin not in JsonRpcOrigins')
      refuse(socket, 403, 'this Origin is not in JsonRpcOrigins')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clog = log.child({ remote: `${remote}:${socket.remotePort}` })
      const c = new Connection(ws, remote, o.calls, limits, clog)
      conns.add(c)
      ws.once('close', () => conns.delete(c))
      clog.info('JSON-RPC client connected')
    })
  })
  server.on('clientError', (_err, socket: net.Socket) => {
    if (socket.writable) refuse(socket, 400, 'bad request')
    else socket.destroy()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new BindError('JSON-RPC', o.host, o.port, err)))
    server.listen(o.port, o.host === '' ? undefined : o.host, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'JSON-RPC listener error'))
  const port = (server.address() as net.AddressInfo).port
  let ping: NodeJS.Timeout | undefined
  const startPings = (): void => {
    if (ping) clearInterval(ping)
    ping = o.pingIntervalMs > 0 ? setInterval(() => conns.forEach((c) => c.heartbeat()), o.pingIntervalMs) : undefined
    ping?.unref()
  }
  startPings()
  log.info({ port, host: o.host || '*', path, allow: o.allow, tokenRequired: o.token !== '' }, 'JSON-RPC interface listening')
  return {
    port,
    get connections() {
      return conns.size
    },
    reconfigure(next) {
      if (!isLoopback(o.host) && next.token === '') {
        log.error('JsonRpcToken may not become blank while the JSON-RPC port listens beyond loopback: token kept')
        next = { ...next, token: o.token }
      }
      const tokenChanged = next.token !== o.token
      Object.assign(o, next)
      allowed = allowList(o.allow)
      origins = new Set(o.origins ?? [])
      Object.assign(limits, { rateLimit: o.rateLimit, maxCommands: o.maxCommandsPerConnection })
      server.maxConnections = o.maxConnections
      wss.options.maxPayload = o.maxMessageSize
      startPings()
      for (const c of conns) {
        if (tokenChanged) c.close(1008, 'token changed: reconnect with the new one')
        else if (!isAllowed(allowed, c.remoteAddress)) c.close(1008, 'address no longer allowed')
      }
      log.info({ allow: o.allow, tokenChanged, rateLimit: o.rateLimit }, 'JSON-RPC settings reloaded')
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ping) clearInterval(ping)
        ping = undefined
        for (const c of conns) c.close(1001, 'server shutting down')
        server.close(() => resolve())
        server.closeAllConnections()
        setTimeout(resolve, 1500).unref()
      }),
  }
}
