/**
 * The web console's server side with real clients: its files over curl with
 * Digest (headers: CSP, nosniff, ETag revalidation; no inline script, no
 * HTML insertion in the script), and its event stream over raw sockets: the
 * hello snapshot, a real anchored call between two sipp phones seen event by
 * event (ringing, answered, bridged, held, ended), the recent list, the
 * stream caps (total and per address, 503), heartbeats, and a reader that
 * stops reading being dropped while a reading one gets every message.
 */
import tap, { type Test } from 'tap'
const t = tap
import { execFile } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import pino from 'pino'
import type { CallEvent, CallService } from '../lib/call'
import { createConsole, handleConsole, type ConsoleContext, type StreamLimits } from '../lib/console'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp } from './helpers/sipp'
import { openSse, type SseMessage } from './helpers/sse'

const PW = 'console pw'
const SIPP = path.join(__dirname, 'sipp')

interface CurlResult {
  status: number
  headers: string
  body: string
}

async function curl(args: string[]): Promise<CurlResult> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile('curl', ['-s', '-S', '-i', '--max-time', '10', ...args], { encoding: 'utf8' }, (err, stdout) => (err && !stdout ? reject(err) : resolve(stdout))),
  )
  const parts = out.split(/\r\n\r\n(?=HTTP\/)/)
  const last = parts[parts.length - 1]!
  const sep = last.indexOf('\r\n\r\n')
  const headers = sep < 0 ? last : last.slice(0, sep)
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1] ?? 0), headers, body: sep < 0 ? '' : last.slice(sep + 4) }
}

function header(r: CurlResult, name: string): string {
  return new RegExp(`^${name}: (.*)$`, 'im').exec(r.headers)?.[1]?.trim() ?? ''
}

interface Snap {
  id: string
  endedAt: number | null
  cause: string | null
  legs: { initiator: { status: string; held: boolean }; destination: { status: string; held: boolean } }
  times: { bridgedAt: number | null }
  results?: unknown
}
interface Hello {
  now: number
  heartbeatMs: number
  calls: Snap[]
  recent: Snap[]
}
interface CallMsg {
  event: { type: string; callId: string; leg?: string }
  call: Snap | null
}

const hello = (m: SseMessage): Hello => JSON.parse(m.data) as Hello
const callMsg = (m: SseMessage): CallMsg => JSON.parse(m.data) as CallMsg
const isCall = (id: string, type: string) => (m: SseMessage): boolean => m.event === 'call' && callMsg(m).event.callId === id && callMsg(m).event.type === type

