/**
 * The public surface of the call layer, as the front-ends see it.
 *
 * Contract between lib/call (implements it) and the front-ends lib/xml,
 * lib/http, lib/jsonrpc, lib/events (which use it). The call layer knows
 * nothing of XML, HTTP, JSON or webhooks.
 *
 * Two streams come out of a call:
 *  - `result`: the original's coded result documents (100, 180/200 per leg,
 *    >= 300 on failure), ending with exactly one final result. The XML and
 *    HTTP front-ends render these byte for byte.
 *  - `event`: typed CallEvents for every change, going on until the call
 *    ends (`ended` is always the last one). New front-ends use these.
 */
import type { EventEmitter } from 'node:events'

/** The original's leg names, as written in `Leg="..."`. */
export type LegName = 'Initiator' | 'Destination'

/** A leg of a call, as the verbs and events name it. */
export type LegRole = 'initiator' | 'destination'

export type FrontEnd = 'xml' | 'http' | 'json' | 'rest' | 'sipxrest' | 'command' | 'console'

export interface CallOrigin {
  frontEnd: FrontEnd
  remoteAddress: string
  /** authenticated user, when the front-end knows one */
  user?: string
}

export interface CallRequest {
  /** the address as given by the client (before translation) */
  initiator: string
  destination: string
  /** true: anchored (B2BUA); false: REFER, falling back to anchored */
  anchor: boolean
  /** who asked, for logs, limits and call detail records */
  origin: CallOrigin
  /** client-chosen idempotency id (OnSIP's call-setup-id); searchable */
  setupId?: string
  /** `Subject` header of the INVITE to the initiator */
  subject?: string
  /** ring time of the INVITE to the initiator, ms (default: InitiatorRingTimeout) */
  initiatorRingTimeoutMs?: number
  /** false: a 3xx to the initiator's INVITE is a failure, not followed (default: as today) */
  forwardingAllowed?: boolean
  /**
   * identity the server masquerades as toward the initiator (From of its INVITE)
   * and in `Referred-By`; default ClickToCallIdentity. A SIP URI.
   */
  identity?: string
  /**
   * the addresses already through the translation rules: the XML thread
   * translates before it writes its 100 (lib/xml/thread.ts). Used as they
   * are; the URI check still applies. Not for client input.
   */
  translated?: { initiator: string; destination: string }
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

export type StartOutcome = { ok: true; call: CallHandle; existing?: boolean } | StartRefusal

/** Who ended a call. */
export type EndedBy = 'initiator' | 'destination' | 'server' | 'api' | 'timeout'

/**
 * How a call ended:
 * - `completed`: both parties talked (bridged, or the REFER succeeded) and someone hung up / handed off
 * - `busy`, `no-answer`, `rejected`, `failed`: a leg never answered (486/600, 408/480/487 by timeout, 403/603, other)
 * - `cancelled`: ended by the API or shutdown before it was up
 * - `joined`: its remaining party went into another call (attended transfer)
 */
export type EndCause = 'completed' | 'busy' | 'no-answer' | 'rejected' | 'failed' | 'cancelled' | 'joined'

export type LegStatus = 'idle' | 'calling' | 'ringing' | 'answered' | 'ended'

export interface LegSnapshot {
  role: LegRole
  /** the translated address this leg was placed to (after a transfer: the target) */
  uri: string
  status: LegStatus
  /** SIP Call-ID of the server's dialog on this leg (once the INVITE went out) */
  sipCallId: string | null
  /** held by the server (hold verb); the media direction the phone was sent */
  held: boolean
  /** final SIP status of this leg's INVITE (200 when answered), null while pending */
  code: number | null
  answeredAt: number | null
  endedAt: number | null
}

export interface CallTimes {
  createdAt: number
  /** initiator answered */
  initiatorAnsweredAt: number | null
  /** destination answered (anchored) or the REFER's 2xx NOTIFY (unanchored) */
  destinationAnsweredAt: number | null
  /** both parties connected: the bridge was completed or the referral succeeded */
  bridgedAt: number | null
  endedAt: number | null
}

export type CallMode = 'anchored' | 'refer' | 'refer-fallback'

export interface CallSnapshot {
  id: string
  setupId: string | null
  state: string
  anchor: boolean
  mode: CallMode
  origin: CallOrigin
  initiator: string
  destination: string
  translatedInitiator: string
  translatedDestination: string
  createdAt: number
  /** null while the call lives */
  endedAt: number | null
  results: CallResult[]
  legs: { initiator: LegSnapshot; destination: LegSnapshot }
  times: CallTimes
  holds: number
  transfers: number
  /** set once ended */
  cause: EndCause | null
  endedBy: EndedBy | null
  /** the SIP code of the outcome: 200 when connected, else the failing leg's code */
  code: number | null
}

/** Every typed event carries these. `seq` counts from 1 per call. */
interface EventBase {
  callId: string
  setupId: string | null
  seq: number
  at: number
}

export type CallEvent = EventBase &
  (
    | { type: 'created'; initiator: string; destination: string; translatedInitiator: string; translatedDestination: string; anchor: boolean; origin: CallOrigin }
    | { type: 'ringing'; leg: LegRole; status: number }
    | { type: 'answered'; leg: LegRole }
    /** REFER sent to the initiator (unanchored) */
    | { type: 'referring'; target: string }
    /** the REFER was refused: going on anchored */
    | { type: 'fallback'; status: number }
    /** the two parties are connected (anchored bridge complete, or REFER succeeded) */
    | { type: 'bridged' }
    | { type: 'held'; leg: LegRole; by: EndedBy }
    | { type: 'resumed'; leg: LegRole; by: EndedBy }
    /** a blind transfer started: `leg`'s party is being connected to `target` */
    | { type: 'transferring'; leg: LegRole; target: string }
    /** a blind transfer ended; ok=false: the call is as before (status: the target's SIP code) */
    | { type: 'transferred'; leg: LegRole; target: string; ok: boolean; status: number }
    /** attended transfer: `leg` of this call now talks to `otherLeg` of `otherCallId`, which ended */
    | { type: 'joined'; leg: LegRole; otherCallId: string; otherLeg: LegRole; ok: boolean; status: number }
    /** the original's coded result, as the XML/HTTP front-ends render it */
    | { type: 'result'; result: CallResult }
    | { type: 'state'; state: string; prev: string }
    | { type: 'ended'; cause: EndCause; endedBy: EndedBy; code: number; reason: string; times: CallTimes }
  )

export type CallEventType = CallEvent['type']

/** Why a verb could not apply. Never an exception. */
export type VerbRefusalCode =
  | 'unknown-call' // no such call (id, setup id or SIP Call-ID)
  | 'call-ended' // the call has ended
  | 'not-in-call' // the server is no longer in the call (REFER-mode after the transfer)
  | 'leg-not-answered' // the named leg has no confirmed dialog
  | 'bad-state' // another verb is in progress, or the call is still being set up
  | 'bad-argument' // unknown leg name, invalid target, join with itself
  | 'no-translation' // the transfer target matched no rule / is not a SIP URI
  | 'sip-failed' // the phone refused (status gives its SIP code)

export type VerbOutcome = { ok: true } | { ok: false; code: VerbRefusalCode; message: string; status?: number }

export interface CallHandle extends EventEmitter {
  readonly id: string
  readonly setupId: string | undefined
  /** results so far, oldest first; the 100 `In progress` is already here when start() returns */
  readonly results: readonly CallResult[]
  readonly translatedInitiator: string
  readonly translatedDestination: string
  /** current state name */
  readonly stateName: string
  readonly ended: boolean
  snapshot(): CallSnapshot
  /** typed events so far (bounded history, oldest first) */
  readonly events: readonly CallEvent[]

