/**
 * Transports: UDP and TCP on one port, TLS optionally; IPv4 and IPv6.
 * Our own (the `sip` package's crash on large TCP writes, binds 5060 for
 * port 0 and dies on EADDRINUSE). Connections are reused in both
 * directions, idle ones are closed, and no input can throw out of here.
 */
import dgram from 'node:dgram'
import diagnostics from 'node:diagnostics_channel'
import net from 'node:net'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { BindError } from '../errors'
import { StreamFramer } from './framing'
import { SipParseError, firstLine, parseDatagram, serialize, type SipMessage } from './message'

export type Protocol = 'UDP' | 'TCP' | 'TLS'

export interface Remote {
  protocol: Protocol
  address: string
  port: number
}

export interface TransportOptions {
  address: string
  port: number
  tls?: { port: number; certFile: string; keyFile: string }
  keepAlives: boolean
  maxMessageSize: number
  idleTimeoutMs: number
  logger: Logger
  onMessage: (m: SipMessage, remote: Remote) => void
}

interface Connection {
  socket: net.Socket
  remote: Remote
  ready: Promise<void>
  keepAlive?: NodeJS.Timeout
}

/**
 * Every SIP message received or sent, for observers (tests, tracing):
 * `{ direction: 'in' | 'out', firstLine, callId, remote }`. Free when nobody subscribes.
 */
export const messageChannel = diagnostics.channel('clicktocall:sip:message')

export interface MessageTrace {
  direction: 'in' | 'out'
  firstLine: string
  callId: string
  remote: Remote
}

function trace(direction: 'in' | 'out', m: SipMessage, remote: Remote): void {
  if (!messageChannel.hasSubscribers) return
  const t: MessageTrace = { direction, firstLine: firstLine(m), callId: String(m.headers['call-id'] ?? ''), remote }
  messageChannel.publish(t)
}

export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

function key(r: Remote): string {
  return `${r.protocol}|${normalizeAddress(r.address)}|${r.port}`
}

export class Transports {
  udpPort = 0
  tlsPort: number | undefined
  private udp4: dgram.Socket | undefined
  private udp6: dgram.Socket | undefined
  private tcpServer: net.Server | undefined
  private tlsServer: tls.Server | undefined
  private readonly conns = new Map<string, Connection>()
  private closed = false
  private readonly log: Logger

  constructor(private readonly o: TransportOptions) {
    this.log = o.logger
  }

  async listen(): Promise<void> {
    let lastErr: unknown
    // port 0: pick the UDP port first, then bind TCP to the same number (retry if taken)
    for (let attempt = 0; attempt < (this.o.port === 0 ? 8 : 1); attempt++) {
      try {
        await this.bindAll(this.o.port)
        return
      } catch (err) {
        lastErr = err
        await this.closeSockets()
      }
    }
    throw new BindError('SIP', this.o.address, this.o.port, lastErr)
  }

