/**
 * The named states of a click-to-call (one enum per session, as SIP.js does).
 *
 *  Created -> CallingInitiator -> RingingInitiator -> InitiatorConnected
 *     unanchored:  -> Referring -> (RingingDestination) -> Transferred
 *                  Referring --REFER refused--> CallingDestination (fallback)
 *     anchored:    -> CallingDestination -> RingingDestination -> Bridging -> Bridged -> Ended
 *  any state -> Failed (a final >= 300 result) ; Bridged/Transferred/Failed -> Ended
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
  Transferred = 'transferred',
  Failed = 'failed',
  Ended = 'ended',
}

/** States after which the server has nothing more to report to the client. */
export const REPORTED_FINAL = new Set<CallState>([
  CallState.Bridged,
  CallState.Transferred,
  CallState.Failed,
  CallState.Ended,
])
