/**
 * Connection slots of the HTTP port: a total and a per-address cap (over
 * either: a short 503 and the socket is destroyed), an idle bound (a socket
 * that moves no byte for `idleMs` is destroyed, which also frees a client
 * that never reads its answer) and "closed means closed": every close the
 * server starts is followed by a destroy within `closeGraceMs`, so a client
 * that ignores the FIN does not keep its slot.
 */
import type net from 'node:net'

export interface ConnectionLimits {
  maxConnections: number
  maxConnectionsPerAddress: number
}

export interface ConnectionTimers {
  /** a socket with no traffic for this long is destroyed */
  idleMs: number
  /** after the server ends a socket, it is destroyed this long later at the latest */
  closeGraceMs: number
}

const REFUSAL =
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 28\r\nRetry-After: 5\r\nConnection: close\r\n\r\nToo many connections; retry\n'

export class ConnectionSlots {
  private readonly perAddress = new Map<string, number>()
  private readonly sockets = new Set<net.Socket>()
  /** connections refused over a cap, since start */
  refused = 0

  constructor(
    private readonly limits: () => ConnectionLimits,
    private readonly timers: ConnectionTimers,
    private readonly onRefuse: (remote: string, why: 'total' | 'address') => void,
  ) {}

  get open(): number {
    return this.sockets.size
  }

  /** the server's 'connection' listener: admit the socket, or answer 503 and destroy it */
  admit(socket: net.Socket): void {
    const remote = socket.remoteAddress ?? ''
    const { maxConnections, maxConnectionsPerAddress } = this.limits()
    const mine = this.perAddress.get(remote) ?? 0
    const why = this.sockets.size >= maxConnections ? 'total' : mine >= maxConnectionsPerAddress ? 'address' : undefined
    if (why) {
      this.refused += 1
      this.onRefuse(remote, why)
      socket.on('error', () => {})
      socket.end(REFUSAL)
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    this.perAddress.set(remote, mine + 1)
    socket.setTimeout(this.timers.idleMs, () => socket.destroy())
    socket.once('close', () => {
      this.sockets.delete(socket)
      const n = (this.perAddress.get(remote) ?? 1) - 1
      if (n <= 0) this.perAddress.delete(remote)
      else this.perAddress.set(remote, n)
    })
    socket.once('end', () => this.destroyLater(socket))
  }

  /** destroy within the grace time, whatever the peer does */
  destroyLater(socket: net.Socket): void {
    if (socket.destroyed) return
    const t = setTimeout(() => socket.destroy(), this.timers.closeGraceMs)
    t.unref()
    socket.once('close', () => clearTimeout(t))
  }

  /** destroy every open socket (shutdown) */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy()
  }
}
