/**
 * The named states of a call and the one table of legal moves between them
 * (as SIP.js's stateTransition does: an illegal move is refused and logged).
 *
 *  Created -> CallingInitiator -> RingingInitiator -> InitiatorConnected
 *     unanchored:  -> Referring -> (RingingDestination) -> Transferred -> Ended
 *                  Referring --REFER refused--> CallingDestination (fallback)
 *     anchored:    -> CallingDestination -> RingingDestination -> Bridging -> Bridged
 *     bridged:     Bridged <-> Transferring (blind transfer, join) ; Bridged -> Ended
 *  any state before Bridged -> Failed (a final >= 300 result) -> Ended
 */
export enum CallState {
  Created = 'created',
  CallingInitiator = 'calling-initiator',
  RingingInitiator = 'ringing-initiator',
  InitiatorConnected = 'initiator-connected',
  Referring = 'referring',
  CallingDestination = 'calling-destination',
  RingingDestination = 'ringing-destination',
  Bridging = 'bridging',
  Bridged = 'bridged',
  Transferring = 'transferring',
  Transferred = 'transferred',
  Failed = 'failed',
  Ended = 'ended',
}

const S = CallState

/** state -> the states it may move to. Ended is reachable from everywhere. */
export const TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  [S.Created]: [S.CallingInitiator, S.Failed],
  [S.CallingInitiator]: [S.RingingInitiator, S.InitiatorConnected, S.Failed],
  [S.RingingInitiator]: [S.InitiatorConnected, S.Failed],
  [S.InitiatorConnected]: [S.Referring, S.CallingDestination, S.Failed],
  [S.Referring]: [S.RingingDestination, S.CallingDestination, S.Transferred, S.Failed],
  [S.CallingDestination]: [S.RingingDestination, S.Bridging, S.Failed],
  [S.RingingDestination]: [S.Bridging, S.Transferred, S.Failed],
  [S.Bridging]: [S.Bridged, S.Failed],
  [S.Bridged]: [S.Transferring],
  [S.Transferring]: [S.Bridged],
  [S.Transferred]: [],
  [S.Failed]: [],
  [S.Ended]: [],
}

/** true when `from -> to` is in the table (a move to Ended is always legal, except from Ended). */
export function isLegalTransition(from: CallState, to: CallState): boolean {
  if (to === S.Ended) return from !== S.Ended
  return TRANSITIONS[from].includes(to)
}

/** States after which the server has nothing more to report to the client. */
export const REPORTED_FINAL: ReadonlySet<CallState> = new Set<CallState>([
  S.Bridged,
  S.Transferring,
  S.Transferred,
  S.Failed,
  S.Ended,
])

/** States in which the call layer is working on the destination leg. */
export const ON_DESTINATION: ReadonlySet<CallState> = new Set<CallState>([
  S.InitiatorConnected,
  S.Referring,
  S.CallingDestination,
  S.RingingDestination,
  S.Bridging,
])
