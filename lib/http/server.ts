/**
 * The HTTP front-end: one listener, a table of routes (the original's pages,
 * /calls/<id>), and the checks every request passes first: connection caps,
 * Host names this server, no cross-site requests, authentication with a
 * per-(address, user) failure throttle, a per-address call rate limit.
 * Every answer closes its connection; reconfigure() applies new settings
 * (SIGHUP) to the next request.
 */
import http from 'node:http'
import os from 'node:os'
import type { Logger } from 'pino'
import type { CallService } from '../call'
import { BindError } from '../errors'
import { createConsole, handleConsole } from '../console'
import { RateLimiter } from '../xml'
import { Authenticator } from './auth'
import { readBody } from './body'
import { ConnectionSlots } from './connections'
import { corsHeaders, preflight } from './cors'
import { checkSite } from './hosts'
import { commandRoutes } from './command'
import { legacyRoutes } from './legacy'
import { authFailedPage } from './pages'
import { errorAnswer, HttpProblem } from './problem'
import { send, type Answer } from './respond'
import type { ErrorStyle, RequestContext, Route } from './route'
import { restRoutes } from './rest'
import type { CdrStore } from '../store'
import { DEFAULT_HTTP_SETTINGS, type HttpSettings } from './settings'
import { sipxrestRoutes } from './sipxrest'

export interface HttpFrontEndOptions extends Partial<HttpSettings> {
  calls: CallService
  /** call detail records, for GET /v1/cdr and the fallback of GET /v1/calls/{id} (absent: off) */
  cdr?: CdrStore | undefined
  port: number
  /** bind address; '' = all interfaces */
  host: string
  realm?: string
  nonceTtlMs?: number
  /** authentication failures of one (address, user) in a minute before it is throttled */
  maxAuthFailures?: number
  /** a connection without traffic this long is destroyed (default 15 s) */
  idleTimeoutMs?: number
  /** request headers must arrive within this (default 10 s) */
  headersTimeoutMs?: number
  /** after the server closes a connection, it is destroyed this long later at the latest (default 2 s) */
  closeGraceMs?: number
  version: string
  logger: Logger
}

export type HttpReconfigurable = Partial<HttpSettings>

export interface HttpFrontEnd {
  readonly port: number
  /** connections open now */
  readonly connections: number
  /** new settings (SIGHUP): password, HttpAuth, HttpAuthBasic, Digest algorithms, allowed hosts and origins, limits */
  reconfigure(settings: HttpReconfigurable): void
  close(): Promise<void>
}

/** The loud warning for an HTTP port beyond loopback without authentication, if it applies. */
export function exposureWarning(host: string, auth: boolean): string | undefined {
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host)
  if (auth || loopback) return undefined
  return 'HTTP interface listens beyond loopback WITHOUT authentication: anyone who reaches it can place calls (set HttpAuth = enable)'
}

function pick(o: Partial<HttpSettings>): Partial<HttpSettings> {
  const out: Partial<HttpSettings> = {}
  for (const k of Object.keys(DEFAULT_HTTP_SETTINGS) as Array<keyof HttpSettings>) {
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k]
  }
  return out
}

function decodeParams(groups: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(groups)) {
    try {
      out[k] = decodeURIComponent(v)
    } catch {
      throw new HttpProblem('bad-request', `${k}: bad percent-encoding`)
    }
  }
  return out
}

