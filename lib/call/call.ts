/**
 * A Call: one request to connect two parties, its two legs, its state (moved
 * only along the table in state.ts), the original's coded results, and the
 * typed events that go on until it ends. The flows (setup.ts, referral.ts,
 * bridge.ts) and the verbs (verbs.ts) drive it; front-ends read `results`
 * and `events` and listen for 'result' and 'event'.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type {
  CallEvent,
  CallHandle,
  CallMode,
  CallRequest,
  CallResult,
  CallSnapshot,
  CallTimes,
  EndCause,
  EndedBy,
  LegName,
  LegRole,
  VerbOutcome,
} from './api'
import { CallState, isLegalTransition, ON_DESTINATION, REPORTED_FINAL } from './state'
import { Leg } from './leg'
import { Texts } from './texts'
import { publishEvent } from './channels'
import { randomId } from './ids'
import type { DialogEndReason, IncomingReinvite, Dialog } from '../sip'

/** Distributes the verbs of a call to their flows (verbs.ts); injected so call.ts imports no flow. */
export interface CallControl {
  hold(call: Call, legs: Leg[], on: boolean): Promise<VerbOutcome>
  transfer(call: Call, leg: Leg, target: string): Promise<VerbOutcome>
  join(call: Call, leg: Leg, other: string | CallHandle, otherRole: LegRole): Promise<VerbOutcome>
}

/** How a leg's dialog ending or re-INVITE is handled in the call's current phase. */
export interface LegHandlers {
  gone(leg: Leg, reason: DialogEndReason): void
  reinvite(leg: Leg, request: IncomingReinvite): void
}

const EVENT_HISTORY = 256

type EventBody = CallEvent extends infer E ? (E extends CallEvent ? Omit<E, 'callId' | 'setupId' | 'seq' | 'at'> : never) : never

export class Call extends EventEmitter implements CallHandle {
  readonly id: string
  readonly request: CallRequest
  readonly translatedInitiator: string
  readonly translatedDestination: string
  readonly createdAt = Date.now()
  endedAt: number | undefined
  state: CallState = CallState.Created
  readonly results: CallResult[] = []
  readonly events: CallEvent[] = []
  readonly initiator: Leg
  readonly destination: Leg
  /** the REFER was refused and the call went on anchored */
  fellBack = false
  destinationAnsweredAt: number | null = null
  bridgedAt: number | null = null
  holds = 0
  transfers = 0
  /** a verb (hold, transfer, join) is being carried out */
  busy = false
  cause: EndCause | null = null
  endedBy: EndedBy | null = null
  endCode: number | null = null
  endReason = ''
  /** set while hangUp() runs */
  private hangingUp: Promise<void> | undefined
  /** the server's call logger; `log` is its child with this call's id, made at the first line logged */
  private readonly baseLog: Logger
  private childLog: Logger | undefined
  private finalSent = false
  private seq = 0
  /** made at the first timer: an empty Set is ~150 bytes of every held call */
  private timers: Set<NodeJS.Timeout> | undefined
  /** a timer that matters only until the final result (setup's bound) */
  private untilFinalTimer: NodeJS.Timeout | undefined
  handlers: LegHandlers

  /**
   * This call's logger (its lines carry the call id). A pino child costs an
   * object and its bindings run through redaction (~1.6 KB a call): made when
   * a line is logged, so that a call at a level that logs nothing makes none.
   */
  get log(): Logger {
    return (this.childLog ??= this.baseLog.child({ callId: this.id }))
  }

  /** `log` when a line at `level` would be written, else undefined (for the lines of every call) */
  logAt(level: 'debug' | 'info'): Logger | undefined {
    return this.baseLog.isLevelEnabled(level) ? this.log : undefined
  }

  constructor(
    request: CallRequest,
    ti: string,
    td: string,
    host: string,
    logger: Logger,
    private readonly control: CallControl,
    id = randomId(),
  ) {
    super()
    this.id = id
    this.request = request
    this.translatedInitiator = ti
    this.translatedDestination = td
    this.initiator = new Leg('initiator', ti, host)
    this.destination = new Leg('destination', td, host)
    this.baseLog = logger
    this.handlers = { gone: () => undefined, reinvite: (leg, rq) => rq.accept(leg.localSdp) }
    this.results.push({
      code: 100,
      text: Texts.inProgress,
      final: false,
      translatedInitiator: ti,
      translatedDestination: td,
      at: this.createdAt,
    })
  }

  get setupId(): string | undefined {
    return this.request.setupId
  }

  get anchor(): boolean {
    return this.request.anchor
  }

  get mode(): CallMode {
    if (this.request.anchor) return 'anchored'
    return this.fellBack ? 'refer-fallback' : 'refer'
  }

