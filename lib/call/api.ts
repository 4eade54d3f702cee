/**
 * The public surface of the call layer, as the front-ends see it.
 *
 * Contract between lib/call (implements it) and the front-ends lib/xml and
 * lib/http (which use it). The call layer knows nothing of XML or HTTP.
 */
import type { EventEmitter } from 'node:events'

/** The original's leg names, as written in `Leg="..."`. */
export type LegName = 'Initiator' | 'Destination'

export interface CallRequest {
  /** the address as given by the client (before translation) */
  initiator: string
  destination: string
  /** true: anchored (B2BUA); false: REFER, falling back to anchored */
  anchor: boolean
  /** who asked, for logs and limits */
  origin: { frontEnd: 'xml' | 'http' | 'json'; remoteAddress: string }
}

/**
 * One coded result, as the original streams them:
 * 100 (no leg, with the translated addresses), 180/200 Initiator,
 * 180/200 Destination, or >= 300 on a leg on failure.
 */
export interface CallResult {
  code: number
  leg?: LegName
  /** the original's text, e.g. `Ringing initiator` */
  text: string
  /** final: code >= 300, or a 2xx on the Destination leg */
  final: boolean
  /** only on the first result (100 In progress) */
  translatedInitiator?: string
  translatedDestination?: string
  /** Date.now() when it happened */
  at: number
}

/** Why a request was refused before any call existed (all code 400 in the original). */
export type StartRefusal =
  | { ok: false; reason: 'no-translation'; code: 400; text: string; initiator: string; destination: string }
  | {
      ok: false
      reason: 'invalid-uri'
      code: 400
      text: string
      initiator: string
      destination: string
      translatedInitiator: string
      translatedDestination: string
    }
  | { ok: false; reason: 'overloaded'; code: 503; text: string }

export type StartOutcome = { ok: true; call: CallHandle } | StartRefusal

export interface CallSnapshot {
  id: string
  state: string
  anchor: boolean
  initiator: string
  destination: string
  translatedInitiator: string
  translatedDestination: string
  createdAt: number
  /** null while the call lives */
  endedAt: number | null
  results: CallResult[]
}

export interface CallHandle extends EventEmitter {
  readonly id: string
  /** results so far, oldest first; the 100 `In progress` is already here when start() returns */
  readonly results: readonly CallResult[]
  readonly translatedInitiator: string
  readonly translatedDestination: string
  snapshot(): CallSnapshot
  /** each later result, asynchronously, in order; the last one has final=true */
  on(event: 'result', listener: (result: CallResult) => void): this
  off(event: 'result', listener: (result: CallResult) => void): this
}

export interface CallService {
  /**
   * Translate both addresses and start the call. On success the returned
   * call's `results` holds the 100 `In progress`; render it, then listen for
   * 'result'. Refusals carry the original's 400 text (e.g.
   * `No translation rule for either initiator X or destination Y`).
   */
  start(request: CallRequest): StartOutcome
  /** a live call, or an ended one kept for ResultCacheTime */
  get(id: string): CallSnapshot | undefined
}
