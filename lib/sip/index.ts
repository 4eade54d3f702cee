/** The SIP layer: transports, transactions, dialogs, INVITE/CANCEL/BYE/re-INVITE/REFER. Knows nothing of calls. */
export type * from './api'
export { createSipStack } from './stack'
export { parseSipfrag } from './refer'
export { messageChannel, type MessageTrace } from './transport'
export { checkSipUri, type SipUriParts } from './uri'
export { randomToken } from './message'
export { loadTlsFiles, type TlsFiles } from './tls-files'
