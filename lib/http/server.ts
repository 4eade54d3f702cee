/**
 * The HTTP front-end: the original's /clicktocall.html and /index.html, a
 * JSON status endpoint /calls/<id>, Basic (the original's clients) and
 * Digest (RFC 7616) authentication, failure throttling. Answers at once;
 * the call goes on in the call layer.
 */
import http from 'node:http'
import os from 'node:os'
import type { Logger } from 'pino'
import type { CallService } from '../call'
import { BindError } from '../errors'
import { DigestAuth } from './digest'
import { checkBasic } from './basic'
import { FailureThrottle } from './throttle'
import { authFailedPage, clickToCallPage, indexPage, initiatingLine, requestLine, textLine } from './pages'

export interface HttpFrontEndOptions {
  calls: CallService
  port: number
  /** bind address; '' = all interfaces */
  host: string
  auth: boolean
  password: string
  /** accept Basic credentials (the original's clients send them) */
  basicAllowed: boolean
  /** Digest algorithms offered, in order (default SHA-256, MD5) */
  digestAlgorithms?: Array<'SHA-256' | 'MD5'>
  realm?: string
  nonceTtlMs?: number
  /** authentication failures from one address (in a minute) before it gets 429 for the rest of it */
  maxAuthFailures?: number
  version: string
  logger: Logger
}

export interface HttpFrontEnd {
  readonly port: number
  close(): Promise<void>
}

const USER = 'admin'

/** The loud warning for an HTTP port beyond loopback without authentication, if it applies. */
export function exposureWarning(host: string, auth: boolean): string | undefined {
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host)
  if (auth || loopback) return undefined
  return 'HTTP interface listens beyond loopback WITHOUT authentication: anyone who reaches it can place calls (set HttpAuth = enable)'
}