/** a console on its own listener, over the given call service, with small limits */
async function ownConsole(t: Test, calls: CallService, limits: Partial<StreamLimits>): Promise<{ port: number; ctx: ConsoleContext }> {
  const ctx = createConsole({ calls, logger: pino({ level: 'silent' }), version: 'test', limits })
  const server = http.createServer((req, res) => {
    if (!handleConsole(req, res, ctx)) {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        ctx.close()
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return { port: (server.address() as { port: number }).port, ctx }
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('console files: Digest, security headers, ETag, no inline script, no HTML insertion', async (t) => {
  const s = await startTestServer({ httpAuth: true, httpAuthPwd: PW, httpPort: 5095 })
  t.teardown(() => s.close())
  const base = `http://127.0.0.1:${s.httpPort}`

  const anon = await curl([`${base}/console/`])
  t.equal(anon.status, 401, 'no credentials: 401')
  t.match(anon.headers, /WWW-Authenticate: Digest /i)
  t.equal((await curl([`${base}/console/events`])).status, 401, 'the event stream needs credentials too')

  const page = await curl(['--digest', '-u', `admin:${PW}`, `${base}/console/`])
  t.equal(page.status, 200)
  t.match(header(page, 'Content-Type'), /^text\/html; charset=utf-8/)
  t.match(header(page, 'Content-Security-Policy'), /^default-src 'self'(;|$)/)
  t.notMatch(header(page, 'Content-Security-Policy'), /unsafe-inline|unsafe-eval|\*/, 'no unsafe source in the policy')
  t.equal(header(page, 'X-Content-Type-Options'), 'nosniff')
  t.equal(header(page, 'X-Frame-Options'), 'DENY')
  t.equal(header(page, 'Cache-Control'), 'private, no-cache')
  const etag = header(page, 'ETag')
  t.match(etag, /^"[\w-]{10,}"$/)
  // no inline script, no inline handler or style, nothing from elsewhere
  const scripts = [...page.body.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)]
  t.equal(scripts.length, 1)
  t.match(scripts[0]![0], /src="console\.js"/)
  t.equal(scripts[0]![1], '', 'the script element is empty')
  t.notMatch(page.body, /\son\w+\s*=/i, 'no on* attribute')
  t.notMatch(page.body, /\sstyle\s*=/i, 'no style attribute')
  t.notMatch(page.body, /(src|href)="(https?:)?\/\//i, 'nothing loaded from another origin')
  t.match(page.body, /name="viewport" content="width=device-width/, 'phone width: a viewport')

  const again = await curl(['--digest', '-u', `admin:${PW}`, '-H', `If-None-Match: ${etag}`, `${base}/console/`])
  t.equal(again.status, 304, 'revalidated by ETag')
  t.equal(again.body, '')

  const js = await curl(['--digest', '-u', `admin:${PW}`, `${base}/console/console.js`])
  t.equal(js.status, 200, 'the compiled script is served (npm run build)')
  t.match(header(js, 'Content-Type'), /^text\/javascript/)
  t.match(header(js, 'Content-Security-Policy'), /default-src 'self'/)
  t.match(js.body, /textContent/)
  t.notMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, 'the script never inserts markup or evaluates text')
  t.notMatch(js.body, /https?:\/\//, 'no absolute URL in the script')

  const css = await curl(['--digest', '-u', `admin:${PW}`, `${base}/console/console.css`])
  t.equal(css.status, 200)
  t.match(header(css, 'Content-Type'), /^text\/css/)
  t.match(css.body, /@media \(max-width/, 'a phone-width layout')

  const bare = await curl(['--digest', '-u', `admin:${PW}`, `${base}/console`])
  t.equal(bare.status, 301)
  t.equal(header(bare, 'Location'), '/console/')
  const missing = await curl(['--digest', '-u', `admin:${PW}`, `${base}/console/secret.txt`])
  t.equal(missing.status, 404)
  t.match(header(missing, 'X-Content-Type-Options'), 'nosniff')
  const other = await curl(['--digest', '-u', `admin:${PW}`, `${base}/consolex`])
  t.equal(other.status, 301, 'a path that only starts like the console is not the console')
  t.equal(header(other, 'Location'), '/index.html')
})

t.test('event stream: hello, a real anchored call between two sipp phones, hold, end, recent', { skip: !sippAvailable() && process.env.CI !== 'true' && 'sipp not installed' }, async (t) => {
  const s = await startTestServer({ httpAuth: false, httpPort: 5095, resultCacheTime: 60 })
  t.teardown(() => s.close())
  const alice = await startSipp({ scenario: path.join(SIPP, 'destination.xml'), args: ['-d', '3600000'] })
  const bob = await startSipp({ scenario: path.join(SIPP, 'destination.xml'), args: ['-d', '3600000'] })
  t.teardown(() => {
    alice.kill()
    bob.kill()
  })

  const sse = await openSse({ port: s.httpPort })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)
  t.match(sse.headers['content-type'], /^text\/event-stream/)
  t.equal(sse.headers['cache-control'], 'no-store')
  t.match(sse.headers['content-security-policy'], /default-src 'self'/)
  const h0 = hello(await sse.next((m) => m.event === 'hello', 5000, 'hello'))
  t.same(h0.calls, [], 'no call yet')
  t.ok(Math.abs(h0.now - Date.now()) < 5000, 'the server clock')
  t.equal(h0.heartbeatMs, 10_000)

  const out = s.server.calls.start({ initiator: alice.uri('alice'), destination: bob.uri('bob'), anchor: true, origin: { frontEnd: 'console', remoteAddress: '127.0.0.1' } })
  if (!out.ok) throw new Error(out.text)
  const id = out.call.id
  const created = callMsg(await sse.next(isCall(id, 'created'), 5000, 'created'))
  t.equal(created.call?.id, id)
  t.equal(created.call?.results, undefined, 'the original\'s result documents are not sent')
  const ringing = callMsg(await sse.next(isCall(id, 'ringing'), 5000, 'ringing'))
  t.equal(ringing.event.leg, 'initiator')
  t.equal(ringing.call?.legs.initiator.status, 'ringing')
  const bridged = callMsg(await sse.next(isCall(id, 'bridged'), 10_000, 'bridged'))
  t.equal(bridged.call?.legs.initiator.status, 'answered')
  t.equal(bridged.call?.legs.destination.status, 'answered')
  t.ok(bridged.call?.times.bridgedAt, 'bridged time')
  t.notOk(sse.messages.some((m) => m.event === 'call' && callMsg(m).event.type === 'result'), 'no result events')

  // a second stream opened now starts with the call in its hello
  const late = await openSse({ port: s.httpPort })
  t.teardown(() => late.close())
  const h1 = hello(await late.next((m) => m.event === 'hello', 5000, 'hello'))
  t.same(h1.calls.map((c) => c.id), [id])
  t.equal(h1.calls[0]!.results, undefined)

  t.same(await out.call.hold(), { ok: true })
  const held = callMsg(await sse.next(isCall(id, 'held'), 5000, 'held'))
  await late.next(isCall(id, 'held'), 5000, 'held on the second stream')
  t.ok(held.call?.legs.initiator.held || held.call?.legs.destination.held, 'a leg is held in the snapshot')
  t.same(await out.call.unhold(), { ok: true })
  await sse.next(isCall(id, 'resumed'), 5000, 'resumed')
  t.same(await out.call.end(), { ok: true })
  const endMsg = callMsg(await sse.next(isCall(id, 'ended'), 5000, 'ended'))
  t.ok(endMsg.call?.endedAt, 'the ended call has its end time')
  t.equal(endMsg.call?.cause, 'completed')

  const after = await openSse({ port: s.httpPort })
  t.teardown(() => after.close())
  const h2 = hello(await after.next((m) => m.event === 'hello', 5000, 'hello'))
  t.same(h2.calls, [], 'no live call after the end')
  t.same(h2.recent.map((c) => c.id), [id], 'the ended call is in the recent list')
  t.equal(h2.recent[0]!.cause, 'completed')
})

t.test('stream caps: total and per address (503 with Retry-After), freed on close; heartbeats', async (t) => {
  const s = await startTestServer({ httpPort: 0 })
  t.teardown(() => s.close())
  const { port, ctx } = await ownConsole(t, s.server.calls, { maxStreams: 3, maxStreamsPerAddress: 2, heartbeatMs: 100 })
  const a1 = await openSse({ port })
  const a2 = await openSse({ port, localAddress: '127.0.0.1' })
  const a3 = await openSse({ port })
  t.teardown(() => [a1, a2, a3].forEach((c) => c.close()))
  t.equal(a1.status, 200)
  t.equal(a2.status, 200)
  t.equal(a3.status, 503, 'a third stream from one address: 503')
  t.equal(a3.headers['retry-after'], '5')
  await a3.whenClosed()
  const b1 = await openSse({ port, localAddress: '127.0.0.2' })
  t.teardown(() => b1.close())
  t.equal(b1.status, 200, 'another address may open one')
  const c1 = await openSse({ port, localAddress: '127.0.0.3' })
  t.equal(c1.status, 503, 'over the total: 503')
  t.match(await c1.whenClosed().then(() => c1.messages.length), 0)
  t.equal(ctx.counters.open, 3)
  t.equal(ctx.counters.refused, 2)

  // heartbeats: a comment and a ping, every 100 ms
  await a1.next((m) => m.event === 'ping', 2000, 'ping')
  await until('three heartbeats', () => a1.comments >= 3, 2000)
  t.ok(Math.abs(Number(a1.messages.find((m) => m.event === 'ping')!.data) - Date.now()) < 5000, 'the ping carries the server clock')

  a1.close()
  await until('the closed stream to be forgotten', () => ctx.counters.open === 2)
  const c2 = await openSse({ port, localAddress: '127.0.0.3' })
  t.teardown(() => c2.close())
  t.equal(c2.status, 200, 'a freed slot is given again')
  await c2.next((m) => m.event === 'hello', 2000, 'hello')
})

t.test('a reader that stops reading is dropped at the buffer bound; a reading one gets everything', async (t) => {
  const s = await startTestServer({ httpPort: 0 })
  t.teardown(() => s.close())
  // the real call service, with a hand on its event feed to push volume through
  let feed: ((e: CallEvent) => void) | undefined
  const calls: CallService = Object.assign(Object.create(s.server.calls) as CallService, {
    subscribe: (l: (e: CallEvent) => void) => {
      feed = l
      return s.server.calls.subscribe(l)
    },
  })
  const bound = 256 * 1024
  const { port, ctx } = await ownConsole(t, calls, { maxBufferBytes: bound, heartbeatMs: 60_000 })
  const slow = await openSse({ port, paused: true })
  const fast = await openSse({ port, localAddress: '127.0.0.2' })
  t.teardown(() => {
    slow.close()
    fast.close()
  })
  await fast.next((m) => m.event === 'hello', 2000, 'hello')
  t.equal(ctx.counters.open, 2)

  const batches = 250
  const perBatch = 200
  let seq = 0
  const padding = 'x'.repeat(120)
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < perBatch; i++) {
      seq += 1
      feed!({ type: 'state', state: padding, prev: 'p', callId: 'synthetic', setupId: null, seq, at: Date.now() })
    }
    // the reading client reads between batches
    await new Promise((r) => setTimeout(r, 5))
  }
  const total = batches * perBatch
  t.equal(ctx.counters.dropped, 1, 'the slow reader was dropped')
  t.equal(ctx.counters.open, 1, 'the reading one is still open')
  await until('every message at the reading client', () => fast.messages.filter((m) => m.event === 'call').length === total, 10_000)
  const last = callMsg(fast.messages[fast.messages.length - 1]!)
  t.equal(last.call, null, 'an unknown call id: no snapshot')
  t.notOk(fast.closed)

  slow.resume()
  await slow.whenClosed(5000)
  const got = slow.messages.filter((m) => m.event === 'call').length
  t.ok(got < total, `the slow reader got ${got} of ${total} messages before it was dropped`)
  t.comment(`slow reader: ${slow.bytes} bytes received before the drop (bound ${bound} bytes queued in the server, plus the kernel's socket buffers); ${total} messages, ${fast.bytes} bytes to the reading client`)
})
