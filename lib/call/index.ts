/** The call layer: Call objects, their flows, verbs and events, and the registry. Knows nothing of XML or HTTP. */
export type {
  CallService,
  CallHandle,
  CallRequest,
  CallResult,
  CallSnapshot,
  CallEvent,
  CallEventType,
  CallFilter,
  CallOrigin,
  CallTimes,
  CallMode,
  EndCause,
  EndedBy,
  FrontEnd,
  LegName,
  LegRole,
  LegSnapshot,
  LegStatus,
  StartOutcome,
  StartRefusal,
  VerbOutcome,
  VerbRefusalCode,
} from './api'
export { CallManager, type CallManagerOptions } from './service'
export { CallState, TRANSITIONS, isLegalTransition } from './state'
export { Texts } from './texts'
export { parseSipUri } from './uri'
export { callChannels, CALL_EVENT_TYPES } from './channels'
export { addressProblem, checkAddress, type AddressPolicy } from './address'
export { capacityRefusal, translateCall, type AdmissionPolicy, type Translated } from './admission'
export { invalidUriText, noTranslationText } from './texts'
