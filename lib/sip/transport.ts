/**
 * Transports: UDP and TCP on one port, TLS optionally; IPv4 and IPv6.
 * Our own (the `sip` package's crash on large TCP writes, binds 5060 for
 * port 0 and dies on EADDRINUSE). Connections are reused in both
 * directions, idle ones are closed, and no input can throw out of here.
 *
 * Inbound TCP/TLS connections are capped in total and per address (the cap
 * also bounded by the descriptor limit: see fd-limit.ts); one that carries
 * no live dialog or transaction is closed after a short idle time, a TLS
 * handshake must end within it too.
 */
import dgram from 'node:dgram'
import diagnostics from 'node:diagnostics_channel'
import dns from 'node:dns'
import net from 'node:net'
import tls from 'node:tls'
import type { Logger } from 'pino'
import { BindError } from '../errors'
import { StreamFramer } from './framing'
import { SipParseError, firstLine, parseDatagram, wireOf, type SipMessage } from './message'
import { inboundCap, openFileLimit } from './fd-limit'
import { loadTlsFiles } from './tls-files'
import { addressKey } from '../net'

export type Protocol = 'UDP' | 'TCP' | 'TLS'

export interface Remote {
  protocol: Protocol
  address: string
  port: number
  /** the host name of the URI it was resolved from: what a TLS peer's certificate must name */
  name?: string
}

export interface InboundLimits {
  /** most inbound TCP/TLS connections at once (before the descriptor bound) */
  maxConnections: number
  /** most inbound TCP/TLS connections from one address */
  maxPerAddress: number
  /** idle time after which an inbound connection with nothing live on it is closed, ms */
  unusedIdleTimeoutMs: number
}

export interface TransportOptions {
  address: string
  port: number
  tls?: { port: number; certFile: string; keyFile: string; domain?: string }
  /** outbound TLS: verify the peer (certificate chain and name); `caFile` replaces the built-in CAs */
  tlsClient: { verify: boolean; caFile?: string }
  keepAlives: boolean
  maxMessageSize: number
  /** idle time after which any connection is closed, ms */
  idleTimeoutMs: number
  inbound: InboundLimits
  /** does a dialog or transaction live on this Call-ID? */
  isLive: (callId: string) => boolean
  logger: Logger
  onMessage: (m: SipMessage, remote: Remote) => void
}

/** Call-IDs remembered per connection: past this, dead ones are forgotten first, then the oldest */
const CALL_IDS_PER_CONNECTION = 64
/** inbound connections looked at for one eviction, at most */
const EVICTION_SCAN = 64
/** a refused connection is logged at most this often (with the count since the last line) */
const REFUSAL_LOG_INTERVAL_MS = 10_000

interface InboundEntry {
  /** the raw socket (under TLS, the one below the TLS socket) */
  socket: net.Socket
  /** what the per-address cap counts by (address-key.ts) */
  address: string
  /** once adopted (after the TLS handshake) */
  conn?: Connection
  /** no longer counted against the caps */
  released: boolean
}

interface Connection {
  socket: net.Socket
  remote: Remote
  ready: Promise<void>
  keepAlive?: NodeJS.Timeout
  /** accepted by our listeners (not opened by us) */
  inbound: boolean
  /** when a SIP message last went either way (keepalives do not count) */
  lastActivity: number
  /** when the peer last sent anything, keepalive answers included */
  lastHeard: number
  idleTimer?: NodeJS.Timeout
  /** Call-IDs of the messages it carried, most recent last */
  callIds: Set<string>
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
  /** inbound connections open (TLS ones from their first byte, handshake included), in total and per address */
  private inboundCount = 0
  private readonly perAddress = new Map<string, number>()
  /** admitted inbound connections by `address|port`, oldest first: the candidates for eviction */
  private readonly inbound = new Map<string, InboundEntry>()
  private limits: InboundLimits
  /** the effective total cap: the configured one bounded by the descriptor limit */
  maxInbound: number
  readonly fdLimit: number | undefined
  private refused = { total: 0, perAddress: 0, evicted: 0, loggedAt: 0 }

  constructor(private readonly o: TransportOptions) {
    this.log = o.logger
    this.fdLimit = openFileLimit()
    this.tlsClient = o.tlsClient
    this.limits = o.inbound
    this.maxInbound = inboundCap(o.inbound.maxConnections, this.fdLimit)
  }

  /** new inbound limits (reload); connections already open stay */
  setInboundLimits(limits: InboundLimits): void {
    this.limits = limits
    this.maxInbound = inboundCap(limits.maxConnections, this.fdLimit)
  }

  get inboundLimits(): InboundLimits {
    return this.limits
  }

