/**
 * The HTTP port under attack, over real sockets on loopback (issue 12,
 * items 2 and 4): clients that never read and never close lose their slots,
 * total and per-address connection caps, a per-address call rate limit,
 * Host (DNS rebinding) and cross-site checks, HEAD, the per-(address, user)
 * failure throttle that lets a right Digest answer in, and reconfigure().
 */
import t from 'tap'
import net from 'node:net'
import { startTestServer, type TestServer } from './helpers/server'
import { curl, request } from './helpers/http-client'

const TIMERS = { idleTimeoutMs: 1500, headersTimeoutMs: 1000, closeGraceMs: 300 }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** a client that connects and then neither reads nor closes (nor sends, unless told) */
function silentClient(port: number, localAddress = '127.0.0.1', send?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen: true }, () => {
      s.pause()
      if (send) s.write(send)
      resolve(s)
    })
    s.on('error', () => {})
    s.once('error', reject)
  })
}

/** wait until cond() or the bound; returns the elapsed ms, or -1 */
async function waitFor(cond: () => boolean, boundMs: number): Promise<number> {
  const t0 = Date.now()
  while (Date.now() - t0 < boundMs) {
    if (cond()) return Date.now() - t0
    await sleep(25)
  }
  return cond() ? Date.now() - t0 : -1
}

/** what a fresh connection gets: the status line, or 'closed' */
function firstLine(port: number, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => s.write('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'))
    const timer = setTimeout(() => done(), 3000)
    const done = (): void => {
      clearTimeout(timer)
      s.destroy()
      resolve(got.split('\r\n')[0] || 'closed')
    }
    s.on('data', (d) => {
      got += d.toString()
      if (got.includes('\r\n')) done()
    })
    s.on('error', done)
    s.on('close', done)
  })
}

t.test('connections: caps, silent clients lose their slots, a new client gets in', async (t) => {
  const srv = await startTestServer({ httpPort: 5095, httpMaxConnections: 12, httpMaxConnectionsPerAddress: 8 }, { httpTimers: TIMERS })
  t.teardown(() => srv.close())
  const http = srv.server.http!
  const idle: net.Socket[] = []
  t.teardown(() => idle.forEach((s) => s.destroy()))
  // 8 from one address: its cap
  for (let i = 0; i < 8; i++) idle.push(await silentClient(srv.httpPort))
  t.equal(await waitFor(() => http.connections === 8, 1000) >= 0, true, '8 idle connections held')
  t.equal(await firstLine(srv.httpPort), 'HTTP/1.1 503 Service Unavailable', 'the 9th from that address: 503 (HttpMaxConnectionsPerAddress)')
  t.match(await firstLine(srv.httpPort, '127.0.0.2'), /^HTTP\/1.1 200/, 'another address still gets in')
  // 4 more from a second address fill the total cap of 12
  for (let i = 0; i < 4; i++) idle.push(await silentClient(srv.httpPort, '127.0.0.3'))
  t.equal(await waitFor(() => http.connections === 12, 1000) >= 0, true, '12 held')
  t.equal(await firstLine(srv.httpPort, '127.0.0.4'), 'HTTP/1.1 503 Service Unavailable', 'a 13th from a new address: 503 (HttpMaxConnections)')
  // none of the 12 ever sends, reads or closes: the header timeout frees them all
  const freedIn = await waitFor(() => http.connections === 0, TIMERS.headersTimeoutMs + TIMERS.idleTimeoutMs + 2000)
  t.ok(freedIn >= 0, `all 12 slots freed in ${freedIn} ms although no client closed`)
  t.match(await firstLine(srv.httpPort), /^HTTP\/1.1 200/, 'a new client gets in')
})

t.test('closed means closed: a client that sends a request, never reads and ignores the FIN', async (t) => {
  const srv = await startTestServer({ httpPort: 5095, httpMaxConnectionsPerAddress: 5 }, { httpTimers: { ...TIMERS, idleTimeoutMs: 60_000 } })
  t.teardown(() => srv.close())
  const http = srv.server.http!
  const socks: net.Socket[] = []
  t.teardown(() => socks.forEach((s) => s.destroy()))
  // half a request: the header timeout makes the server answer 400 and end(); the client ignores the FIN
  for (let i = 0; i < 5; i++) socks.push(await silentClient(srv.httpPort, '127.0.0.1', 'GET /index.html HTTP/1.1\r\nHost: 12'))
  t.equal(await firstLine(srv.httpPort), 'HTTP/1.1 503 Service Unavailable', 'cap reached')
  // idle timeout is 60 s here: only the destroy after the server's close can free them
  const freedIn = await waitFor(() => http.connections === 0, TIMERS.headersTimeoutMs + TIMERS.closeGraceMs + 1500)
  t.ok(freedIn >= 0, `5 slots freed in ${freedIn} ms`)
  t.match(await firstLine(srv.httpPort), /^HTTP\/1.1 200/, 'a new client gets in')
})