export async function createHttpFrontEnd(o: HttpFrontEndOptions): Promise<HttpFrontEnd> {
  const log = o.logger.child({ module: 'http' })
  const realm = o.realm ?? os.hostname()
  const digest = new DigestAuth({ realm, username: USER, password: o.password, nonceTtlMs: o.nonceTtlMs ?? 300_000, ...(o.digestAlgorithms ? { algorithms: o.digestAlgorithms } : {}) })
  const throttle = new FailureThrottle(o.maxAuthFailures ?? 5)

  const send = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string | string[]> = {}, type = 'text/html'): void => {
    const buf = Buffer.from(body, 'utf8')
    res.writeHead(status, {
      Server: `clicktocall ${o.version}`,
      'Mime-version': '1.0',
      Pragma: 'no-cache',
      'Content-Type': type,
      'Content-Length': String(buf.length),
      Connection: 'close',
      ...headers,
    })
    res.end(res.req.method === 'HEAD' ? undefined : buf)
  }

  /** true when the request may go on; otherwise the answer was sent */
  const authenticate = (req: http.IncomingMessage, res: http.ServerResponse, remote: string): boolean => {
    if (!o.auth) return true
    const wait = throttle.blockedFor(remote)
    if (wait > 0) {
      log.warn({ remote }, 'HTTP client refused after repeated authentication failures')
      send(res, 429, clickToCallPage([textLine('Too many failed attempts; try again later.')]), { 'Retry-After': String(wait) })
      return false
    }
    const header = req.headers.authorization ?? ''
    let verdict: { ok: boolean; stale?: boolean; username?: string | undefined; reason?: string; scheme: string }
    if (/^\s*Digest\s/i.test(header)) {
      const v = digest.verify(header, req.method ?? 'GET', req.url ?? '')
      verdict = { ...v, scheme: v.ok ? `Digest ${v.algorithm}` : 'Digest' }
    } else if (/^\s*Basic\s/i.test(header) && o.basicAllowed) {
      const v = checkBasic(header, USER, o.password)
      verdict = { ok: v.ok, username: v.username, scheme: 'Basic', reason: v.ok ? '' : 'wrong credentials' }
    } else {
      verdict = { ok: false, scheme: 'none', reason: header ? 'unsupported scheme' : 'no credentials' }
    }
    if (verdict.ok) {
      throttle.succeed(remote)
      log.debug({ remote, scheme: verdict.scheme }, 'HTTP client authenticated')
      res.setHeader('X-Auth-Scheme', verdict.scheme)
      return true
    }
    if (header && !verdict.stale) throttle.fail(remote)
    if (header) log.warn({ remote, user: verdict.username, scheme: verdict.scheme, reason: verdict.reason }, 'HTTP authentication failed')
    const challenges = digest.challenges(verdict.stale === true)
    if (o.basicAllowed) challenges.push(`Basic realm="${realm}"`)
    send(res, 401, authFailedPage(), { 'WWW-Authenticate': challenges })
    return false
  }

  const clickToCall = (url: URL, res: http.ServerResponse, remote: string): void => {
    const initiator = url.searchParams.get('initiator') ?? ''
    const destination = url.searchParams.get('destination') ?? ''
    const anchor = (url.searchParams.get('anchor') ?? '').toLowerCase() === 'true'
    const lines = [requestLine(initiator, destination, anchor)]
    if (!initiator || !destination) {
      lines.push(textLine('Missing initiator or destination URL parameters.'))
      send(res, 400, clickToCallPage(lines))
      return
    }
    const outcome = o.calls.start({ initiator, destination, anchor, origin: { frontEnd: 'http', remoteAddress: remote } })
    if (!outcome.ok) {
      lines.push(textLine(outcome.reason === 'no-translation' ? `${outcome.text}.` : outcome.text))
      send(res, outcome.code, clickToCallPage(lines))
      return
    }
    const call = outcome.call
    lines.push(initiatingLine(call.translatedInitiator, initiator, call.translatedDestination, destination, anchor))
    lines.push(`<p>Call id: <a href="/calls/${call.id}">${call.id}</a></p>`)
    log.info({ callId: call.id, remote }, 'HTTP request started a call')
    send(res, 200, clickToCallPage(lines), { 'X-Call-Id': call.id })
  }

  const server = http.createServer((req, res) => {
    const remote = req.socket.remoteAddress ?? ''
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, clickToCallPage([textLine('Method not allowed.')]), { Allow: 'GET, HEAD' })
        return
      }
      const url = new URL(req.url ?? '/', 'http://clicktocall.invalid')
      const path = url.pathname
      if (path === '/index.html') {
        send(res, 200, indexPage())
        return
      }
      if (path === '/clicktocall.html') {
        if (authenticate(req, res, remote)) clickToCall(url, res, remote)
        return
      }
      const status = /^\/calls\/([0-9a-zA-Z-]{1,64})$/.exec(path)
      if (status) {
        if (!authenticate(req, res, remote)) return
        const snap = o.calls.get(status[1]!)
        if (!snap) send(res, 404, JSON.stringify({ error: 'not found' }), {}, 'application/json')
        else send(res, 200, JSON.stringify(snap), {}, 'application/json')
        return
      }
      send(res, 301, '', { Location: '/index.html' })
    } catch (err) {
      log.warn({ err: (err as Error).message, remote }, 'bad HTTP request')
      if (!res.headersSent) send(res, 400, clickToCallPage([textLine('Bad request.')]))
    }
  })
  server.requestTimeout = 10_000
  server.headersTimeout = 10_000
  server.keepAliveTimeout = 1000
  server.maxHeadersCount = 64
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new BindError('HTTP requests', o.host, o.port, err)))
    server.listen(o.port, o.host === '' ? undefined : o.host, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'HTTP listener error'))
  const port = (server.address() as { port: number }).port
  const warning = exposureWarning(o.host, o.auth)
  if (warning) log.warn({ host: o.host || '*', port }, warning)
  log.info({ port, host: o.host || '*', auth: o.auth, basic: o.auth && o.basicAllowed }, 'HTTP interface listening')
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