  get stateName(): string {
    return this.state
  }

  /** true once a final result went out (the client is done with this call) */
  get reportedFinal(): boolean {
    return this.finalSent
  }

  get ended(): boolean {
    return this.state === CallState.Ended
  }

  leg(role: LegRole): Leg {
    return role === 'initiator' ? this.initiator : this.destination
  }

  other(leg: Leg): Leg {
    return leg === this.initiator ? this.destination : this.initiator
  }

  // ------------------------------------------------------------ events

  /** Emit a typed event: numbered, kept (bounded), published on diagnostics_channel. */
  emitEvent(body: EventBody): void {
    this.seq += 1
    const event = eventRecord(body, this.id, this.setupId ?? null, this.seq, Date.now())
    this.events.push(event)
    if (this.events.length > EVENT_HISTORY) this.events.splice(0, this.events.length - EVENT_HISTORY)
    // one listener's bug must not keep the event from the others (emit() stops at a throw)
    for (const listener of this.listeners('event') as Array<(e: CallEvent) => void>) {
      try {
        listener.call(this, event)
      } catch (err) {
        this.log.error({ err, type: event.type }, 'a call event listener threw')
      }
    }
    publishEvent(event)
  }

  /**
   * Move to `next` if the table allows it. An illegal move is a bug: it is
   * logged and refused, never a silent overwrite.
   */
  setState(next: CallState, detail: Record<string, unknown> = {}): boolean {
    if (this.state === next) return true
    const prev = this.state
    if (!isLegalTransition(prev, next)) {
      if (prev !== CallState.Ended) this.log.error({ state: prev, next, ...detail }, `illegal call state transition ${prev} -> ${next}`)
      return false
    }
    this.state = next
    this.logAt('info')?.info({ state: next, prev, anchor: this.anchor, ...detail }, `call ${prev} -> ${next}`)
    this.emitEvent({ type: 'state', state: next, prev })
    this.emit('state', next, prev)
    return true
  }

  // ----------------------------------------------------------- results

  /**
   * Report a result to the front-ends (asynchronously, in order). A result
   * after the final one is dropped: every request gets exactly one final.
   */
  report(code: number, leg: LegName, text: string): void {
    if (this.finalSent) return
    const final = code >= 300 || (leg === 'Destination' && code >= 200 && code < 300)
    if (final) {
      this.finalSent = true
      // its function would do nothing now; the bound is minutes in production, and
      // a held call kept its Timeout, closure and context (~300 bytes) until then
      this.clearTimer(this.untilFinalTimer)
      this.untilFinalTimer = undefined
    }
    const result: CallResult = { code, leg, text, final, at: Date.now() }
    this.results.push(result)
    // a provisional result is the state line's status already; the final one is what the client was told
    this.logAt(final ? 'info' : 'debug')?.[final ? 'info' : 'debug']({ code, leg, final }, `result ${code} ${leg}: ${text}`)
    this.emitEvent({ type: 'result', result })
    process.nextTick(() => this.emit('result', result))
  }

  /** Report ringing once per leg (phones may send 180 and 183). */
  reportRinging(leg: Leg, status: number): void {
    if (leg.ringingReported) return
    leg.ringingReported = true
    leg.status = 'ringing'
    this.emitEvent({ type: 'ringing', leg: leg.role, status })
    this.report(180, leg.name, leg.role === 'initiator' ? Texts.ringingInitiator : Texts.ringingDestination)
  }

  /** A leg's failure as the final result, and the move to Failed. */
  fail(leg: Leg, code: number): void {
    this.report(code, leg.name, leg.role === 'initiator' ? Texts.failedInitiator : Texts.failedDestination)
    if (!REPORTED_FINAL.has(this.state)) this.setState(CallState.Failed, { leg: leg.name, code })
  }

  /** Report the failure on the leg the call is working on. */
  failCurrentLeg(code: number): void {
    this.fail(ON_DESTINATION.has(this.state) ? this.destination : this.initiator, code)
  }

  /** Both parties are connected (bridge complete, or the referral succeeded). */
  connected(next: CallState.Bridged | CallState.Transferred): void {
    this.bridgedAt ??= Date.now()
    this.destinationAnsweredAt ??= this.bridgedAt
    this.report(200, 'Destination', Texts.connectedDestination)
    this.setState(next)
    this.emitEvent({ type: 'bridged' })
  }

  // ------------------------------------------------------------- legs

