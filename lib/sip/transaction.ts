/**
 * The SIP transaction layer (RFC 3261 §17, with RFC 6026's Accepted states),
 * replacing the `sip` package's makeTransactionLayer: a class per transaction
 * kind with its state in a number, one timer at a time, no closures per state
 * and ids by string concatenation (the package's state machines showed at
 * ~7 % of the main thread in a CPU profile at load). The last wait of a
 * transaction (Timers D, I, J, K, L, M), when it only absorbs retransmissions,
 * is an entry in the stack's queues (waits.ts), not a timer of its own.
 *
 * What stays with the TU (stack.ts sendRequest): Timer B and Timer F, at
 * 64*T1, so they are not here; the 100 Trying to an INVITE (invite-server.ts);
 * the 2xx to an INVITE and its retransmissions (dialog.ts send2xx, passed
 * through the server transaction while it is in Accepted).
 */
import { flatten, keptForResending, newBranch, type SipMessage } from './message'
import { Waits, type Expiring } from './waits'

/** where a transaction sends: the connection (or datagram peer) of its request */
export interface TransactionConnection {
  send(message: SipMessage): void
  /** UDP, TCP, TLS: retransmissions and the wait timers are for UDP only (§17.1.1.2, §17.1.2.2) */
  protocol: string
  /** called once when the transaction is over */
  release(): void
}

export interface TransactionTimers {
  /** RTT estimate: first retransmission interval, and 64*T1 for Timers H, J, L, M */
  T1: number
  /** longest retransmission interval of non-INVITE requests and INVITE final responses */
  T2: number
  /** longest time a message stays in the network: Timers I and K */
  T4: number
  /** Timer D over UDP: at least 32 s (§17.1.1.2), independent of T1; 32 s when unset */
  D?: number
}

export interface ClientTransaction {
  /** a response for this transaction; `remote` unset for one we made ourselves (no ACK is sent for those) */
  message(rs: SipMessage, remote?: unknown): void
  shutdown(): void
}

export interface ServerTransaction {
  send(rs: SipMessage): void
  message(rq: SipMessage): void
  shutdown(): void
}

export type TransactionUser = (rs: SipMessage) => void

/**
 * Transaction id (§17.1.3, §17.2.3): CSeq method, Call-ID and top Via branch.
 * An ACK belongs to the INVITE transaction (it acknowledges a non-2xx).
 */
export function transactionId(m: SipMessage): string {
  const h = m.headers
  const method: string = m.method === 'ACK' ? 'INVITE' : h.cseq.method
  return method + ' ' + h['call-id'] + ' ' + h.via[0].params.branch
}

const DEFAULT_TIMER_D = 32_000

// states (one numbering for all kinds; each kind uses its own subset)
const CALLING = 0 // INVITE client, before any response
const TRYING = 1 // non-INVITE client and server, before any response
const PROCEEDING = 2
const COMPLETED = 3
const CONFIRMED = 4 // INVITE server, ACK received
const ACCEPTED = 5 // INVITE, 2xx passed (RFC 6026)
const TERMINATED = 6

/** setTimeout's extra argument instead of a closure per timer */
function fire(t: Transaction): void {
  t.timer = undefined
  t.timeout()
}

/** what every transaction of a layer shares: the stack's timers and its long waits */
interface LayerShared {
  timers: TransactionTimers
  waits: Waits
}

abstract class Transaction implements Expiring {
  state: number
  timer: NodeJS.Timeout | undefined = undefined
  protected readonly reliable: boolean
  protected readonly timers: TransactionTimers

  constructor(
    readonly id: string,
    protected readonly table: Map<string, Transaction>,
    protected readonly cn: TransactionConnection,
    protected readonly shared: LayerShared,
    state: number,
  ) {
    this.state = state
    this.timers = shared.timers
    this.reliable = cn.protocol.toUpperCase() !== 'UDP'
  }

  /** the transaction's own timer fired (retransmissions, Timer H); the long waits end in expire() */
  timeout(): void {
    this.terminate()
  }

  protected arm(ms: number): void {
    this.timer = setTimeout(fire, ms, this)
  }

