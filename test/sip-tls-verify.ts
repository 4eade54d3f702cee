/**
 * Outbound SIP over TLS verifies its peer: certificates made here by openssl
 * (a test CA, a leaf for 127.0.0.1, a leaf for another name). An untrusted
 * or misnamed peer fails the leg with 503; a CA file makes it trusted;
 * TLSVerifyServer off accepts anything (and says so). A configured
 * certificate that cannot be read stops start-up (exit 78, the file named).
 */
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { createSipStack, type Dialog, type IncomingInvite, type SipStack, type SipStackOptions } from '../lib/sip'
import { startTestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'
import type { Teardown } from './helpers/raw-sip'

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n'
const BIN = path.join(__dirname, '..', 'bin', 'clicktocall')

const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-tlsv-'))
const file = (name: string): string => path.join(dir, name)
const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', cwd: dir })
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

// a CA, a leaf it signs for 127.0.0.1 (and localhost), a leaf it signs for another name only
ssl('req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=clicktocall test CA',
  '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
for (const [name, san] of [['good', 'IP:127.0.0.1,DNS:localhost'], ['other', 'DNS:other.example']] as const) {
  writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`)
  ssl('req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`)
}

/** a TLS peer with the given leaf certificate that answers every INVITE */
async function tlsPeer(t: Teardown, leaf: 'good' | 'other'): Promise<SipStack> {
  const s = await createSipStack({
    address: '127.0.0.1',
    port: 0,
    advertisedHost: '127.0.0.1',
    tls: { port: 0, certFile: file(`${leaf}.pem`), keyFile: file(`${leaf}.key`) },
    keepAlives: false,
    userAgent: 'peer',
    logger,
  })
  t.teardown(() => s.close())
  s.on('invite', (inv: IncomingInvite) => void inv.accept(SDP).catch(() => undefined))
  return s
}

async function client(t: Teardown, tlsClient?: SipStackOptions['tlsClient'], log = logger): Promise<SipStack> {
  const s = await createSipStack({
    address: '127.0.0.1',
    port: 0,
    advertisedHost: '127.0.0.1',
    keepAlives: false,
    userAgent: 'ClickToCall',
    logger: log,
    ...(tlsClient ? { tlsClient } : {}),
  })
  t.teardown(() => s.close())
  return s
}

/** the outcome of an INVITE: the status of a failure, or 200 (and the call is hung up) */
function outcome(s: SipStack, target: string): Promise<number> {
  const inv = s.invite({ target, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP, ringTimeoutMs: 8000 })
  return new Promise((resolve) => {
    inv.on('answered', (d: Dialog) => void d.bye().then(() => resolve(200)))
    inv.on('failed', (status: number) => resolve(status))
  })
}

const target = (peer: SipStack): string => `sip:bob@127.0.0.1:${peer.tlsPort}`

t.test('by default the peer must be trusted: a certificate from an unknown CA fails the leg with 503', async (t) => {
  const peer = await tlsPeer(t, 'good')
  const lines: string[] = []
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) })
  const s = await client(t, undefined, pino({ level: 'info' }, sink))
  t.equal(await outcome(s, `${target(peer)};transport=tls`), 503, 'untrusted: 503')
  t.equal(await outcome(s, `sips:bob@127.0.0.1:${peer.tlsPort}`), 503, 'sips: the same')
  t.ok(
    lines.some((l) => /outbound SIP over TLS failed/.test(l) && /certificate/i.test(l)),
    'the failure is logged with the certificate reason',
  )
})

t.test('with TLSCAFile the same peer is trusted: the call is answered', async (t) => {
  const peer = await tlsPeer(t, 'good')
  const s = await client(t, { caFile: file('ca.pem') })
  t.equal(await outcome(s, `${target(peer)};transport=tls`), 200)
})

t.test('a trusted certificate for another name fails the leg with 503', async (t) => {
  const peer = await tlsPeer(t, 'other')
  const s = await client(t, { caFile: file('ca.pem') })
  t.equal(await outcome(s, `${target(peer)};transport=tls`), 503, 'other.example is not 127.0.0.1')
})

t.test('TLSVerifyServer disabled: every certificate is accepted, with a warning at start-up', async (t) => {
  const peer = await tlsPeer(t, 'other')
  const lines: string[] = []
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) })
  const s = await client(t, { verify: false }, pino({ level: 'info' }, sink))
  t.ok(lines.some((l) => /"level":40/.test(l) && /TLSVerifyServer is off/.test(l)), 'a warning says verification is off')
  t.equal(await outcome(s, `${target(peer)};transport=tls`), 200, 'answered despite the unknown CA and the wrong name')
})

t.test('through the server: an untrusted TLS initiator is reported 503; with TLSCAFile the call goes on', async (t) => {
  const peer = await tlsPeer(t, 'good')
  for (const [settings, expected] of [
    [{}, 503],
    [{ tlsCaFile: file('ca.pem') }, 200],
  ] as const) {
    const srv = await startTestServer({ ...settings, initiatorRingTimeout: 8, cdrDatabase: '' })
    t.teardown(() => srv.close())
    const c = await XmlClient.connect(srv.xmlPort)
    t.teardown(() => c.close())
    c.write(request(`${target(peer)};transport=tls`, 'sip:nobody@127.0.0.1:9'))
    const r = await c.until((rs) => rs.some((x) => x.leg === 'Initiator' && (x.code === 200 || x.code >= 300)), 15000)
    const initiator = r.find((x) => x.leg === 'Initiator' && (x.code === 200 || x.code >= 300))
    t.equal(initiator?.code, expected, `${JSON.stringify(settings)}: initiator leg ${initiator?.code} ${initiator?.text}`)
    await srv.close()
  }
})

