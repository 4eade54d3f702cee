/**
 * The HTTP interface with a real client (curl) against a running server
 * whose initiator is a sipp phone: Basic as the original's clients, Digest
 * (RFC 7616), failures, stale nonces, escaping, the status endpoint.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'
import http from 'node:http'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp } from './helpers/sipp'
import { parseAuthParams } from '../lib/http'

interface CurlResult {
  status: number
  headers: string
  body: string
}

// the server runs in this process: curl must run asynchronously
async function curl(args: string[]): Promise<CurlResult> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile('curl', ['-s', '-S', '-i', '--max-time', '10', ...args], { encoding: 'utf8' }, (err, stdout) =>
      err && !stdout ? reject(err) : resolve(stdout),
    ),
  )
  // with --digest curl prints the 401 and then the final response: keep the last
  const parts = out.split(/\r\n\r\n(?=HTTP\/)/)
  const last = parts[parts.length - 1]!
  const sep = last.indexOf('\r\n\r\n')
  const headers = sep < 0 ? last : last.slice(0, sep)
  const body = sep < 0 ? '' : last.slice(sep + 4)
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1] ?? 0), headers, body }
}

function get(port: number, target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: target, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
  })
}

/** a UDP socket standing in for the initiator's phone: counts the INVITEs that reach it */
async function invitesTo(t: Test): Promise<{ uri: string; count: () => number }> {
  const sock = dgram.createSocket('udp4')
  let n = 0
  sock.on('message', (m) => {
    if (m.toString().startsWith('INVITE ')) n++
  })
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()))
  t.teardown(() => sock.close())
  return { uri: `sip:victim@127.0.0.1:${sock.address().port}`, count: () => n }
}