  /** CANCEL what rings, BYE what is up; each leg exactly once */
  end(): Promise<VerbOutcome>
  /** re-INVITE the named leg (or both) with a=sendonly / a=inactive */
  hold(leg?: LegRole): Promise<VerbOutcome>
  unhold(leg?: LegRole): Promise<VerbOutcome>
  /** blind: the party on `leg` ends up talking to `target` (translated); the other party is released */
  transfer(leg: LegRole, target: string): Promise<VerbOutcome>
  /** attended: `leg` of this call talks to `otherLeg` of `other`; the two remaining parties are released */
  join(leg: LegRole, other: CallHandle | string, otherLeg: LegRole): Promise<VerbOutcome>

  /** each later result, asynchronously, in order; the last one has final=true */
  on(event: 'result', listener: (result: CallResult) => void): this
  off(event: 'result', listener: (result: CallResult) => void): this
  /** each typed event, synchronously in order; `ended` is the last */
  on(event: 'event', listener: (event: CallEvent) => void): this
  off(event: 'event', listener: (event: CallEvent) => void): this
}

export interface CallFilter {
  state?: string
  initiator?: string
  destination?: string
  setupId?: string
}

export interface CallService {
  /**
   * Translate both addresses and start the call. On success the returned
   * call's `results` holds the 100 `In progress`; render it, then listen for
   * 'result'. Refusals carry the original's 400 text (e.g.
   * `No translation rule for either initiator X or destination Y`).
   * With a `setupId` that names a call still live or kept for ResultCacheTime,
   * that call is returned (`existing: true`) and no new one starts.
   */
  start(request: CallRequest): StartOutcome
  /** a live call, or an ended one kept for ResultCacheTime */
  get(id: string): CallSnapshot | undefined
  /** a live call by our id, its setup id, or either leg's SIP Call-ID */
  find(key: string): CallHandle | undefined
  /** an ended call kept for ResultCacheTime, or a live one, by setup id */
  findBySetupId(setupId: string): CallSnapshot | undefined
  /** live calls */
  list(filter?: CallFilter): CallSnapshot[]
  /** every event of every call, from now on; returns the unsubscribe function */
  subscribe(listener: (event: CallEvent) => void): () => void
}
