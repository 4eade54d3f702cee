/**
 * CORS for the pages of an allowed origin (HttpAllowedOrigins, or this
 * server's own): a preflight (OPTIONS with Access-Control-Request-Method)
 * is answered without authentication, and answers carry
 * Access-Control-Allow-Origin for that origin, so a web CRM can call the
 * REST API with fetch(). Other sites never get here: the site check
 * refused them (403) before.
 */
import type http from 'node:http'
import type { Answer } from './respond'

const METHODS = 'GET, HEAD, POST, DELETE'
const HEADERS = 'Authorization, Content-Type'
const EXPOSED = 'Location, X-Call-Id, WWW-Authenticate, Retry-After'

/** headers for an answer to a request that the site check let through */
export function corsHeaders(req: http.IncomingMessage): Record<string, string> {
  const origin = req.headers.origin
  if (origin === undefined || origin === 'null') return {}
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': EXPOSED, Vary: 'Origin' }
}

/** the answer to a preflight, or undefined when the request is not one */
export function preflight(req: http.IncomingMessage): Answer | undefined {
  if (req.method !== 'OPTIONS' || req.headers.origin === undefined || req.headers['access-control-request-method'] === undefined) return undefined
  return {
    status: 204,
    body: '',
    headers: { ...corsHeaders(req), 'Access-Control-Allow-Methods': METHODS, 'Access-Control-Allow-Headers': HEADERS, 'Access-Control-Max-Age': '600' },
  }
}