t.test('reload: a CA file, the listener\'s certificate and the verification switch change without a restart; an unreadable file changes nothing', async (t) => {
  const peer = await tlsPeer(t, 'other')
  const s = await client(t)
  const url = `${target(peer)};transport=tls`
  t.equal(await outcome(s, url), 503, 'untrusted at first')
  t.same(s.reconfigure({ tlsClient: { caFile: file('ca.pem') } }), [], 'nothing needs a restart')
  t.equal(await outcome(s, url), 503, 'trusted CA now, but the peer\'s certificate names other.example')
  // the peer swaps its certificate for one that names 127.0.0.1
  t.same(peer.reconfigure({ tls: { port: 0, certFile: file('good.pem'), keyFile: file('good.key') } }), [])
  t.equal(await outcome(s, url), 200, 'the new certificate is served to new connections, and trusted')
  t.throws(() => s.reconfigure({ tlsClient: { caFile: file('gone.pem') } }), { name: 'ConfigError', message: /TLSCAFile: cannot read .*gone\.pem/ })
  t.equal(await outcome(s, url), 200, 'the refused reload left the CA file in place')
  t.throws(() => peer.reconfigure({ tls: { port: 0, certFile: file('gone.pem'), keyFile: file('good.key') } }), { name: 'ConfigError' })
  t.same(s.reconfigure({}), [], 'back to the defaults: verification on, built-in CAs')
  t.equal(await outcome(s, url), 503, 'untrusted again')
  t.same(s.reconfigure({ tlsClient: { verify: false } }), [])
  t.equal(await outcome(s, url), 200, 'verification off')
  t.same(s.reconfigure({ tls: { port: 0, certFile: file('good.pem'), keyFile: file('good.key') } }), ['TLSCertificate/TLSPrivateKey'], 'turning TLS on needs a restart')
})

t.test('server reload: TLSCAFile set by SIGHUP makes the TLS initiator trusted', async (t) => {
  const peer = await tlsPeer(t, 'good')
  const srv = await startTestServer({ initiatorRingTimeout: 8, cdrDatabase: '' })
  t.teardown(() => srv.close())
  const call = async (): Promise<number | undefined> => {
    const c = await XmlClient.connect(srv.xmlPort)
    t.teardown(() => c.close())
    c.write(request(`${target(peer)};transport=tls`, 'sip:nobody@127.0.0.1:9'))
    const r = await c.until((rs) => rs.some((x) => x.leg === 'Initiator' && (x.code === 200 || x.code >= 300)), 15000)
    return r.find((x) => x.leg === 'Initiator' && (x.code === 200 || x.code >= 300))?.code
  }
  t.equal(await call(), 503, 'before the reload')
  srv.server.reload({ ...srv.config, tlsCaFile: file('ca.pem') })
  t.equal(await call(), 200, 'after it')
  t.throws(() => srv.server.reload({ ...srv.config, tlsCaFile: file('missing-ca.pem') }), { name: 'ConfigError' }, 'an unreadable CA file refuses the reload')
})

function runDaemon(conf: string, check = false): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...(check ? ['--check-config'] : []), '--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, out })))
  })
}

t.test('the daemon refuses to start (78) on a certificate, key or CA file it cannot read, naming it; --check-config too', async (t) => {
  // TLSPort 1 is never bound: the files are read before any socket opens (TLSPort 0 would turn TLS off)
  const base = 'IPAddress = 127.0.0.1\nUDPTCPPort = 0\nTLSPort = 1\nXmlRpcPort = 0\nHttpPort = 0\nLogFilename =\nTranslationPattern = ^(.*)$\nTranslationOutput = sip:$1@127.0.0.1\n'
  const cases: Array<[string, RegExp]> = [
    [`TLSCertificate = ${file('missing.pem')}\nTLSPrivateKey = ${file('good.key')}\n`, /TLSCertificate: cannot read .*missing\.pem/],
    [`TLSCertificate = ${file('good.pem')}\nTLSPrivateKey = ${file('absent.key')}\n`, /TLSPrivateKey: cannot read .*absent\.key/],
    [`TLSCAFile = ${file('no-ca.pem')}\n`, /TLSCAFile: cannot read .*no-ca\.pem/],
  ]
  for (const [extra, message] of cases) {
    const conf = file(`bad-${cases.findIndex((c) => c[0] === extra)}.conf`)
    writeFileSync(conf, base + extra)
    const r = await runDaemon(conf)
    t.equal(r.code, 78, `exit 78 for ${extra.trim().split('\n')[0]}`)
    t.match(r.out, message, 'the file is named')
    const check = await runDaemon(conf, true)
    t.equal(check.code, 78, '--check-config refuses it too')
    t.match(check.out, message, 'with the same message')
  }
})