  private async bindAll(port: number): Promise<void> {
    const a = this.o.address
    const family = a === '' ? 0 : net.isIP(a)
    if (family === 4 || family === 0) {
      this.udp4 = await bindUdp('udp4', family === 4 ? a : '0.0.0.0', port)
      port = this.udp4.address().port
    }
    if (family === 6 || family === 0) {
      try {
        this.udp6 = await bindUdp('udp6', family === 6 ? a : '::', port)
        port = this.udp6.address().port
      } catch (err) {
        if (family === 6) throw err
        this.log.info({ err: (err as Error).message }, 'no IPv6 UDP socket; IPv4 only')
      }
    }
    this.udpPort = port
    for (const s of [this.udp4, this.udp6]) {
      s?.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo))
      s?.on('error', (err) => this.log.warn({ err: err.message }, 'UDP socket error'))
    }
    this.tcpServer = net.createServer((socket) => this.adopt(socket, 'TCP'))
    await listen(this.tcpServer, a === '' ? '::' : a, port, a === '' ? '0.0.0.0' : undefined)
    if (this.o.tls) {
      const t = this.o.tls
      let creds: { cert: Buffer; key: Buffer }
      try {
        creds = { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'SIP over TLS is off: cannot read the certificate or key')
        return
      }
      this.tlsServer = tls.createServer(creds, (socket) => this.adopt(socket, 'TLS'))
      await listen(this.tlsServer, a === '' ? '::' : a, t.port, a === '' ? '0.0.0.0' : undefined)
      this.tlsPort = (this.tlsServer.address() as net.AddressInfo).port
    }
  }

  private onDatagram(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return
    const remote: Remote = { protocol: 'UDP', address: normalizeAddress(rinfo.address), port: rinfo.port }
    if (buf.length <= 4 && buf.toString('latin1').trim() === '') return // keepalive
    if (buf.length > this.o.maxMessageSize) {
      this.log.debug({ remote, bytes: buf.length }, 'oversized datagram dropped')
      return
    }
    let m: SipMessage
    try {
      m = parseDatagram(buf)
    } catch (err) {
      this.log.debug({ remote, err: (err as Error).message }, 'bad datagram dropped')
      return
    }
    this.deliver(m, remote)
  }

  private deliver(m: SipMessage, remote: Remote): void {
    this.log.debug({ remote, msg: firstLine(m), callId: m.headers['call-id'] }, 'SIP in')
    trace('in', m, remote)
    try {
      this.o.onMessage(m, remote)
    } catch (err) {
      if (err instanceof SipParseError) return
      this.log.error({ err, msg: firstLine(m) }, 'error handling a SIP message')
    }
  }

  private adopt(socket: net.Socket, protocol: Protocol, known?: Remote): Connection {
    const remote: Remote = known ?? {
      protocol,
      address: normalizeAddress(socket.remoteAddress ?? ''),
      port: socket.remotePort ?? 0,
    }
    const conn: Connection = { socket, remote, ready: Promise.resolve() }
    const k = key(remote)
    this.conns.set(k, conn)
    socket.setTimeout(this.o.idleTimeoutMs)
    socket.on('timeout', () => socket.destroy())
    const framer = new StreamFramer(this.o.maxMessageSize, {
      message: (m) => this.deliver(m, remote),
      ping: () => {
        if (!socket.destroyed) socket.write('\r\n')
      },
      error: (reason, fatal) => {
        this.log.debug({ remote, reason }, fatal ? 'closing SIP connection' : 'bad SIP message skipped')
        if (fatal) socket.destroy()
      },
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        framer.push(chunk)
      } catch (err) {
        this.log.warn({ remote, err: (err as Error).message }, 'closing SIP connection after an error')
        socket.destroy()
      }
    })
    socket.on('error', (err) => this.log.debug({ remote, err: err.message }, 'SIP connection error'))
    socket.on('close', () => {
      if (this.conns.get(k) === conn) this.conns.delete(k)
      if (conn.keepAlive) clearInterval(conn.keepAlive)
    })
    if (this.o.keepAlives && protocol !== 'UDP') {
      conn.keepAlive = setInterval(() => {
        if (!socket.destroyed) socket.write('\r\n\r\n')
      }, 30_000)
      conn.keepAlive.unref()
    }
    return conn
  }

  private connect(remote: Remote): Connection {
    const existing = this.conns.get(key(remote))
    if (existing && !existing.socket.destroyed) return existing
    const socket =
      remote.protocol === 'TLS'
        ? tls.connect({ host: remote.address, port: remote.port, rejectUnauthorized: false })
        : net.connect({ host: remote.address, port: remote.port })
    const conn = this.adopt(socket, remote.protocol, remote)
    conn.ready = new Promise<void>((resolve, reject) => {
      socket.once(remote.protocol === 'TLS' ? 'secureConnect' : 'connect', () => resolve())
      socket.once('error', reject)
    })
    conn.ready.catch(() => undefined)
    return conn
  }

  /**
   * Send a message. Returns a promise that rejects when it cannot be sent
   * (connection refused, unknown protocol): the caller turns that into 503.
   */
  async send(m: SipMessage, remote: Remote): Promise<void> {
    if (this.closed) throw new Error('transport closed')
    const data = serialize(m)
    this.log.debug({ remote, msg: firstLine(m), callId: m.headers['call-id'] }, 'SIP out')
    trace('out', m, remote)
    if (remote.protocol === 'UDP') {
      const v6 = net.isIPv6(remote.address)
      const sock = v6 ? this.udp6 : this.udp4
      if (!sock) throw new Error(`no ${v6 ? 'IPv6' : 'IPv4'} UDP socket`)
      await new Promise<void>((resolve, reject) =>
        sock.send(data, remote.port, remote.address, (err) => (err ? reject(err) : resolve())),
      )
      return
    }
    const conn = this.connect(remote)
    await conn.ready
    if (conn.socket.destroyed) throw new Error('connection closed')
    conn.socket.write(data)
  }

  private async closeSockets(): Promise<void> {
    const closing: Promise<void>[] = []
    for (const s of [this.udp4, this.udp6]) {
      if (s) closing.push(new Promise<void>((resolve) => s.close(() => resolve())))
    }
    for (const srv of [this.tcpServer, this.tlsServer]) {
      if (srv?.listening) closing.push(new Promise<void>((resolve) => srv.close(() => resolve())))
    }
    this.udp4 = this.udp6 = undefined
    this.tcpServer = this.tlsServer = undefined
    await Promise.all(closing.map((p) => p.catch(() => undefined)))
  }

  async close(): Promise<void> {
    this.closed = true
    for (const c of this.conns.values()) {
      if (c.keepAlive) clearInterval(c.keepAlive)
      c.socket.destroy()
    }
    this.conns.clear()
    await this.closeSockets()
  }
}

function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' })
    const onError = (err: Error): void => {
      s.close()
      reject(err)
    }
    s.once('error', onError)
    s.bind(port, address, () => {
      s.off('error', onError)
      // a burst of datagrams beyond the kernel's default 208 KiB buffer is
      // dropped silently (and costs the peers a retransmission each): ask for
      // more; the kernel caps it at net.core.rmem_max / wmem_max
      try {
        s.setRecvBufferSize(UDP_BUFFER_BYTES)
        s.setSendBufferSize(UDP_BUFFER_BYTES)
      } catch {
        // keep the defaults
      }
      resolve(s)
    })
  })
}

/** the socket buffers asked for on UDP sockets */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024

function listen(server: net.Server, host: string, port: number, fallbackHost?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (fallbackHost && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
        server.listen(port, fallbackHost, () => resolve())
        return
      }
      reject(err)
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      server.on('error', () => undefined)
      resolve()
    })
  })
}