  /** Make `dialog` this leg's dialog, with its endings and re-INVITEs routed to this call's handlers. */
  attach(leg: Leg, dialog: Dialog, announce = true): void {
    leg.answered(dialog)
    dialog.removeAllListeners('terminated')
    dialog.removeAllListeners('reinvite')
    dialog.on('terminated', (reason: DialogEndReason) => {
      if (leg.dialog !== dialog) return
      leg.gone()
      if (reason === 'local-bye' || this.ended) return
      this.handlers.gone(leg, reason)
    })
    dialog.on('reinvite', (request: IncomingReinvite) => {
      if (leg.dialog !== dialog || this.ended) {
        request.accept(leg.localSdp)
        return
      }
      this.handlers.reinvite(leg, request)
    })
    if (announce) this.emitEvent({ type: 'answered', leg: leg.role })
  }

  // ------------------------------------------------------------ timers

  /** A timer that dies with the call. */
  timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.forgetTimer(t)
      fn()
    }, ms)
    t.unref()
    this.timers ??= new Set()
    this.timers.add(t)
    return t
  }

  /** A timer that dies with the call or when the final result goes, whichever comes first (one at a time). */
  timerUntilFinal(ms: number, fn: () => void): void {
    if (this.finalSent) return
    this.clearTimer(this.untilFinalTimer)
    this.untilFinalTimer = this.timer(ms, fn)
  }

  clearTimer(t: NodeJS.Timeout | undefined): void {
    if (!t) return
    clearTimeout(t)
    this.forgetTimer(t)
  }

  private forgetTimer(t: NodeJS.Timeout): void {
    this.timers?.delete(t)
    if (this.timers?.size === 0) this.timers = undefined
  }

  /** Background work of this call: a failure is logged with the call id, never unhandled. */
  spawn(what: string, work: Promise<unknown>): void {
    work.catch((err: unknown) => this.log.error({ err, what }, 'call background work failed'))
  }

  // ---------------------------------------------------------- teardown

  /**
   * End the server's part of the call: CANCEL what rings, BYE what is up,
   * then mark the call ended. The first caller says who ended it. Safe to
   * call more than once.
   */
  hangUp(why: string, by: EndedBy, cause?: EndCause): Promise<void> {
    if (this.ended) return Promise.resolve()
    if (this.hangingUp) return this.hangingUp
    this.endedBy ??= by
    this.endReason = why
    if (cause) this.cause = cause
    this.hangingUp = Promise.all([releaseLeg(this.initiator), releaseLeg(this.destination)]).then(
      () => this.markEnded(why),
      (err: unknown) => {
        this.log.warn({ err }, 'error while hanging up')
        this.markEnded(why)
      },
    )
    return this.hangingUp
  }

  get hangingUpNow(): boolean {
    return this.hangingUp !== undefined
  }

  /** The call is over for the server: no leg left. Emits 'ended' once, the last event. */
  markEnded(why: string): void {
    if (this.state === CallState.Ended) return
    for (const t of this.timers ?? []) clearTimeout(t)
    this.timers = undefined
    this.untilFinalTimer = undefined
    this.endedAt = Date.now()
    this.initiator.gone()
    this.destination.gone()
    this.endedBy ??= 'server'
    this.endReason ||= why
    this.endCode ??= this.bridgedAt !== null ? 200 : lastFailure(this.results) ?? 487
    this.cause ??= causeOf(this.bridgedAt !== null, this.endCode, this.endedBy)
    // one line for the end: the state change carries the cause
    this.setState(CallState.Ended, { why, durationMs: this.endedAt - this.createdAt, cause: this.cause, endedBy: this.endedBy, code: this.endCode })
    this.emitEvent({
      type: 'ended',
      cause: this.cause,
      endedBy: this.endedBy,
      code: this.endCode,
      reason: this.endReason,
      times: this.times(),
    })
    this.emit('ended', why)
    // an ended call keeps no SIP objects
    this.initiator.invite = undefined
    this.destination.invite = undefined
    this.handlers = { gone: () => undefined, reinvite: (leg, rq) => rq.accept(leg.localSdp) }
  }

  // ------------------------------------------------------------- verbs

  /** A refusal when this call cannot take a verb now, else undefined. */
  refusal(): VerbOutcome | undefined {
    if (this.ended) {
      if (this.bridgedAt !== null && this.mode !== 'anchored' && !this.fellBack)
        return { ok: false, code: 'not-in-call', message: `call ${this.id} was transferred by REFER: the server is no longer in it` }
      return { ok: false, code: 'call-ended', message: `call ${this.id} has ended` }
    }
    if (this.hangingUp) return { ok: false, code: 'call-ended', message: `call ${this.id} is ending` }
    return undefined
  }

  async end(): Promise<VerbOutcome> {
    const refused = this.refusal()
    if (refused) return refused
    this.log.info({ state: this.state }, 'ended by the API')
    if (!this.reportedFinal) this.failCurrentLeg(487)
    await this.hangUp('ended by the API', 'api', this.bridgedAt === null ? 'cancelled' : undefined)
    return { ok: true }
  }

  hold(leg?: LegRole): Promise<VerbOutcome> {
    return this.control.hold(this, leg ? [this.leg(leg)] : [this.initiator, this.destination], true)
  }

  unhold(leg?: LegRole): Promise<VerbOutcome> {
    return this.control.hold(this, leg ? [this.leg(leg)] : [this.initiator, this.destination], false)
  }

  transfer(leg: LegRole, target: string): Promise<VerbOutcome> {
    return this.control.transfer(this, this.leg(leg), target)
  }

  join(leg: LegRole, other: CallHandle | string, otherLeg: LegRole): Promise<VerbOutcome> {
    return this.control.join(this, this.leg(leg), other, otherLeg)
  }

  // ---------------------------------------------------------- records

  times(): CallTimes {
    return {
      createdAt: this.createdAt,
      initiatorAnsweredAt: this.initiator.answeredAt,
      destinationAnsweredAt: this.destinationAnsweredAt,
      bridgedAt: this.bridgedAt,
      endedAt: this.endedAt ?? null,
    }
  }

  snapshot(): CallSnapshot {
    return {
      id: this.id,
      setupId: this.setupId ?? null,
      state: this.state,
      anchor: this.anchor,
      mode: this.mode,
      origin: { ...this.request.origin },
      initiator: this.request.initiator,
      destination: this.request.destination,
      translatedInitiator: this.translatedInitiator,
      translatedDestination: this.translatedDestination,
      createdAt: this.createdAt,
      endedAt: this.endedAt ?? null,
      results: this.results.map((r) => ({ ...r })),
      legs: { initiator: this.initiator.snapshot(), destination: this.destination.snapshot() },
      times: this.times(),
      holds: this.holds,
      transfers: this.transfers,
      cause: this.cause,
      endedBy: this.endedBy,
      code: this.endCode,
    }
  }

  isReportedFinalState(): boolean {
    return REPORTED_FINAL.has(this.state)
  }
}