  protected disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Timers D, I, J, K are zero over a reliable transport (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2) */
  protected waitThenEnd(unreliableMs: number): void {
    if (this.reliable) this.terminate()
    else this.waitLong(unreliableMs)
  }

  /**
   * The last wait (D, I, J, K, L, M): the transaction has nothing left to do
   * but absorb retransmissions, and ends at its end. One queue per length
   * for the layer (waits.ts), not a timer each.
   */
  protected waitLong(ms: number): void {
    this.shared.waits.after(ms, this)
  }

  /** a long wait is over: the transaction ends, unless it ended already */
  expire(): void {
    this.terminate()
  }

  shutdown(): void {
    this.terminate()
  }

  protected terminate(): void {
    if (this.state === TERMINATED) return
    this.state = TERMINATED
    this.disarm()
    // a newer transaction may hold the id by now: remove only this one
    if (this.table.get(this.id) === this) this.table.delete(this.id)
    this.cn.release()
  }
}

/** INVITE client transaction (§17.1.1; Accepted from RFC 6026 §8.4). */
class InviteClientTransaction extends Transaction implements ClientTransaction {
  private interval: number
  private ack: SipMessage | undefined = undefined
  /** the INVITE, while it may be retransmitted or ACKed (dropped in Accepted) */
  private rq: SipMessage | undefined

  constructor(
    id: string,
    table: Map<string, Transaction>,
    cn: TransactionConnection,
    shared: LayerShared,
    rq: SipMessage,
    private readonly tu: TransactionUser,
  ) {
    super(id, table, cn, shared, CALLING)
    this.interval = shared.timers.T1
    this.rq = rq
  }

  start(): void {
    this.cn.send(this.rq!)
    // Timer A over UDP, from T1 doubling (§17.1.1.2); Timer B is the TU's
    if (!this.reliable) this.arm(this.interval)
  }

  message(rs: SipMessage, remote?: unknown): void {
    const status = rs.status!
    switch (this.state) {
      case CALLING:
      case PROCEEDING:
        if (status < 200) {
          // a provisional stops Timer A (§17.1.1.2)
          if (this.state === CALLING) this.disarm()
          this.state = PROCEEDING
        } else if (status < 300) {
          // RFC 6026 §8.4: Accepted, Timer M; 2xx retransmissions still reach the TU
          this.disarm()
          this.state = ACCEPTED
          this.waitLong(64 * this.timers.T1)
          // Accepted passes 2xx up and sends nothing: the INVITE is not needed for its 32 s
          this.rq = undefined
        } else {
          this.disarm()
          this.state = COMPLETED
          this.ack = this.makeAck(rs, this.rq!)
          this.rq = undefined
          // the ACK first: a TU answering a 401/407 with a new INVITE sends it after this ACK
          if (remote !== undefined) this.cn.send(this.ack)
          this.waitThenEnd(this.timers.D ?? DEFAULT_TIMER_D)
        }
        this.tu(rs)
        return
      case COMPLETED:
        // a retransmitted final response gets the ACK again, and is not passed up (§17.1.1.2)
        if (remote !== undefined) this.cn.send(this.ack!)
        return
      case ACCEPTED:
        if (status >= 200 && status < 300) this.tu(rs)
        return
      default:
    }
  }

  override timeout(): void {
    if (this.state === CALLING) {
      // Timer A: retransmit, double the interval (no cap for INVITE, §17.1.1.2)
      this.cn.send(this.rq!)
      this.interval *= 2
      this.arm(this.interval)
      return
    }
    // Timers D and M are long waits (expire()); nothing else arms this one
    this.terminate()
  }

  /**
   * ACK for a non-2xx final (§17.1.1.3): Request-URI, From, Call-ID, CSeq
   * number and top Via of the INVITE, To of the response, and the INVITE's
   * Route (the package left the Route out; stack.ts used to add it).
   */
  private makeAck(rs: SipMessage, rq: SipMessage): SipMessage {
    const h = rq.headers
    const headers: Record<string, unknown> = {
      from: h.from,
      cseq: { method: 'ACK', seq: h.cseq.seq },
      'call-id': h['call-id'],
      via: [h.via[0]],
      'max-forwards': 70,
      to: rs.headers.to,
    }
    if (h.route && h.route.length > 0) headers.route = h.route
    return { method: 'ACK', uri: rq.uri, headers }
  }
}

