/** SIP over IPv6, TLS, and through an outbound proxy. */
import t from 'tap'
import dgram from 'node:dgram'
import net from 'node:net'
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { createSipStack, type Dialog, type IncomingInvite, type SipStack } from '../lib/sip'
import { createPhone } from '../lib/phone'

const logger = pino({ level: 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n'

function answered(s: SipStack, target: string): Promise<Dialog | number> {
  const inv = s.invite({ target, from: { uri: 'sip:click2call@example.com' }, sdp: SDP })
  return new Promise((resolve) => {
    inv.on('answered', (d: Dialog) => resolve(d))
    inv.on('failed', (st: number) => resolve(st))
  })
}

t.test('IPv6: a call to [::1]', async (t) => {
  const s = await createSipStack({ address: '::1', port: 0, keepAlives: false, userAgent: 'ClickToCall', logger })
  t.teardown(() => s.close())
  const p = await createPhone({ name: 'six', address: '::1', behaviour: 'answer', logger })
  t.teardown(() => p.close())
  t.match(p.uri, /^sip:six@\[::1\]:\d+$/)
  const d = await answered(s, p.uri)
  t.type(d, 'object', 'answered over IPv6')
  await (d as Dialog).bye()
  await p.waitFor('bye')
})

t.test('TLS: a call over transport=tls with a self-signed certificate (verification off; test/sip-tls-verify.ts checks it on)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-tls-'))
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  const server = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', tls: { port: 0, certFile: cert, keyFile: key }, keepAlives: false, userAgent: 'phone', logger })
  t.teardown(() => server.close())
  t.ok(server.tlsPort && server.tlsPort > 0, 'TLS listening')
  let protocolSeen = ''
  server.on('invite', (inv: IncomingInvite) => {
    protocolSeen = String((inv.headers.via as Array<{ protocol: string }>)[0]!.protocol)
    void inv.accept(SDP)
  })
  const client = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: true, userAgent: 'ClickToCall', tlsClient: { verify: false }, logger })
  t.teardown(() => client.close())
  const d = await answered(client, `sip:tls@127.0.0.1:${server.tlsPort};transport=tls`)
  t.type(d, 'object', 'answered over TLS')
  t.equal(protocolSeen, 'TLS')
  await (d as Dialog).bye()
})

t.test('TLS configured without a readable certificate: the stack does not start, the error names the file', async (t) => {
  await t.rejects(
    createSipStack({ address: '127.0.0.1', port: 0, tls: { port: 0, certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' }, keepAlives: false, userAgent: 'x', logger }),
    { name: 'ConfigError', message: /TLSCertificate: cannot read \/nonexistent\/cert\.pem/ },
  )
})

t.test('OutboundProxy: new requests go to the proxy with a loose Route', async (t) => {
  const proxy = dgram.createSocket('udp4')
  await new Promise<void>((r) => proxy.bind(0, '127.0.0.1', () => r()))
  t.teardown(() => proxy.close())
  const port = proxy.address().port
  let seen = ''
  proxy.on('message', (msg, rinfo) => {
    const text = msg.toString()
    if (!text.startsWith('INVITE')) return
    seen = text
    const lines = text.split('\r\n')
    const pick = (n: string): string => lines.filter((l) => l.toLowerCase().startsWith(`${n.toLowerCase()}:`)).join('\r\n')
    proxy.send(`SIP/2.0 404 Not Found\r\n${pick('Via')}\r\n${pick('From')}\r\n${pick('To')};tag=p\r\n${pick('Call-ID')}\r\n${pick('CSeq')}\r\nContent-Length: 0\r\n\r\n`, rinfo.port, rinfo.address)
  })
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', outboundProxy: `sip:127.0.0.1:${port}`, keepAlives: false, userAgent: 'x', logger })
  t.teardown(() => s.close())
  t.equal(await answered(s, 'sip:bob@far.example.com'), 404)
  t.match(seen, /^INVITE sip:bob@far\.example\.com SIP\/2\.0\r\n/)
  t.match(seen, new RegExp(`\\r\\nRoute:\\s*<sip:127\\.0\\.0\\.1:${port};lr>`))
})

t.test('a request that cannot be sent fails at once with 503: no socket of the family, a TCP peer that refuses', async (t) => {
  // bound to IPv4 only: there is no IPv6 UDP socket to send from
  const s = await createSipStack({ address: '127.0.0.1', port: 0, keepAlives: false, userAgent: 'ClickToCall', logger })
  t.teardown(() => s.close())
  const started = Date.now()
  t.equal(await answered(s, 'sip:nobody@[::1]:5060'), 503, 'IPv6 target, no IPv6 socket: 503')
  // a port nobody listens on: bind one, learn it, close it
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()))
  const closedPort = (probe.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  t.equal(await answered(s, `sip:nobody@127.0.0.1:${closedPort};transport=tcp`), 503, 'TCP connection refused: 503')
  t.ok(Date.now() - started < 5000, `both within 5 s, not after Timer B (${Date.now() - started} ms)`)
})