/**
 * The event as kept in the history: the body's fields, then callId, setupId,
 * seq, at (the order clients see). The frequent types are written as one
 * literal each: a spread copy of the body keeps the body's few in-object
 * fields and puts the four added ones in a separate property array, ~60
 * bytes more per event and ~1 KiB per bridged call (16 events).
 */
function eventRecord(body: EventBody, callId: string, setupId: string | null, seq: number, at: number): CallEvent {
  switch (body.type) {
    case 'state':
      return { type: body.type, state: body.state, prev: body.prev, callId, setupId, seq, at }
    case 'result':
      return { type: body.type, result: body.result, callId, setupId, seq, at }
    case 'ringing':
      return { type: body.type, leg: body.leg, status: body.status, callId, setupId, seq, at }
    case 'answered':
      return { type: body.type, leg: body.leg, callId, setupId, seq, at }
    case 'bridged':
      return { type: body.type, callId, setupId, seq, at }
    case 'created':
      return {
        type: body.type,
        initiator: body.initiator,
        destination: body.destination,
        translatedInitiator: body.translatedInitiator,
        translatedDestination: body.translatedDestination,
        anchor: body.anchor,
        origin: body.origin,
        callId,
        setupId,
        seq,
        at,
      }
    default:
      return { ...body, callId, setupId, seq, at } as CallEvent
  }
}

function lastFailure(results: readonly CallResult[]): number | undefined {
  for (let i = results.length - 1; i >= 0; i--) if (results[i]!.code >= 300) return results[i]!.code
  return undefined
}

/** How a call that never connected (or did) is classified for records. */
export function causeOf(connected: boolean, code: number, by: EndedBy): EndCause {
  if (connected) return 'completed'
  if (by === 'api') return 'cancelled'
  if (code === 486 || code === 600) return 'busy'
  if (code === 408 || code === 480 || code === 487) return by === 'server' && code === 487 ? 'cancelled' : 'no-answer'
  if (code === 403 || code === 603) return 'rejected'
  return 'failed'
}

function releaseLeg(leg: Leg): Promise<void> {
  if (leg.invite) {
    const invite = leg.invite
    leg.invite = undefined
    return new Promise<void>((resolve) => {
      const done = (): void => resolve()
      invite.once('failed', done)
      invite.once('answered', (dialog: Dialog) => {
        // answered as the CANCEL went: a BYE ends it, not waited for (below)
        void dialog.bye()
        done()
      })
      invite.cancel()
    })
  }
  // RFC 3261 §15.1.1: the session is over as soon as the BYE is handed to its
  // transaction. Its answer is not waited for: a peer that never answers would
  // keep the call live (MaxCalls, its state in memory, the end in its record)
  // for the 32 s of the BYE's retransmissions
  const up = leg.up
  if (up) void up.bye()
  return Promise.resolve()
}