  /** inbound connections open now, in total and from the busiest address (tests, metrics) */
  inboundStats(): { total: number; busiestAddress: number } {
    let busiest = 0
    for (const n of this.perAddress.values()) busiest = Math.max(busiest, n)
    return { total: this.inboundCount, busiestAddress: busiest }
  }

  /** read before any socket opens (tls-files.ts) */
  private serverCreds: { cert: Buffer; key: Buffer } | undefined
  private clientCa: Buffer | undefined
  private tlsClient: { verify: boolean; caFile?: string }

  private readCredentials(): void {
    const files = loadTlsFiles({ ...(this.o.tls ? { tls: this.o.tls } : {}), ...(this.o.tlsClient.caFile ? { caFile: this.o.tlsClient.caFile } : {}) })
    this.serverCreds = files.server
    this.clientCa = files.clientCa
    if (files.domainNotNamed) this.log.warn({ domain: files.domainNotNamed, certFile: this.o.tls?.certFile }, 'the SIP TLS certificate does not name TLSDomain')
  }

  /**
   * New TLS settings without a restart (SIGHUP): outbound verification and
   * CA file (open outbound TLS connections are closed when they change: the
   * next request verifies anew), the listener's certificate and key (for
   * new connections). All
   * files are read first: a ConfigError leaves everything as it was.
   * Returns the settings whose change needs a restart (TLS turned on or off,
   * another TLS port).
   */
  reconfigureTls(o: { tls?: { port: number; certFile: string; keyFile: string; domain?: string }; tlsClient: { verify: boolean; caFile?: string } }): string[] {
    const files = loadTlsFiles({ ...(o.tls ? { tls: o.tls } : {}), ...(o.tlsClient.caFile ? { caFile: o.tlsClient.caFile } : {}) })
    const trustChanged =
      o.tlsClient.verify !== this.tlsClient.verify ||
      (files.clientCa === undefined) !== (this.clientCa === undefined) ||
      (files.clientCa !== undefined && this.clientCa !== undefined && !files.clientCa.equals(this.clientCa))
    this.tlsClient = o.tlsClient
    this.clientCa = files.clientCa
    if (trustChanged) {
      // outbound TLS connections were verified under the old rules: the next request connects anew
      for (const c of this.conns.values()) if (!c.inbound && c.remote.protocol === 'TLS') c.socket.destroy()
    }
    const restart: string[] = []
    if (Boolean(o.tls) !== Boolean(this.tlsServer)) restart.push('TLSCertificate/TLSPrivateKey')
    else if (o.tls && files.server && this.tlsServer) {
      this.tlsServer.setSecureContext(files.server)
      this.serverCreds = files.server
      if (o.tls.port !== 0 && o.tls.port !== this.tlsPort) restart.push('TLSPort')
      if (files.domainNotNamed) this.log.warn({ domain: files.domainNotNamed, certFile: o.tls.certFile }, 'the SIP TLS certificate does not name TLSDomain')
    }
    return restart
  }

