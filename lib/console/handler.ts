/**
 * The console's requests under /console: the page, its style sheet and
 * script (cache-validated by ETag), and the event stream. The HTTP front-end
 * calls handleConsole() after its own checks (Host, Origin, authentication).
 */
import type http from 'node:http'
import type { Logger } from 'pino'
import type { CallService } from '../call'
import { Assets } from './assets'
import { consoleHeaders } from './headers'
import { RecentCalls } from './recent'
import { DEFAULT_STREAM_LIMITS, EventStreams, type StreamCounters, type StreamLimits } from './stream'

export interface ConsoleOptions {
  calls: CallService
  logger: Logger
  version: string
  limits?: Partial<StreamLimits>
  /** ended calls remembered for the history when no CDR store answers */
  recentSize?: number
  /** package root holding web/ and dist/ (default: found from this file) */
  root?: string
}

export interface ConsoleContext {
  readonly streams: EventStreams
  readonly assets: Assets
  readonly headers: Record<string, string>
  readonly log: Logger
  /** stream counters (open, refused, dropped, messages) */
  readonly counters: StreamCounters
  close(): void
}

export function createConsole(o: ConsoleOptions): ConsoleContext {
  const log = o.logger.child({ module: 'console' })
  const headers = consoleHeaders(o.version)
  const streams = new EventStreams(o.calls, new RecentCalls(o.recentSize ?? 50), { ...DEFAULT_STREAM_LIMITS, ...o.limits }, headers, log)
  return {
    streams,
    assets: new Assets(o.root),
    headers,
    log,
    counters: streams.counters,
    close: () => streams.close(),
  }
}

/** true for the paths the console answers (/console and everything under /console/) */
export function isConsolePath(path: string): boolean {
  return path === '/console' || path.startsWith('/console/')
}

function answer(req: http.IncomingMessage, res: http.ServerResponse, ctx: ConsoleContext, status: number, body: string | Buffer, headers: Record<string, string>): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  res.writeHead(status, { ...ctx.headers, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'close', ...headers, 'Content-Length': String(buf.length) })
  res.end(req.method === 'HEAD' ? undefined : buf)
}

/** Answer a console request; false (nothing sent) when the path is not the console's. */
export function handleConsole(req: http.IncomingMessage, res: http.ServerResponse, ctx: ConsoleContext): boolean {
  const path = new URL(req.url ?? '/', 'http://clicktocall.invalid').pathname
  if (!isConsolePath(path)) return false
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    answer(req, res, ctx, 405, 'Method not allowed.\n', { Allow: 'GET, HEAD' })
    return true
  }
  if (path === '/console') {
    answer(req, res, ctx, 301, '', { Location: '/console/' })
    return true
  }
  if (path === '/console/events') {
    ctx.streams.open(req, res, req.socket.remoteAddress ?? '')
    return true
  }
  if (!ctx.assets.has(path)) {
    answer(req, res, ctx, 404, 'Not found.\n', {})
    return true
  }
  const asset = ctx.assets.get(path)
  if (!asset) {
    ctx.log.error({ file: ctx.assets.where(path) }, 'console file missing (was `npm run build` run?)')
    answer(req, res, ctx, 503, 'The console is not built on this server (npm run build).\n', {})
    return true
  }
  // private: behind authentication; no-cache: revalidated by ETag each time, so an upgrade shows at once
  const cache = { 'Cache-Control': 'private, no-cache', ETag: asset.etag }
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { ...ctx.headers, ...cache, Connection: 'close' })
    res.end()
    return true
  }
  answer(req, res, ctx, 200, asset.body, { ...cache, 'Content-Type': asset.type })
  return true
}
