/** The HTTP front-end: the original's pages, Basic and Digest (RFC 7616) authentication, /calls/<id>. */
export { createHttpFrontEnd, type HttpFrontEnd, type HttpFrontEndOptions } from './server'
export { DigestAuth, parseAuthParams } from './digest'
export { escapeHtml } from './pages'
