/**
 * No byte sequence from the network crashes the stack or stalls it: garbage,
 * truncated and oversized messages over UDP and TCP (including the 60 KB
 * pattern that kills the bare `sip` package), a 6,500-entry Route header,
 * wrong Content-Length, unknown methods. After each, the stack still places a
 * call. Also: SIP over TCP, and digest answers to a challenging proxy.
 */
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import net from 'node:net'
import { createHash } from 'node:crypto'
import pino from 'pino'
import diagnostics from 'node:diagnostics_channel'
import { createSipStack, type Dialog, type MessageTrace, type SipStack } from '../lib/sip'
import { createPhone, type Phone } from '../lib/phone'

const logger = pino({ level: 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n'

let stack: SipStack
let alice: Phone
t.before(async () => {
  stack = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: true, userAgent: 'ClickToCall', logger, credentials: [{ username: 'ctc', password: 'pw' }] })
  alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
})
t.teardown(async () => {
  await stack.close()
  await alice.close()
})

async function stillWorks(t: Test, target = alice.uri): Promise<void> {
  const inv = stack.invite({ target, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
  const dialog = await new Promise<Dialog>((resolve, reject) => {
    inv.on('answered', resolve)
    inv.on('failed', (s: number) => reject(new Error(`failed ${s}`)))
  })
  t.equal(dialog.state, 'confirmed', 'the stack still places calls')
  await dialog.bye()
}

function udp(payload: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.send(payload, stack.port, '127.0.0.1', () => s.close(() => resolve()))
  })
}

function tcp(payload: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const s = net.connect(stack.port, '127.0.0.1', () => s.write(payload))
    s.on('data', (d) => (got += d.toString()))
    s.on('error', () => undefined)
    s.setTimeout(1000, () => s.destroy())
    s.on('close', () => resolve(got))
  })
}

/** who ends a TCP connection that carried `payload`: the server, or this client after ms */
function whoCloses(payload: string, ms = 5000): Promise<'server' | 'client'> {
  return new Promise((resolve) => {
    const s = net.connect(stack.port, '127.0.0.1', () => s.write(payload))
    s.on('error', () => undefined)
    s.setTimeout(ms, () => (s.destroy(), resolve('client')))
    s.on('close', () => resolve('server'))
  })
}

const head = (method: string, extra = ''): string =>
  `${method} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${Math.random().toString(36).slice(2)}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: ${Math.random()}\r\nCSeq: 1 ${method}\r\n${extra}`

t.test('garbage, truncated and oversized datagrams', async (t) => {
  await udp('hello world\r\n\r\n')
  await udp(Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]))
  await udp(head('INVITE').slice(0, 50))
  await udp(`${head('OPTIONS')}Content-Length: 500\r\n\r\nshort`)
  await udp(Buffer.alloc(70000 > 65507 ? 65000 : 65000, 'x'))
  await udp('SIP/2.0 200 OK\r\n\r\n')
  await stillWorks(t)
})

/** sends from a socket of its own (named in the Via) and waits for the reply; undefined when none came */
function udpAsk(payload: string, waitMs = 5000): Promise<{ reply: string; ms: number } | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    const start = process.hrtime.bigint()
    const timer = setTimeout(() => (s.close(), resolve(undefined)), waitMs)
    s.on('message', (m) => {
      clearTimeout(timer)
      s.close()
      resolve({ reply: m.toString(), ms: Number(process.hrtime.bigint() - start) / 1e6 })
    })
    // the answer goes to the Via's sent-by: make it this socket
    s.bind(0, '127.0.0.1', () => s.send(payload.replace('127.0.0.1:9;', `127.0.0.1:${s.address().port};`), stack.port, '127.0.0.1'))
  })
}

t.test('a 6,500-entry Route header (one 52 KB datagram) is refused before the quadratic parser', async (t) => {
  const start = process.hrtime.bigint()
  const route = `Route: ${Array.from({ length: 6500 }, () => '<sip:a>').join(',')}\r\n`
  const big = `${head('OPTIONS', route)}Content-Length: 0\r\n\r\n`
  t.ok(big.length > 50_000 && big.length < 65_000, `one datagram of ${big.length} bytes`)
  t.equal(await udpAsk(big, 1000), undefined, 'the 6,500-entry Route is dropped, not answered')
  // the same count spread over separate Route lines is bounded too
  const lines = (n: number): string => `${head('OPTIONS', 'Route: <sip:a;lr>\r\n'.repeat(n))}Content-Length: 0\r\n\r\n`
  const oneLine = `${head('OPTIONS', `Route: ${Array.from({ length: 100 }, () => '<sip:a;lr>').join(',')}\r\n`)}Content-Length: 0\r\n\r\n`
  t.equal(await udpAsk(oneLine, 1000), undefined, 'a 100-entry Route on one line (1 KB) is dropped by the entry bound')
  t.equal(await udpAsk(lines(200), 1000), undefined, 'a Route over 200 lines (4 KB, under the header size limit) is dropped too')
  t.match((await udpAsk(lines(10)))?.reply, /^SIP\/2\.0 200 OK/, 'a Route over 10 lines is answered')
  // the next request is answered at once: nothing was stuck parsing
  const next = await udpAsk(`${head('OPTIONS')}Content-Length: 0\r\n\r\n`)
  t.match(next?.reply, /^SIP\/2\.0 200 OK/)
  t.ok(next && next.ms < 1000, `next OPTIONS answered in ${next?.ms.toFixed(1)} ms`)
  await stillWorks(t)
  const total = Number(process.hrtime.bigint() - start) / 1e6
  t.ok(total < 5000, `handled in ${total.toFixed(1)} ms`)
})