/** non-INVITE client transaction (§17.1.2). */
class NonInviteClientTransaction extends Transaction implements ClientTransaction {
  private interval: number
  /**
   * The request and its TU, until the final response: Completed only absorbs
   * retransmitted finals for T4 (5 s), and holding the TU's closures (and,
   * through them, the REFER's or BYE's whole flow) for that long was ~4 KiB
   * per transaction, 5,500 of them at 560 calls/s.
   */
  private rq: SipMessage | undefined
  private tu: TransactionUser | undefined

  constructor(
    id: string,
    table: Map<string, Transaction>,
    cn: TransactionConnection,
    shared: LayerShared,
    rq: SipMessage,
    tu: TransactionUser,
  ) {
    super(id, table, cn, shared, TRYING)
    this.interval = shared.timers.T1
    this.rq = rq
    this.tu = tu
  }

  start(): void {
    this.cn.send(this.rq!)
    // Timer E over UDP (§17.1.2.2); Timer F is the TU's
    if (!this.reliable) this.arm(this.interval)
  }

  message(rs: SipMessage): void {
    if (this.state !== TRYING && this.state !== PROCEEDING) return
    const tu = this.tu!
    if (rs.status! >= 200) {
      this.disarm()
      this.state = COMPLETED
      // Timer K: absorb retransmitted finals for T4 (§17.1.2.2)
      this.waitThenEnd(this.timers.T4)
      this.rq = undefined
      this.tu = undefined
    } else {
      this.state = PROCEEDING
    }
    tu(rs)
  }

  override timeout(): void {
    // Timer E (Timer K is a long wait): doubling up to T2 in Trying, T2 in Proceeding (§17.1.2.2)
    if (this.state !== TRYING && this.state !== PROCEEDING) return
    this.cn.send(this.rq!)
    this.interval = this.state === PROCEEDING ? this.timers.T2 : Math.min(2 * this.interval, this.timers.T2)
    this.arm(this.interval)
  }
}

/** INVITE server transaction (§17.2.1; Accepted from RFC 6026 §7.1). */
class InviteServerTransaction extends Transaction implements ServerTransaction {
  private rs: SipMessage | undefined = undefined
  private interval = 0
  /** time left of Timer H: Timer G and H share the one timer */
  private left = 0

  constructor(id: string, table: Map<string, Transaction>, cn: TransactionConnection, shared: LayerShared) {
    super(id, table, cn, shared, PROCEEDING)
  }

  send(rs: SipMessage): void {
    const status = rs.status!
    if (this.state === PROCEEDING) {
      this.rs = rs
      if (status >= 300) {
        this.state = COMPLETED
        this.left = 64 * this.timers.T1
        if (this.reliable) {
          this.arm(this.left) // Timer H only
        } else {
          this.interval = this.timers.T1
          this.armG()
        }
      } else if (status >= 200) {
        // RFC 6026 §7.1: Accepted; the TU (dialog) retransmits the 2xx through us until Timer L
        this.state = ACCEPTED
        this.waitLong(64 * this.timers.T1)
      }
      this.cn.send(rs)
    } else if (this.state === ACCEPTED) {
      this.rs = rs
      this.cn.send(rs)
    }
  }

  message(rq: SipMessage): void {
    if (this.state === PROCEEDING) {
      // a retransmitted INVITE gets the last provisional again (§17.2.1)
      if (this.rs) this.cn.send(this.rs)
    } else if (this.state === COMPLETED) {
      if (rq.method === 'ACK') {
        // Confirmed: absorb ACK retransmissions for Timer I (§17.2.1)
        this.disarm()
        this.state = CONFIRMED
        this.waitThenEnd(this.timers.T4)
      } else {
        this.cn.send(this.rs!)
      }
    }
  }

  /** the next Timer G firing, or Timer H if it comes first */
  private armG(): void {
    this.arm(Math.min(this.interval, this.left))
  }