  async listen(): Promise<void> {
    this.readCredentials()
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
    this.tcpServer = net.createServer((socket) => {
      if (this.admit(socket)) this.adopt(socket, 'TCP', undefined, true)
    })
    await listen(this.tcpServer, a === '' ? '::' : a, port, a === '' ? '0.0.0.0' : undefined)
    if (this.o.tls && this.serverCreds) {
      const t = this.o.tls
      const creds = this.serverCreds
      this.tlsServer = tls.createServer({ ...creds, handshakeTimeout: this.limits.unusedIdleTimeoutMs }, (socket) =>
        this.adopt(socket, 'TLS', undefined, true),
      )
      // counted and capped on the raw connection, before the handshake costs anything
      this.tlsServer.prependListener('connection', (raw: net.Socket) => {
        this.admit(raw)
      })
      this.tlsServer.on('tlsClientError', (err, socket) => {
        this.log.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed')
        socket.destroy()
      })
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
    // per message: build the fields only when they are written
    if (this.log.isLevelEnabled('debug')) this.log.debug({ remote, msg: firstLine(m), callId: m.headers['call-id'] }, 'SIP in')
    trace('in', m, remote)
    try {
      this.o.onMessage(m, remote)
    } catch (err) {
      if (err instanceof SipParseError) return
      this.log.error({ err, msg: firstLine(m) }, 'error handling a SIP message')
    }
  }

  /**
   * Count an inbound connection against the caps, or refuse it (closed at
   * once). The count is released when the socket closes.
   */
  private admit(socket: net.Socket): boolean {
    const remoteAddress = normalizeAddress(socket.remoteAddress ?? '')
    const address = addressKey(remoteAddress)
    const fromThere = this.perAddress.get(address) ?? 0
    let over: 'total' | 'perAddress' | undefined
    if (fromThere >= this.limits.maxPerAddress) over = 'perAddress'
    else if (this.inboundCount >= this.maxInbound) {
      if (this.evictUnused()) this.noteShed('evicted', address)
      else over = 'total'
    }
    if (this.closed || over) {
      socket.on('error', () => undefined)
      socket.destroy()
      if (over) this.noteShed(over, address)
      return false
    }
    this.inboundCount++
    this.perAddress.set(address, fromThere + 1)
    const id = `${remoteAddress}|${socket.remotePort ?? 0}`
    const entry: InboundEntry = { socket, address, released: false }
    this.inbound.set(id, entry)
    socket.once('close', () => {
      if (this.inbound.get(id) === entry) this.inbound.delete(id)
      this.release(entry)
    })
    return true
  }

  private release(entry: InboundEntry): void {
    if (entry.released) return
    entry.released = true
    this.inboundCount--
    const n = (this.perAddress.get(entry.address) ?? 1) - 1
    if (n > 0) this.perAddress.set(entry.address, n)
    else this.perAddress.delete(entry.address)
  }

  /**
   * The total cap is full: close the oldest inbound connection that carries
   * nothing live (a handshake in progress, or no live dialog or transaction),
   * so that a flood cannot lock out the peers of real calls. Looks at a
   * bounded number; live ones it passes go to the back of the line.
   */
  private evictUnused(): boolean {
    let looked = 0
    for (const [id, e] of this.inbound) {
      if (looked++ >= EVICTION_SCAN) break
      this.inbound.delete(id)
      if (e.conn && this.carriesLive(e.conn)) {
        this.inbound.set(id, e)
        continue
      }
      this.release(e)
      e.socket.destroy()
      return true
    }
    return false
  }

  private carriesLive(conn: Connection): boolean {
    for (const id of conn.callIds) if (this.o.isLive(id)) return true
    return false
  }

  /** a connection refused, or an idle one closed to make room: logged at most every 10 s, with counts */
  private noteShed(why: 'total' | 'perAddress' | 'evicted', address: string): void {
    this.refused[why]++
    const now = Date.now()
    if (now - this.refused.loggedAt < REFUSAL_LOG_INTERVAL_MS) return
    this.log.warn(
      {
        address,
        why,
        refusedTotalCap: this.refused.total,
        refusedPerAddressCap: this.refused.perAddress,
        evictedUnused: this.refused.evicted,
        inbound: this.inboundCount,
        maxConnections: this.maxInbound,
        maxPerAddress: this.limits.maxPerAddress,
      },
      'SIP connection cap reached: connections refused or idle ones closed',
    )
    this.refused = { total: 0, perAddress: 0, evicted: 0, loggedAt: now }
  }

  /** remember a Call-ID carried by the connection (bounded: dead ones go first, then the oldest) */
  private note(conn: Connection, m: SipMessage): void {
    conn.lastActivity = Date.now()
    const callId = m.headers['call-id']
    if (typeof callId !== 'string' || callId === '') return
    conn.callIds.delete(callId)
    if (conn.callIds.size >= CALL_IDS_PER_CONNECTION) {
      for (const id of conn.callIds) if (!this.o.isLive(id)) conn.callIds.delete(id)
      if (conn.callIds.size >= CALL_IDS_PER_CONNECTION) conn.callIds.delete(conn.callIds.values().next().value as string)
    }
    conn.callIds.add(callId)
  }

  /**
   * The idle rule. A connection that carries a live dialog or transaction is
   * closed when the peer has sent nothing (not even a keepalive answer) for
   * `idleTimeoutMs`; one that carries nothing live, after that long without
   * a SIP message, or after `unusedIdleTimeoutMs` when it is inbound.
   */
  private armIdle(conn: Connection, ms: number): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer)
    conn.idleTimer = setTimeout(() => this.checkIdle(conn), Math.max(ms, 10))
    conn.idleTimer.unref()
  }

  private idleLimit(conn: Connection): number {
    if (!conn.inbound || this.carriesLive(conn)) return this.o.idleTimeoutMs
    return Math.min(this.limits.unusedIdleTimeoutMs, this.o.idleTimeoutMs)
  }

  private checkIdle(conn: Connection): void {
    conn.idleTimer = undefined
    if (conn.socket.destroyed) return
    const live = this.carriesLive(conn)
    const idle = Date.now() - (live ? Math.max(conn.lastActivity, conn.lastHeard) : conn.lastActivity)
    const limit = this.idleLimit(conn)
    if (idle >= limit) {
      this.log.debug({ remote: conn.remote, idleMs: idle, inbound: conn.inbound }, 'closing an idle SIP connection')
      conn.socket.destroy()
      return
    }
    // an inbound connection is looked at again within the short idle time:
    // its dialogs may end meanwhile
    this.armIdle(conn, conn.inbound ? Math.min(limit - idle, this.limits.unusedIdleTimeoutMs) : limit - idle)
  }

  private adopt(socket: net.Socket, protocol: Protocol, known?: Remote, inbound = false): Connection {
    const remote: Remote = known ?? {
      protocol,
      address: normalizeAddress(socket.remoteAddress ?? ''),
      port: socket.remotePort ?? 0,
    }
    const now = Date.now()
    const conn: Connection = { socket, remote, ready: Promise.resolve(), inbound, lastActivity: now, lastHeard: now, callIds: new Set() }
    const k = key(remote)
    this.conns.set(k, conn)
    if (inbound) {
      const entry = this.inbound.get(`${remote.address}|${remote.port}`)
      if (entry) entry.conn = conn
    }
    this.armIdle(conn, this.idleLimit(conn))
    const framer = new StreamFramer(this.o.maxMessageSize, {
      message: (m) => {
        this.note(conn, m)
        this.deliver(m, remote)
      },
      ping: () => {
        if (!socket.destroyed) socket.write('\r\n')
      },
      error: (reason, fatal) => {
        this.log.debug({ remote, reason }, fatal ? 'closing SIP connection' : 'bad SIP message skipped')
        if (fatal) socket.destroy()
      },
    })
    socket.on('data', (chunk: Buffer) => {
      conn.lastHeard = Date.now()
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
      if (conn.idleTimer) clearTimeout(conn.idleTimer)
      conn.idleTimer = undefined
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
    const socket = remote.protocol === 'TLS' ? this.connectTls(remote) : net.connect({ host: remote.address, port: remote.port })
    const conn = this.adopt(socket, remote.protocol, remote)
    conn.ready = new Promise<void>((resolve, reject) => {
      socket.once(remote.protocol === 'TLS' ? 'secureConnect' : 'connect', () => resolve())
      socket.once('error', reject)
    })
    conn.ready.catch((err: NodeJS.ErrnoException) => {
      if (remote.protocol === 'TLS') {
        this.log.warn({ remote, name: remote.name ?? remote.address, err: err.message, code: err.code }, 'outbound SIP over TLS failed')
      }
    })
    return conn
  }

  /**
   * Outbound TLS: the peer's certificate must chain to a trusted CA and name
   * the host of the URI (RFC 5922: the domain, or the IP address when the
   * URI has one), unless verification is off.
   */
  private connectTls(remote: Remote): tls.TLSSocket {
    const name = remote.name ?? remote.address
    return tls.connect({
      host: remote.address,
      port: remote.port,
      // SNI carries host names only (RFC 6066)
      ...(net.isIP(name) ? {} : { servername: name }),
      rejectUnauthorized: this.tlsClient.verify,
      ...(this.clientCa ? { ca: this.clientCa } : {}),
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
    })
  }

  /**
   * Send a message. `onError` hears, always asynchronously, why it could not
   * be sent (connection refused, no socket for the family): the caller turns
   * that into 503. A datagram costs no promise: this runs once per message
   * sent (issue 16).
   */
  send(m: SipMessage, remote: Remote, onError: (err: Error) => void): void {
    if (this.closed) {
      process.nextTick(onError, new Error('transport closed'))
      return
    }
    const data = wireOf(m)
    if (this.log.isLevelEnabled('debug')) this.log.debug({ remote, msg: firstLine(m), callId: m.headers['call-id'] }, 'SIP out')
    trace('out', m, remote)
    if (remote.protocol === 'UDP') {
      const v6 = remote.address.includes(':') // an address, never a name here: no regex per datagram
      const sock = v6 ? this.udp6 : this.udp4
      if (!sock) {
        process.nextTick(onError, new Error(`no ${v6 ? 'IPv6' : 'IPv4'} UDP socket`))
        return
      }
      sock.send(data, remote.port, remote.address, (err) => {
        if (err) onError(err)
      })
      return
    }
    this.sendOnStream(data, m, remote).catch(onError)
  }

  private async sendOnStream(data: Buffer | string, m: SipMessage, remote: Remote): Promise<void> {
    const conn = this.connect(remote)
    this.note(conn, m)
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
      if (c.idleTimer) clearTimeout(c.idleTimer)
      c.socket.destroy()
    }
    this.conns.clear()
    await this.closeSockets()
  }
}

function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6', lookup: literalLookup })
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

/**
 * The UDP sockets' lookup. We send to addresses only, and dns.lookup answers
 * an address a tick later (an object, a closure and a tick per datagram); this
 * answers at once. A name, should one come, still goes to dns.lookup.
 */
function literalLookup(host: string, options: dns.LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = net.isIP(host)
  if (family !== 0) callback(null, host, family)
  else dns.lookup(host, typeof options === 'number' ? { family: options } : options, callback)
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
