/**
 * A Call: one click-to-call request, its two legs, its state and the coded
 * results it has produced. Flows (initiator.ts, referral.ts, anchor.ts)
 * drive it; front-ends read `results` and listen for 'result'.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { CallHandle, CallRequest, CallResult, CallSnapshot, LegName } from './api'
import { CallState, REPORTED_FINAL } from './state'
import type { Dialog, OutgoingInvite } from '../sip/api'

export function newCallId(): string {
  return randomBytes(8).toString('hex')
}

/** The server's side of one leg: the INVITE in progress and/or the dialog. */
export interface LegState {
  name: LegName
  uri: string
  invite?: OutgoingInvite
  dialog?: Dialog
  /** a 18x was already reported for this leg */
  ringingReported: boolean
  /** the SDP this server last sent on this leg */
  localSdp?: string
}

export class Call extends EventEmitter implements CallHandle {
  readonly id: string
  readonly request: CallRequest
  readonly translatedInitiator: string
  readonly translatedDestination: string
  readonly createdAt = Date.now()
  endedAt: number | undefined
  state: CallState = CallState.Created
  readonly results: CallResult[] = []
  readonly initiator: LegState
  readonly destination: LegState
  /** the REFER was refused and the call went on anchored */
  fellBack = false
  /** set while hangUp() runs */
  hangingUp: Promise<void> | undefined
  readonly log: Logger
  private finalSent = false
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(request: CallRequest, ti: string, td: string, logger: Logger, id = newCallId()) {
    super()
    this.id = id
    this.request = request
    this.translatedInitiator = ti
    this.translatedDestination = td
    this.initiator = { name: 'Initiator', uri: ti, ringingReported: false }
    this.destination = { name: 'Destination', uri: td, ringingReported: false }
    this.log = logger.child({ callId: id })
    this.results.push({
      code: 100,
      text: 'In progress',
      final: false,
      translatedInitiator: ti,
      translatedDestination: td,
      at: this.createdAt,
    })
  }

  get anchor(): boolean {
    return this.request.anchor
  }

  /** true once a final result went out (the client is done with this call) */
  get reportedFinal(): boolean {
    return this.finalSent
  }

  get ended(): boolean {
    return this.state === CallState.Ended
  }

  setState(next: CallState, detail: Record<string, unknown> = {}): void {
    if (this.state === next || this.state === CallState.Ended) return
    const prev = this.state
    this.state = next
    this.log.info({ state: next, prev, anchor: this.anchor, ...detail }, `call ${prev} -> ${next}`)
    this.emit('state', next, prev)
  }

  /**
   * Report a result to the front-ends (asynchronously, in order). A result
   * after the final one is dropped: every request gets exactly one final.
   */
  report(code: number, leg: LegName, text: string): void {
    if (this.finalSent) return
    const final = code >= 300 || (leg === 'Destination' && code >= 200 && code < 300)
    if (final) this.finalSent = true
    const result: CallResult = { code, leg, text, final, at: Date.now() }
    this.results.push(result)
    this.log.info({ code, leg, final }, `result ${code} ${leg}: ${text}`)
    process.nextTick(() => this.emit('result', result))
  }

  /** Report ringing once per leg (phones may send 180 and 183). */
  reportRinging(leg: LegState, text: string): void {
    if (leg.ringingReported) return
    leg.ringingReported = true
    this.report(180, leg.name, text)
  }

  /** A timer that dies with the call. */
  timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    t.unref()
    this.timers.add(t)
    return t
  }

  clearTimer(t: NodeJS.Timeout | undefined): void {
    if (!t) return
    clearTimeout(t)
    this.timers.delete(t)
  }

  /** The call is over for the server: no leg left. Emits 'ended' once. */
  end(why: string): void {
    if (this.state === CallState.Ended) return
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.endedAt = Date.now()
    this.setState(CallState.Ended, { why, durationMs: this.endedAt - this.createdAt })
    this.emit('ended', why)
  }

  snapshot(): CallSnapshot {
    return {
      id: this.id,
      state: this.state,
      anchor: this.anchor,
      initiator: this.request.initiator,
      destination: this.request.destination,
      translatedInitiator: this.translatedInitiator,
      translatedDestination: this.translatedDestination,
      createdAt: this.createdAt,
      endedAt: this.endedAt ?? null,
      results: this.results.map((r) => ({ ...r })),
    }
  }

  isReportedFinalState(): boolean {
    return REPORTED_FINAL.has(this.state)
  }
}