t.test('per-address call rate limit; HEAD never places a call', async (t) => {
  const srv = await startTestServer({ httpPort: 5095, httpRateLimit: 5, maxCalls: 100 }, { httpTimers: TIMERS })
  t.teardown(() => srv.close())
  const codes: number[] = []
  for (let i = 0; i < 8; i++) codes.push((await request(srv.httpPort, `/clicktocall.html?initiator=sip:a${i}@127.0.0.1:9&destination=1`)).status)
  t.same(codes, [200, 200, 200, 200, 200, 429, 429, 429], 'five calls a minute, then 429')
  const other = await request(srv.httpPort, '/clicktocall.html?initiator=sip:b@127.0.0.1:9&destination=1', { localAddress: '127.0.0.2' })
  t.equal(other.status, 200, 'another address is not limited')
  const before = srv.server.calls.liveCount
  const head = await request(srv.httpPort, '/clicktocall.html?initiator=sip:c@127.0.0.1:9&destination=1', { method: 'HEAD', localAddress: '127.0.0.3' })
  t.equal(head.status, 405)
  t.equal(head.headers.allow, 'GET')
  t.equal(srv.server.calls.liveCount, before, 'no call placed by HEAD')
  const rest = await request(srv.httpPort, '/v1/calls', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"initiator":"sip:e@127.0.0.1:9","destination":"1"}' })
  t.equal(rest.status, 429, 'the REST API shares the limit')
  t.equal(rest.headers['content-type'], 'application/problem+json')
  const sipx = await request(srv.httpPort, '/callcontroller/sip%3Af%40127.0.0.1%3A9/1', { method: 'POST' })
  t.equal(sipx.status, 429, 'the sipXrest URL shares the limit')
  srv.server.http!.reconfigure({ rateLimit: 0 })
  t.equal((await request(srv.httpPort, '/clicktocall.html?initiator=sip:d@127.0.0.1:9&destination=1')).status, 200, 'reconfigure: limit off')
})