  override timeout(): void {
    if (this.state === COMPLETED && !this.reliable) {
      this.left -= Math.min(this.interval, this.left)
      if (this.left > 0) {
        // Timer G: retransmit the final, doubling up to T2 (§17.2.1)
        this.cn.send(this.rs!)
        this.interval = Math.min(2 * this.interval, this.timers.T2)
        this.armG()
        return
      }
    }
    // Timer H (Completed, no ACK); I and L are long waits (expire())
    this.terminate()
  }
}

/** non-INVITE server transaction (§17.2.2). */
class NonInviteServerTransaction extends Transaction implements ServerTransaction {
  private rs: SipMessage | undefined = undefined

  constructor(id: string, table: Map<string, Transaction>, cn: TransactionConnection, shared: LayerShared) {
    super(id, table, cn, shared, TRYING)
  }

  send(rs: SipMessage): void {
    if (this.state !== TRYING) return
    // a final response over UDP is repeated for 64*T1: its text is kept, not the objects (message.ts)
    this.rs = rs.status! >= 200 && !this.reliable ? keptForResending(rs) : rs
    this.cn.send(this.rs)
    if (rs.status! >= 200) {
      this.state = COMPLETED
      // Timer J: answer retransmitted requests for 64*T1 (§17.2.2)
      this.waitThenEnd(64 * this.timers.T1)
    }
  }

  message(): void {
    // a retransmitted request gets the last response again, if any (§17.2.2)
    if (this.rs && this.state !== TERMINATED) this.cn.send(this.rs)
  }
}

export class TransactionLayer {
  private readonly clients = new Map<string, Transaction & ClientTransaction>()
  private readonly servers = new Map<string, Transaction & ServerTransaction>()

  private readonly shared: LayerShared

  /** the stack's timers object: read at each use; `waits`: the stack's long waits (a layer of its own by default) */
  constructor(timers: TransactionTimers, waits: Waits = new Waits()) {
    this.shared = { timers, waits }
  }

  createServerTransaction(rq: SipMessage, cn: TransactionConnection): ServerTransaction {
    // the id is kept as long as the transaction (32 s for Timer J): flattened, since made of the
    // request's Call-ID and branch, strings cut from its text, it kept that whole text alive
    const id = flatten(transactionId(rq))
    const table = this.servers as Map<string, Transaction>
    const st =
      rq.method === 'INVITE'
        ? new InviteServerTransaction(id, table, cn, this.shared)
        : new NonInviteServerTransaction(id, table, cn, this.shared)
    this.servers.set(id, st)
    return st
  }

  /**
   * Create a client transaction and send its request now. The top Via
   * branch is the caller's (RFC 3261 §8.1.1.7); only a request without one
   * gets one here (a CANCEL keeps its INVITE's, §9.1).
   */
  createClientTransaction(cn: TransactionConnection, rq: SipMessage, tu: TransactionUser): ClientTransaction {
    const h = rq.headers
    const params = h.via[0].params
    if (rq.method !== 'CANCEL' && (params.branch === undefined || params.branch === null)) params.branch = newBranch()
    if (typeof h.cseq !== 'object') {
      const [seq, method] = String(h.cseq).trim().split(/\s+/)
      h.cseq = { seq: Number(seq), method }
    }
    const id = flatten(transactionId(rq))
    const table = this.clients as Map<string, Transaction>
    const ct =
      rq.method === 'INVITE'
        ? new InviteClientTransaction(id, table, cn, this.shared, rq, tu)
        : new NonInviteClientTransaction(id, table, cn, this.shared, rq, tu)
    this.clients.set(id, ct)
    ct.start()
    return ct
  }

  getServer(m: SipMessage): ServerTransaction | undefined {
    return this.servers.get(transactionId(m))
  }

  getClient(m: SipMessage): ClientTransaction | undefined {
    return this.clients.get(transactionId(m))
  }

  /** transactions alive (client, server) */
  get size(): { clients: number; servers: number } {
    return { clients: this.clients.size, servers: this.servers.size }
  }

  /** long waits pending (Timers D, I, J, K, L, M of this layer's transactions; the stack's other waits too when shared) */
  get waiting(): number {
    return this.shared.waits.size
  }

  /** end every transaction and its timer */
  destroy(): void {
    for (const t of this.clients.values()) t.shutdown()
    for (const t of this.servers.values()) t.shutdown()
    this.shared.waits.clear()
  }
}
