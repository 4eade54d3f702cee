/** The HTTP front-end: the original's pages, Basic and Digest (RFC 7616) authentication, /calls/<id>. */
export { createHttpFrontEnd, exposureWarning, type HttpFrontEnd, type HttpFrontEndOptions, type HttpReconfigurable } from './server'
export { httpSettingsOf, type HttpSettings } from './settings'
export { DigestAuth, parseAuthParams } from './digest'
export { escapeHtml } from './pages'