t.test('Host must name the server; cross-site requests are refused', async (t) => {
  const srv = await startTestServer({ httpPort: 5095 }, { httpTimers: TIMERS })
  t.teardown(() => srv.close())
  const p = srv.httpPort
  const target = '/clicktocall.html?initiator=sip:a@127.0.0.1:9&destination=1'
  const before = srv.server.calls.liveCount
  const rebound = await request(p, target, { headers: { host: `evil.example:${p}` } })
  t.equal(rebound.status, 421, 'DNS rebinding: Host evil.example refused')
  t.equal((await request(p, target, { headers: { host: `localhost:${p}`, origin: 'https://evil.example' } })).status, 403, 'Origin of another site: 403')
  t.equal((await request(p, target, { headers: { referer: 'https://evil.example/page.html' } })).status, 403, 'Referer of another site: 403')
  t.equal((await request(p, target, { headers: { 'sec-fetch-site': 'cross-site' } })).status, 403, 'Sec-Fetch-Site cross-site: 403')
  t.equal((await request(p, target, { headers: { origin: 'null' } })).status, 403, 'Origin null: 403')
  t.equal(srv.server.calls.liveCount, before, 'none of them placed a call')
  t.equal((await request(p, target, { headers: { host: `localhost:${p}` } })).status, 200, 'Host localhost')
  t.equal((await request(p, target, { headers: { host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${p}` } })).status, 200, 'same-origin page')
  t.equal((await request(p, target, { headers: { host: `pbx.example:${p}` } })).status, 421)
  srv.server.http!.reconfigure({ allowedHosts: ['pbx.example'], allowedOrigins: ['https://crm.example'] })
  t.equal((await request(p, target, { headers: { host: `pbx.example:${p}` } })).status, 200, 'HttpAllowedHosts (reconfigured)')
  t.equal((await request(p, target, { headers: { origin: 'https://crm.example' } })).status, 200, 'HttpAllowedOrigins (reconfigured)')
  t.equal((await request(p, target, { headers: { origin: 'https://crm.example.evil' } })).status, 403)
  const c = await curl([`http://localhost:${p}${target}`])
  t.equal(c.status, 200, 'curl http://localhost')
})

t.test('auth throttle per (address, user): a right Digest answer gets in; one success does not reset others', async (t) => {
  const PW = 'right pw'
  const srv = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: PW }, { maxAuthFailures: 3, httpTimers: TIMERS })
  t.teardown(() => srv.close())
  const url = `http://127.0.0.1:${srv.httpPort}/calls/x`
  const wrong: number[] = []
  for (let i = 0; i < 4; i++) wrong.push((await curl(['--digest', '-u', 'admin:guess', url])).status)
  t.same(wrong, [401, 401, 401, 429], 'three failures, then throttled')
  t.equal((await curl(['-u', `admin:${PW}`, url])).status, 429, 'Basic, even right, waits while throttled')
  t.equal((await curl(['--digest', '-u', 'mallory:x', url])).status, 401, 'another user from the same address is not throttled')
  for (let i = 0; i < 3; i++) await curl(['--digest', '-u', 'mallory:x', url])
  t.equal((await curl(['--digest', '-u', 'mallory:x', url])).status, 429, 'mallory throttled')
  // the right Digest answer is checked at the next try time (1 s after the last failure)
  await sleep(1100)
  const right = await curl(['--digest', '-u', `admin:${PW}`, url])
  t.equal(right.status, 404, 'the right Digest answer gets in while throttled (404: no call x)')
  t.equal((await curl(['-u', 'mallory:x', url])).status, 429, "admin's success did not reset mallory (still throttled)")
  t.equal((await curl(['--digest', '-u', `admin:${PW}`, url])).status, 404, 'admin is no longer throttled')
})

t.test('reconfigure: password, HttpAuth, HttpAuthBasic, Digest algorithms, connection caps', async (t) => {
  const srv = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: 'old' }, { httpTimers: TIMERS, maxAuthFailures: 100 })
  t.teardown(() => srv.close())
  const http = srv.server.http!
  const url = `http://127.0.0.1:${srv.httpPort}/calls/x`
  t.equal((await curl(['--digest', '-u', 'admin:old', url])).status, 404)
  http.reconfigure({ password: 'new' })
  t.equal((await curl(['--digest', '-u', 'admin:old', url])).status, 401, 'old password refused after reload')
  t.equal((await curl(['--digest', '-u', 'admin:new', url])).status, 404, 'new password accepted')
  t.equal((await curl(['-u', 'admin:new', url])).status, 404, 'Basic on')
  http.reconfigure({ basicAllowed: false })
  const nb = await curl(['-u', 'admin:new', url])
  t.equal(nb.status, 401, 'Basic off')
  t.notMatch(nb.headers, /WWW-Authenticate: Basic/)
  http.reconfigure({ digestAlgorithms: ['MD5'] })
  const md5 = await curl(['--digest', '-u', 'admin:new', url])
  t.equal(md5.status, 404)
  t.match(md5.headers, /X-Auth-Scheme: Digest MD5/)
  http.reconfigure({ auth: false })
  t.equal((await curl([url])).status, 404, 'HttpAuth off: no credentials needed')
  http.reconfigure({ auth: true })
  t.equal((await curl([url])).status, 401, 'HttpAuth on again')
  http.reconfigure({ maxConnectionsPerAddress: 1 })
  const one = await silentClient(srv.httpPort)
  t.teardown(() => one.destroy())
  t.equal(await firstLine(srv.httpPort), 'HTTP/1.1 503 Service Unavailable', 'new per-address cap applies')
})

t.test('CORS for an allowed origin: preflight answered, answers readable; other origins refused', async (t) => {
  const srv = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: 'pw', httpAllowedOrigins: ['https://crm.example'] }, { httpTimers: TIMERS })
  t.teardown(() => srv.close())
  const pre = await request(srv.httpPort, '/v1/calls', { method: 'OPTIONS', headers: { origin: 'https://crm.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } })
  t.equal(pre.status, 204, 'preflight without credentials')
  t.equal(pre.headers['access-control-allow-origin'], 'https://crm.example')
  t.match(String(pre.headers['access-control-allow-methods']), 'POST')
  t.match(String(pre.headers['access-control-allow-headers']), 'Authorization')
  const evil = await request(srv.httpPort, '/v1/calls', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.equal(evil.status, 403)
  t.equal(evil.headers['access-control-allow-origin'], undefined)
  const get = await request(srv.httpPort, '/v1/calls', { headers: { origin: 'https://crm.example' } })
  t.equal(get.status, 401, 'the real request still needs credentials')
  t.equal(get.headers['access-control-allow-origin'], 'https://crm.example', 'and its answer is readable by the page')
  t.equal((await request(srv.httpPort, '/v1/calls', { method: 'OPTIONS' })).status, 405, 'a plain OPTIONS is not a preflight')
})
