/** The XML-over-TCP front-end: framing, parsing and result documents as the original, on the call layer. */
export { createXmlFrontEnd, addressKey, answeredChannel, type XmlAnswered, type XmlFrontEnd, type XmlFrontEndOptions } from './server'
export { createXmlFrontEndThread, type XmlThreadFrontEnd, type XmlThreadOptions } from './thread'
export type { AdmissionData } from './thread-protocol'
export { RequestFramer } from './framer'
export { parseRequest } from './request'
export { renderResult, escapeXml } from './render'
export { RateLimiter } from './rate'