export async function createHttpFrontEnd(o: HttpFrontEndOptions): Promise<HttpFrontEnd> {
  const log = o.logger.child({ module: 'http' })
  let settings: HttpSettings = { ...DEFAULT_HTTP_SETTINGS, ...pick(o) }
  const current = (): HttpSettings => settings
  const realm = o.realm ?? os.hostname()
  const auth = new Authenticator(current, realm, o.nonceTtlMs ?? 300_000, o.maxAuthFailures ?? 5)
  const callRate = new RateLimiter(settings.rateLimit)
  // the web console (lib/console): behind the same checks and authentication as every page
  const webConsole = createConsole({ calls: o.calls, logger: log, version: o.version })
  const consoleRoute: Route = { methods: ['GET', 'HEAD'], path: /^\/console(\/|$)/, auth: 'user', errors: 'html', handle: (ctx) => void handleConsole(ctx.req, ctx.res, webConsole) }
  const routes: Route[] = [...restRoutes, ...sipxrestRoutes(), ...commandRoutes, ...legacyRoutes, consoleRoute]
  const slots = new ConnectionSlots(current, { idleMs: o.idleTimeoutMs ?? 15_000, closeGraceMs: o.closeGraceMs ?? 2000 }, (remote, why) =>
    log.warn({ remote, cap: why === 'total' ? 'HttpMaxConnections' : 'HttpMaxConnectionsPerAddress' }, 'HTTP connection refused: too many connections'),
  )

  const reply = (res: http.ServerResponse, a: Answer): void => send(res, o.version, a)

  const refuse = (res: http.ServerResponse, style: ErrorStyle, p: HttpProblem, path: string): void => {
    reply(res, errorAnswer(style, p, path))
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const remote = req.socket.remoteAddress ?? ''
    const s = settings
    const url = new URL(req.url ?? '/', 'http://clicktocall.invalid')
    const path = url.pathname
    const family = routes.filter((r) => r.path.test(path))
    const style: ErrorStyle = family[0]?.errors ?? (/^\/(v1|api)\//.test(path) ? 'problem' : 'html')
    const site = checkSite(req, { bindAddress: o.host, allowedHosts: s.allowedHosts, allowedOrigins: s.allowedOrigins })
    if (!site.ok) {
      log.warn({ remote, reason: site.reason }, 'HTTP request refused')
      refuse(res, style, new HttpProblem(site.status === 421 ? 'misdirected-request' : 'forbidden', site.reason), path)
      return
    }
    for (const [k, v] of Object.entries(corsHeaders(req))) res.setHeader(k, v)
    const pre = preflight(req)
    if (pre) {
      reply(res, pre)
      return
    }
    if (family.length === 0) {
      if (style === 'problem') refuse(res, style, new HttpProblem('not-found', `no such resource: ${path.slice(0, 200)}`), path)
      else reply(res, { status: 301, body: '', headers: { Location: '/index.html' } })
      return
    }
    const route = family.find((r) => r.methods.includes(req.method ?? ''))
    if (!route) {
      const allow = [...new Set(family.flatMap((r) => r.methods))].join(', ')
      refuse(res, style, new HttpProblem('method-not-allowed', `${req.method ?? ''} is not allowed here; use ${allow}`, {}, { Allow: allow }), path)
      return
    }
    let user: string | undefined
    if (route.auth === 'user') {
      const v = auth.check(req, remote)
      if (!v.ok) {
        if (v.status === 429) {
          log.warn({ remote, user: v.user }, 'HTTP client refused after repeated authentication failures')
          refuse(res, route.errors, new HttpProblem('too-many-requests', 'Too many failed attempts; try again later.', {}, { 'Retry-After': String(v.retryAfterS) }), path)
          return
        }
        if (req.headers.authorization) log.warn({ remote, user: v.user, reason: v.reason }, 'HTTP authentication failed')
        const p = new HttpProblem('unauthorized', 'Authentication required.', {}, { 'WWW-Authenticate': v.challenges })
        if (route.errors === 'html') reply(res, { status: 401, body: authFailedPage(), headers: p.headers })
        else refuse(res, route.errors, p, path)
        return
      }
      if (v.scheme !== 'none') res.setHeader('X-Auth-Scheme', v.scheme)
      user = v.user
    }
    const ctx: RequestContext = {
      req,
      res,
      url,
      params: decodeParams(route.path.exec(path)?.groups ?? {}),
      remote,
      user,
      settings: s,
      calls: o.calls,
      cdr: o.cdr,
      log,
      takeCallSlot: () => callRate.take(remote),
      readBody: () => readBody(req, s.maxBodySize),
      send: (a) => reply(res, a),
    }
    await route.handle(ctx)
  }

  const headersTimeoutMs = o.headersTimeoutMs ?? 10_000
  // node checks the header timeout this often (its default, 30 s, would triple the bound)
  const server = http.createServer({ requireHostHeader: false, connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeoutMs / 4)) }, (req, res) => {
    // node ends the socket after the answer (Connection: close) and destroys it once the answer is
    // flushed; a client that does not read it is cut by the idle timeout (no progress for idleMs)
    handle(req, res).catch((err: unknown) => {
      const remote = req.socket.remoteAddress ?? ''
      const style: ErrorStyle = /^\/(v1|api)\//.test(req.url ?? '') ? 'problem' : 'html'
      if (err instanceof HttpProblem) {
        if (err.status >= 500 || err.status === 413 || err.status === 429) log.warn({ remote, status: err.status, detail: err.detail }, 'HTTP request refused')
        // the instance is the path: the query may hold a token (AuthToken=)
        const pathname = new URL(req.url ?? '/', 'http://clicktocall.invalid').pathname
        const route = routes.find((r) => r.path.test(pathname))
        reply(res, errorAnswer(route?.errors ?? style, err, pathname))
        if (err.status === 413) slots.destroyLater(req.socket)
        return
      }
      log.warn({ err: (err as Error).message, remote }, 'bad HTTP request')
      reply(res, errorAnswer(style, new HttpProblem('bad-request', 'Bad request.')))
    })
  })
  server.requestTimeout = headersTimeoutMs
  server.headersTimeout = headersTimeoutMs
  server.keepAliveTimeout = 1000
  server.maxHeadersCount = 64
  server.on('connection', (socket) => slots.admit(socket))
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    // a client that ignores the FIN does not keep its slot
    slots.destroyLater(socket as import('node:net').Socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new BindError('HTTP requests', o.host, o.port, err)))
    server.listen(o.port, o.host === '' ? undefined : o.host, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'HTTP listener error'))
  const port = (server.address() as { port: number }).port
  const warning = exposureWarning(o.host, settings.auth)
  if (warning) log.warn({ host: o.host || '*', port }, warning)
  log.info({ port, host: o.host || '*', auth: settings.auth, basic: settings.auth && settings.basicAllowed }, 'HTTP interface listening')
  return {
    port,
    get connections() {
      return slots.open
    },
    reconfigure(next: HttpReconfigurable): void {
      settings = { ...settings, ...pick(next) }
      callRate.perMinute = settings.rateLimit
      const w = exposureWarning(o.host, settings.auth)
      if (w) log.warn({ host: o.host || '*', port }, w)
      log.info({ auth: settings.auth, basic: settings.auth && settings.basicAllowed, allowedHosts: settings.allowedHosts, allowedOrigins: settings.allowedOrigins }, 'HTTP settings reloaded')
    },
    close: () =>
      new Promise<void>((resolve) => {
        webConsole.close()
        server.close(() => resolve())
        server.closeAllConnections()
        slots.destroyAll()
      }),
  }
}
