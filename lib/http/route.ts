/**
 * What a route of the HTTP port is: methods, a path pattern, how it is
 * authorized and how its errors look, and the handler. The server runs the
 * checks common to every route (Host, Origin, authentication) before it.
 */
import type http from 'node:http'
import type { Logger } from 'pino'
import type { CallService } from '../call'
import type { CdrStore } from '../store'
import type { Answer } from './respond'
import type { HttpSettings } from './settings'

/** how refusals are written for this family of URLs */
export type ErrorStyle = 'html' | 'problem' | 'text' | 'sipxrest'

export interface RequestContext {
  req: http.IncomingMessage
  res: http.ServerResponse
  url: URL
  /** path parameters, by name */
  params: Record<string, string>
  remote: string
  /** the authenticated user (Digest/Basic), when there is one */
  user: string | undefined
  settings: HttpSettings
  calls: CallService
  /** call detail records; undefined when CdrDatabase is blank */
  cdr: CdrStore | undefined
  log: Logger
  /** counts one call placed from this address; false: over HttpRateLimit */
  takeCallSlot(): boolean
  /** the request body, read up to HttpMaxBodySize (rejects with an HttpProblem) */
  readBody(): Promise<Buffer>
  send(a: Answer): void
}

export interface Route {
  /** methods answered; HEAD is never implied */
  methods: string[]
  /** matched against the path; named groups become params */
  path: RegExp
  /** 'user': Digest/Basic when HttpAuth is on; 'token': the handler checks its own token; 'none' */
  auth: 'user' | 'token' | 'none'
  errors: ErrorStyle
  handle(ctx: RequestContext): void | Promise<void>
}
