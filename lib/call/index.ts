/** The call layer: Call objects, their flows and the registry. Knows nothing of XML or HTTP. */
export type {
  CallService,
  CallHandle,
  CallRequest,
  CallResult,
  CallSnapshot,
  LegName,
  StartOutcome,
  StartRefusal,
} from './api'
export { CallManager, type CallManagerOptions } from './service'
export { CallState } from './state'
export { Texts } from './texts'
export { parseSipUri } from './uri'
export { addressProblem, checkAddress, type AddressPolicy } from './address'