function digestHeader(challenge: string, alg: 'MD5' | 'SHA-256', target: string, password: string, nc = '00000001'): string {
  const p = parseAuthParams(challenge.replace(/^Digest\s+/i, ''))
  const H = (s: string): string => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex')
  const cnonce = 'abcdef0123456789'
  const ha1 = H(`admin:${p.realm}:${password}`)
  const ha2 = H(`GET:${target}`)
  const response = H(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`)
  return `Digest username="admin", realm="${p.realm}", nonce="${p.nonce}", uri="${target}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}"`
}

/** node joins repeated WWW-Authenticate headers with ', ' */
function challengesOf(headers: http.IncomingHttpHeaders): string[] {
  return String(headers['www-authenticate'] ?? '').split(/,\s*(?=Digest |Basic )/)
}

const PW = 's3cret pw'
const SIPP = path.join(__dirname, 'sipp')

t.test('HTTP interface', async (t) => {
  let auth: TestServer
  let open: TestServer
  t.before(async () => {
    auth = await startTestServer({ httpAuth: true, httpAuthPwd: PW, httpPort: 5095, resultCacheTime: 60 }, { nonceTtlMs: 1500, maxAuthFailures: 1000 })
    open = await startTestServer({ httpAuth: false, httpPort: 5095 })
  })
  t.teardown(async () => {
    await auth.close()
    await open.close()
  })

  t.test('Basic (as the original\'s clients): 200, and the call reaches the phone', { skip: !sippAvailable() && process.env.CI !== 'true' && 'sipp not installed' }, async (t) => {
    const phone = await startSipp({ scenario: path.join(SIPP, 'busy.xml') })
    t.teardown(() => phone.kill())
    const q = `initiator=${encodeURIComponent(phone.uri('alice'))}&destination=1234`
    const r = await curl(['-u', `admin:${PW}`, `http://127.0.0.1:${auth.httpPort}/clicktocall.html?${q}`])
    t.equal(r.status, 200)
    t.match(r.headers, /Server: clicktocall /)
    t.match(r.headers, /Pragma: no-cache/)
    t.match(r.body, `<p><em>ClickToCall:</em> initiator=${phone.uri('alice')}, destination=1234</p>`)
    t.match(r.body, `<p>Initiating ClickToCall from ${phone.uri('alice')}(${phone.uri('alice')}) to sip:1234@127.0.0.1:9(1234) (unanchored)...</p>`)
    const id = /X-Call-Id: (\w+)/i.exec(r.headers)![1]!
    t.equal((await phone.exit).code, 0, 'the phone got the INVITE (and answered 486)')
    // the status endpoint shows the final result
    let snap: { results: Array<{ code: number; leg?: string }> } | undefined
    for (let i = 0; i < 50; i++) {
      const s = await curl(['-u', `admin:${PW}`, `http://127.0.0.1:${auth.httpPort}/calls/${id}`])
      t.match(s.headers, /Content-Type: application\/json/)
      snap = JSON.parse(s.body)
      if (snap!.results.some((x) => x.code >= 300)) break
      await new Promise((r) => setTimeout(r, 100))
    }
    t.same(snap!.results.map((x) => x.code), [100, 486])
  })

  t.test('Digest with curl: 200 with both challenges; SHA-256 only and MD5 only servers', async (t) => {
    const r = await curl(['--digest', '-u', `admin:${PW}`, `http://127.0.0.1:${auth.httpPort}/clicktocall.html?initiator=sip:a@127.0.0.1:9&destination=1`])
    t.equal(r.status, 200)
    t.match(r.body, 'Initiating ClickToCall')
    t.match(r.headers, /X-Auth-Scheme: Digest (SHA-256|MD5)/)
    for (const alg of ['SHA-256', 'MD5'] as const) {
      const only = await startTestServer({ httpAuth: true, httpAuthPwd: PW, httpPort: 5095, httpDigestAlgorithms: [alg] })
      t.teardown(() => only.close())
      const x = await curl(['--digest', '-u', `admin:${PW}`, `http://127.0.0.1:${only.httpPort}/clicktocall.html?initiator=sip:a@127.0.0.1:9&destination=1`])
      t.equal(x.status, 200, `curl --digest against a ${alg}-only server`)
      t.match(x.headers, `X-Auth-Scheme: Digest ${alg}`)
    }
  })

  t.test('Digest MD5 and SHA-256 computed by hand: 200; nc replay refused; uri mismatch refused', async (t) => {
    const target = '/clicktocall.html?initiator=sip:a@127.0.0.1:9&destination=2'
    const first = await get(auth.httpPort, target)
    t.equal(first.status, 401)
    const list = challengesOf(first.headers)
    t.match(list[0], /algorithm=SHA-256/, 'SHA-256 offered first')
    t.ok(list.some((c) => /algorithm=MD5/.test(c)), 'MD5 offered')
    t.ok(list.some((c) => /^Basic realm=/.test(c)), 'Basic offered (HttpAuthBasic on)')
    // both challenges carry one nonce: its nc counts every request made with it
    let nc = 0
    const next = (): string => (++nc).toString(16).padStart(8, '0')
    for (const alg of ['SHA-256', 'MD5'] as const) {
      const ch = list.find((c) => c.includes(`algorithm=${alg}`))!
      const h = digestHeader(ch, alg, target, PW, next())
      t.equal((await get(auth.httpPort, target, { authorization: h })).status, 200, alg)
      t.equal((await get(auth.httpPort, target, { authorization: h })).status, 401, `${alg}: replayed nc refused`)
      t.equal((await get(auth.httpPort, target, { authorization: digestHeader(ch, alg, target, PW, next()) })).status, 200, `${alg}: next nc accepted`)
    }
    const ch = list[0]!
    const other = '/clicktocall.html?initiator=sip:evil@127.0.0.1:9&destination=3'
    t.equal((await get(auth.httpPort, other, { authorization: digestHeader(ch, 'SHA-256', target, PW, '00000009') })).status, 401, 'uri of another request refused')
  })

  t.test('stale nonce: 401 with stale=true', async (t) => {
    const target = '/clicktocall.html?initiator=sip:a@127.0.0.1:9&destination=4'
    const first = await get(auth.httpPort, target)
    const ch = challengesOf(first.headers)[0]!
    await new Promise((r) => setTimeout(r, 1700))
    const r = await get(auth.httpPort, target, { authorization: digestHeader(ch, 'SHA-256', target, PW) })
    t.equal(r.status, 401, r.body)
    t.match(String(r.headers['www-authenticate']), /stale=true/)
  })

  t.test('wrong password: 401, no call; no credentials: 401 with both Digest challenges', async (t) => {
    const phone = await invitesTo(t)
    const q = `initiator=${encodeURIComponent(phone.uri)}&destination=5`
    const r = await curl(['-u', 'admin:wrong', `http://127.0.0.1:${auth.httpPort}/clicktocall.html?${q}`])
    t.equal(r.status, 401)
    t.notMatch(r.body, 'Initiating')
    const d = await curl(['--digest', '-u', 'admin:wrong', `http://127.0.0.1:${auth.httpPort}/clicktocall.html?${q}`])
    t.equal(d.status, 401)
    // an INVITE would have left at once: 500 ms is ample on loopback (the right password below shows it)
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.equal(phone.count(), 0, 'no INVITE reached the initiator')
    const ok = await curl(['--digest', '-u', `admin:${PW}`, `http://127.0.0.1:${auth.httpPort}/clicktocall.html?${q}`])
    t.equal(ok.status, 200, 'the right password places the call')
    for (let i = 0; i < 50 && phone.count() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    t.ok(phone.count() > 0, 'and its INVITE reaches the initiator: the probe sees calls')
    const n = await curl([`http://127.0.0.1:${auth.httpPort}/clicktocall.html?initiator=a&destination=b`])
    t.equal(n.status, 401)
    t.match(n.headers, /WWW-Authenticate: Digest realm="[^"]*", qop="auth", algorithm=SHA-256/)
    t.match(n.headers, /WWW-Authenticate: Digest realm="[^"]*", qop="auth", algorithm=MD5/)
  })

  t.test('auth off: works without credentials, no challenge; XSS escaped; other paths 301; /calls 404', async (t) => {
    const r = await curl([`http://127.0.0.1:${open.httpPort}/clicktocall.html?initiator=%3Cscript%3Ealert(1)%3C/script%3E&destination=1`])
    t.equal(r.status, 400, 'no translation rule')
    t.notMatch(r.headers, /WWW-Authenticate/i)
    t.notMatch(r.body, '<script>')
    t.match(r.body, '&lt;script&gt;alert(1)&lt;/script&gt;')
    t.match(r.body, '<p>No translation rule for either initiator &lt;script&gt;alert(1)&lt;/script&gt; or destination 1.</p>')
    const m = await curl([`http://127.0.0.1:${open.httpPort}/clicktocall.html?initiator=1`])
    t.match(m.body, '<p>Missing initiator or destination URL parameters.</p>')
    const i = await curl([`http://127.0.0.1:${open.httpPort}/index.html`])
    t.equal(i.status, 200)
    t.match(i.body, '<title>ClickToCall Server Login</title>')
    const o = await curl([`http://127.0.0.1:${open.httpPort}/other`])
    t.equal(o.status, 301)
    t.match(o.headers, /Location: \/index.html/)
    const c = await curl([`http://127.0.0.1:${open.httpPort}/calls/nope`])
    t.equal(c.status, 404)
    t.same(JSON.parse(c.body), { error: 'not found' })
  })

  t.test('Basic refused when HttpAuthBasic is off; repeated failures are throttled', async (t) => {
    const strict = await startTestServer({ httpAuth: true, httpAuthPwd: PW, httpAuthBasic: false, httpPort: 5095 })
    t.teardown(() => strict.close())
    const r = await curl(['-u', `admin:${PW}`, `http://127.0.0.1:${strict.httpPort}/clicktocall.html?initiator=a&destination=b`])
    t.equal(r.status, 401)
    t.notMatch(r.headers, /WWW-Authenticate: Basic/)
    const codes: number[] = []
    for (let i = 0; i < 7; i++) codes.push((await curl(['--digest', '-u', 'admin:bad', `http://127.0.0.1:${strict.httpPort}/clicktocall.html?initiator=a&destination=b`])).status)
    t.ok(codes.includes(429), `throttled after repeated failures: ${codes.join(',')}`)
  })
})
