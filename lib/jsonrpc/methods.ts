/** The method table: call-api's names (both spellings of CallUnhold) and ours. */
import type { Handler } from './command'
import { callStart } from './start'
import { callAttendedTransfer, callBlindTransfer, callEnd, callHold, callUnhold } from './verbs'
import { callList, callStatus, subscribe, unsubscribe } from './queries'

export const METHODS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['CallStart', callStart],
  ['CallEnd', callEnd],
  ['CallHold', callHold],
  ['CallUnhold', callUnhold],
  ['CallUnHold', callUnhold],
  ['CallBlindTransfer', callBlindTransfer],
  ['CallAttendedTransfer', callAttendedTransfer],
  ['CallStatus', callStatus],
  ['CallList', callList],
  ['Subscribe', subscribe],
  ['Unsubscribe', unsubscribe],
])
