/**
 * A call event source shaped by the call layer's contract (lib/call/api.ts):
 * subscribe() and get(), driven by a script instead of SIP, so that the
 * event sinks (webhooks, action URLs, CDR) can be tested on their own.
 * End-to-end tests use the real call layer against sipp and lib/phone.
 */
import type { CallEvent, CallService, CallSnapshot, EndCause, EndedBy, LegRole, LegSnapshot } from '../../lib/call'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
export type EventBody = DistributiveOmit<CallEvent, 'callId' | 'setupId' | 'seq' | 'at'>

function leg(role: LegRole, uri: string): LegSnapshot {
  return { role, uri, status: 'idle', sipCallId: null, held: false, code: null, answeredAt: null, endedAt: null }
}

export class ScriptedCall {
  private seq = 0
  readonly snapshot: CallSnapshot

  constructor(
    private readonly owner: ScriptedCalls,
    id: string,
    init: { initiator: string; destination: string; anchor?: boolean; setupId?: string; at?: number },
  ) {
    const at = init.at ?? Date.now()
    const ti = /^\d+$/.test(init.initiator) ? `sip:${init.initiator}@127.0.0.1:5080` : init.initiator
    const td = /^\d+$/.test(init.destination) ? `sip:${init.destination}@127.0.0.1:5081` : init.destination
    this.snapshot = {
      id,
      setupId: init.setupId ?? null,
      state: 'created',
      anchor: init.anchor ?? true,
      mode: init.anchor === false ? 'refer' : 'anchored',
      origin: { frontEnd: 'rest', remoteAddress: '127.0.0.1', user: 'admin' },
      initiator: init.initiator,
      destination: init.destination,
      translatedInitiator: ti,
      translatedDestination: td,
      createdAt: at,
      endedAt: null,
      results: [{ code: 100, text: 'In progress', final: false, translatedInitiator: ti, translatedDestination: td, at }],
      legs: { initiator: leg('initiator', ti), destination: leg('destination', td) },
      times: { createdAt: at, initiatorAnsweredAt: null, destinationAnsweredAt: null, bridgedAt: null, endedAt: null },
      holds: 0,
      transfers: 0,
      cause: null,
      endedBy: null,
      code: null,
    }
    this.emit({
      type: 'created',
      initiator: init.initiator,
      destination: init.destination,
      translatedInitiator: ti,
      translatedDestination: td,
      anchor: this.snapshot.anchor,
      origin: { ...this.snapshot.origin },
    }, at)
  }

  get id(): string {
    return this.snapshot.id
  }

  emit(body: EventBody, at = Date.now()): CallEvent {
    const event = { ...body, callId: this.snapshot.id, setupId: this.snapshot.setupId, seq: ++this.seq, at } as CallEvent
    this.owner.publish(event)
    return event
  }

  ringing(role: LegRole, at = Date.now()): this {
    const l = this.snapshot.legs[role]
    l.status = 'ringing'
    l.sipCallId ??= `${role}-${this.snapshot.id}@127.0.0.1`
    this.emit({ type: 'ringing', leg: role, status: 180 }, at)
    return this
  }

  answered(role: LegRole, at = Date.now()): this {
    const l = this.snapshot.legs[role]
    l.status = 'answered'
    l.sipCallId ??= `${role}-${this.snapshot.id}@127.0.0.1`
    l.code = 200
    l.answeredAt = at
    if (role === 'initiator') this.snapshot.times.initiatorAnsweredAt = at
    else this.snapshot.times.destinationAnsweredAt = at
    this.emit({ type: 'answered', leg: role }, at)
    return this
  }

  bridged(at = Date.now()): this {
    this.snapshot.times.bridgedAt = at
    this.snapshot.state = 'bridged'
    this.emit({ type: 'bridged' }, at)
    return this
  }

  held(role: LegRole, at = Date.now()): this {
    this.snapshot.legs[role].held = true
    this.snapshot.holds++
    this.emit({ type: 'held', leg: role, by: 'api' }, at)
    return this
  }

  resumed(role: LegRole, at = Date.now()): this {
    this.snapshot.legs[role].held = false
    this.emit({ type: 'resumed', leg: role, by: 'api' }, at)
    return this
  }

  transferred(role: LegRole, target: string, ok: boolean, at = Date.now()): this {
    if (ok) this.snapshot.transfers++
    this.emit({ type: 'transferred', leg: role, target, ok, status: ok ? 200 : 486 }, at)
    return this
  }

  /** a failing leg: its final code */
  failed(role: LegRole, code: number, at = Date.now()): this {
    const l = this.snapshot.legs[role]
    l.sipCallId ??= `${role}-${this.snapshot.id}@127.0.0.1`
    l.code = code
    l.status = 'ended'
    l.endedAt = at
    const result = { code, leg: role === 'initiator' ? ('Initiator' as const) : ('Destination' as const), text: `Failed to connect to ${role}`, final: true, at }
    this.snapshot.results.push(result)
    this.emit({ type: 'result', result }, at)
    return this
  }

  end(cause: EndCause, endedBy: EndedBy, code: number, at = Date.now()): CallEvent {
    const s = this.snapshot
    s.times.endedAt = at
    s.endedAt = at
    s.cause = cause
    s.endedBy = endedBy
    s.code = code
    s.state = 'ended'
    for (const l of [s.legs.initiator, s.legs.destination]) {
      if (l.status !== 'idle') {
        l.status = 'ended'
        l.endedAt ??= at
      }
    }
    return this.emit({ type: 'ended', cause, endedBy, code, reason: `${cause} (${endedBy})`, times: { ...s.times } }, at)
  }
}

export class ScriptedCalls implements Pick<CallService, 'subscribe' | 'get'> {
  private readonly listeners = new Set<(event: CallEvent) => void>()
  readonly calls = new Map<string, ScriptedCall>()
  /** get() answers undefined for these (as after ResultCacheTime) */
  forgotten = new Set<string>()
  private next = 0

  subscribe(listener: (event: CallEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get(id: string): CallSnapshot | undefined {
    if (this.forgotten.has(id)) return undefined
    const c = this.calls.get(id)
    return c ? (structuredClone(c.snapshot) as CallSnapshot) : undefined
  }

  get subscribers(): number {
    return this.listeners.size
  }

  publish(event: CallEvent): void {
    for (const l of this.listeners) l(event)
  }

  start(init: { initiator: string; destination: string; anchor?: boolean; setupId?: string; at?: number; id?: string }): ScriptedCall {
    const id = init.id ?? `call${(++this.next).toString().padStart(4, '0')}`
    const c = new ScriptedCall(this, id, init)
    this.calls.set(id, c)
    return c
  }

  /** a whole successful anchored call */
  completed(init: { initiator: string; destination: string; at?: number; talkMs?: number; id?: string }): ScriptedCall {
    const t0 = init.at ?? Date.now()
    const c = this.start({ ...init, at: t0 })
    c.ringing('initiator', t0 + 100).answered('initiator', t0 + 1000).ringing('destination', t0 + 1100).answered('destination', t0 + 3000).bridged(t0 + 3100)
    c.end('completed', 'initiator', 200, t0 + 3100 + (init.talkMs ?? 10_000))
    return c
  }
}
