/**
 * The HTTP front-end: the original's pages, Basic and Digest (RFC 7616)
 * authentication, /calls/<id>, the JSON REST API under /v1, sipXrest's call
 * controller URL and Auerswald-style command URLs, on one listener.
 */
export { createHttpFrontEnd, exposureWarning, type HttpFrontEnd, type HttpFrontEndOptions, type HttpReconfigurable } from './server'
export { httpSettingsOf, type HttpSettings } from './settings'
export { DigestAuth, parseAuthParams } from './digest'
export { escapeHtml } from './pages'
export { openApiDocument } from './openapi'
export type { CallJson } from './call-json'