t.test('TCP: the 60 KB x\\r\\n\\r\\n pattern, an endless header, a lying Content-Length', async (t) => {
  const start = Date.now()
  t.equal(await whoCloses('x\r\n\r\n'.repeat(12000)), 'server', `the stack cut the garbage connection off (${Date.now() - start} ms)`)
  t.equal(await whoCloses('INVITE sip:x SIP/2.0\r\n' + 'X-Long: a\r\n'.repeat(3000), 2000), 'server', 'an endless header (33 KB, no blank line) is cut off')
  t.equal(await whoCloses(`${head('OPTIONS')}Content-Length: 99999999\r\n\r\n`, 2000), 'server', 'a Content-Length over the message size limit is cut off')
  const pong = await tcp('\r\n\r\n')
  t.equal(pong, '\r\n', 'CRLF keepalive ping answered with CRLF')
  const r = await tcp(`${head('OPTIONS')}Content-Length: 0\r\n\r\n`)
  t.match(r, /^SIP\/2\.0 200 OK/, 'a good message after the bad ones is answered')
  await stillWorks(t)
})

t.test('unknown methods get 405 with Allow, over TCP', async (t) => {
  const r = await tcp(`${head('SUBSCRIBE')}Content-Length: 0\r\n\r\n`)
  t.match(r, /^SIP\/2\.0 405/)
  t.match(r, /Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY/)
})

t.test('INVITE over TCP (transport=tcp)', async (t) => {
  // what the stack sends to alice, and over which transport (alice answered the earlier tests over UDP)
  const sent: MessageTrace[] = []
  const on = (m: unknown): void => {
    const trace = m as MessageTrace
    if (trace.direction === 'out' && trace.remote.port === alice.stack.port) sent.push(trace)
  }
  diagnostics.subscribe('clicktocall:sip:message', on)
  t.teardown(() => diagnostics.unsubscribe('clicktocall:sip:message', on))
  const answeredBefore = alice.events.filter((e) => e.type === 'answered').length
  await stillWorks(t, `${alice.uri};transport=tcp`)
  t.equal(alice.events.filter((e) => e.type === 'answered').length, answeredBefore + 1, 'alice answered this call')
  const invites = sent.filter((m) => m.firstLine.startsWith('INVITE '))
  t.equal(invites.length, 1, 'one INVITE sent')
  t.equal(invites[0]?.remote.protocol, 'TCP', 'the INVITE went over TCP')
  t.same([...new Set(sent.map((m) => m.remote.protocol))], ['TCP'], `the whole dialog over TCP: ${sent.map((m) => m.firstLine).join(', ')}`)
})

t.test('digest: a 407 challenge is answered once (SHA-256 and MD5)', async (t) => {
  for (const alg of ['SHA-256', 'MD5'] as const) {
    const proxy = dgram.createSocket('udp4')
    await new Promise<void>((r) => proxy.bind(0, '127.0.0.1', () => r()))
    const port = proxy.address().port
    let checked = ''
    proxy.on('message', (msg, rinfo) => {
      const text = msg.toString()
      const m = /^(\w+) /.exec(text)
      if (!m || m[1] !== 'INVITE') return
      const lines = text.split('\r\n')
      const pick = (n: string): string => lines.filter((l) => l.toLowerCase().startsWith(`${n.toLowerCase()}:`)).join('\r\n')
      const base = `${pick('Via')}\r\n${pick('From')}\r\n${pick('To')};tag=px\r\n${pick('Call-ID')}\r\n${pick('CSeq')}\r\n`
      const auth = pick('Proxy-Authorization')
      let reply: string
      if (!auth) {
        reply = `SIP/2.0 407 Proxy Authentication Required\r\n${base}Proxy-Authenticate: Digest realm="px", nonce="n0nce", qop="auth", algorithm=${alg}\r\nContent-Length: 0\r\n\r\n`
      } else {
        const p = Object.fromEntries([...auth.matchAll(/(\w+)="?([^",]+)"?/g)].map((x) => [x[1], x[2]]))
        const H = (s: string): string => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex')
        const expected = H(`${H(`ctc:px:pw`)}:n0nce:${p.nc}:${p.cnonce}:auth:${H(`INVITE:${p.uri}`)}`)
        checked = p.response === expected && p.algorithm === alg ? 'ok' : `bad ${JSON.stringify(p)}`
        reply = `SIP/2.0 ${checked === 'ok' ? '486 Busy Here' : '403 Forbidden'}\r\n${base}Content-Length: 0\r\n\r\n`
      }
      proxy.send(reply, rinfo.port, rinfo.address)
    })
    const inv = stack.invite({ target: `sip:bob@127.0.0.1:${port}`, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
    const status = await new Promise<number>((resolve) => inv.on('failed', resolve))
    proxy.close()
    t.equal(checked, 'ok', `${alg} response verified by the proxy`)
    t.equal(status, 486, 'the answer to the authenticated INVITE is reported')
  }
})
