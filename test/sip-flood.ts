/**
 * A flood of idle SIP TCP connections cannot take the service down: the
 * daemon (a child process with its own descriptors) keeps at most
 * SipMaxConnectionsPerAddress from one address and at most its total cap
 * (bounded by half the open-file limit), closes idle ones that carry no
 * dialog after SipIdleConnectionTimeout, and calls through the XML port,
 * the HTTP port and outbound SIP over TCP keep working meanwhile. Every
 * loop is bounded in count and time.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { createSipStack, type Dialog, type IncomingInvite } from '../lib/sip'
import type { Stack } from '../lib/sip/stack'
import { inboundCap, openFileLimit } from '../lib/sip/fd-limit'
import { addressKey } from '../lib/net'
import { createPhone, type Phone } from '../lib/phone'
import { startDaemon, type Daemon } from './helpers/measured-daemon'
import { XmlClient, request } from './helpers/xml-client'
import type { Teardown } from './helpers/raw-sip'

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n'
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

interface Flood {
  /** connections the server has not closed */
  open(): number
  close(): void
}

/**
 * `n` idle TCP connections to `port` from `localAddress`, opened in batches
 * of 250 (each batch waits until every socket is connected or closed, at
 * most 2 s); the whole at most `budgetMs`.
 */
async function flood(t: Teardown, port: number, n: number, localAddress = '127.0.0.1', budgetMs = 30_000): Promise<Flood> {
  const live = new Set<net.Socket>()
  const all: net.Socket[] = []
  const started = Date.now()
  for (let done = 0; done < n && Date.now() - started < budgetMs; ) {
    const batch = Math.min(250, n - done)
    await Promise.all(
      Array.from({ length: batch }, () => {
        const s = net.connect({ port, host: '127.0.0.1', localAddress })
        all.push(s)
        s.on('error', () => undefined)
        s.on('close', () => live.delete(s))
        return new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000)
          s.once('connect', () => {
            live.add(s)
            clearTimeout(timer)
            resolve()
          })
          s.once('close', () => (clearTimeout(timer), resolve()))
        })
      }),
    )
    done += batch
  }
  const f: Flood = { open: () => live.size, close: () => all.forEach((s) => s.destroy()) }
  t.teardown(() => f.close())
  return f
}

/** wait (bounded) until `pred` holds; returns the time it took, or -1 */
async function within(ms: number, pred: () => boolean): Promise<number> {
  const start = Date.now()
  while (Date.now() - start < ms) {
    if (pred()) return Date.now() - start
    await sleep(50)
  }
  return pred() ? Date.now() - start : -1
}

function httpStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const rq = http.get({ host: '127.0.0.1', port, path: '/index.html', timeout: 5000 }, (rs) => {
      rs.resume()
      resolve(rs.statusCode ?? 0)
    })
    rq.on('timeout', () => rq.destroy())
    rq.on('error', () => resolve(0))
  })
}

/** a REFER call alice -> bob through the XML port: the final result */
async function xmlCall(t: Teardown, d: Daemon, alice: string, bob: string): Promise<string> {
  const c = await XmlClient.connect(d.xmlPort)
  t.teardown(() => c.close())
  c.write(request(alice, bob))
  const final = (await c.finals(1, 20_000)).find((r) => r.final)
  return `${final!.code} ${final!.leg ?? ''} ${final!.text}`
}

async function phones(t: Teardown): Promise<{ alice: Phone; bob: Phone }> {
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', followRefer: true, logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  t.teardown(() => bob.close())
  return { alice, bob }
}

async function conf(extra: string): Promise<string> {
  return (
    `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = ${await freePort()}\nHttpPort = ${await freePort()}\n` +
    `LogFilename =\nLogLevel = INFO\nReferNotifyTimeout = 10\nCdrDatabase =\n${extra}TranslationPattern = ^(sip:.*)$\nTranslationOutput = $1\n`
  )
}

t.test('3,000 idle connections from one address: 32 kept, calls go on, the idle ones closed after SipIdleConnectionTimeout', { timeout: 90_000 }, async (t) => {
  const { alice, bob } = await phones(t)
  const d = await startDaemon(t, await conf('SipIdleConnectionTimeout = 2\n'))
  const limits = d.lines().find((l) => l.msg === 'SIP inbound connection limits')
  t.match(limits, { maxPerAddress: 32, unusedIdleTimeoutMs: 2000 }, 'the limits are logged at start-up')
  // a first call opens what any call opens (sockets, files): the baseline is taken after it
  t.equal(await xmlCall(t, d, alice.uri, bob.uri), '200 Destination Connected to destination', 'a call before the flood')
  await alice.hangUp()
  await sleep(500)
  const base = { fds: d.fds(), rss: d.rssKiB() }
  const started = Date.now()
  const f = await flood(t, d.sipPort, 3000)
  await within(3000, () => f.open() <= 32)
  const held = { client: f.open(), fds: d.fds() - base.fds, rss: d.rssKiB() - base.rss }
  t.ok(held.client <= 32, `${held.client} of 3000 connections kept open by the server (cap 32 per address)`)
  t.ok(held.fds <= 32 + 8, `the server holds ${held.fds} more descriptors than before the flood`)
  t.ok(
    d.lines().some((l) => l.msg === 'SIP connection cap reached: connections refused or idle ones closed' && l.why === 'perAddress'),
    'the refusals are logged (rate-limited)',
  )
  t.equal(await xmlCall(t, d, alice.uri, bob.uri), '200 Destination Connected to destination', 'a call through the XML port succeeds during the flood')
  t.equal(await httpStatus(d.httpPort), 200, 'the HTTP port answers during the flood')
  const closedAfter = await within(8000, () => f.open() === 0)
  t.ok(closedAfter >= 0, `every idle connection closed by the server ${Date.now() - started} ms after the flood began`)
  t.ok(Date.now() - started >= 1500, 'not before the idle timeout')
  const recovered = await within(3000, () => d.fds() <= base.fds + 4)
  t.ok(recovered >= 0, `descriptors back to the baseline (${d.fds()} vs ${base.fds})`)
  t.comment(`figures: baseline ${base.fds} fds, ${base.rss} KiB RSS; during: +${held.fds} fds, +${held.rss} KiB; all idle closed after ${Date.now() - started} ms`)
  await alice.hangUp()
})

t.test('under ulimit -n 1024 the total cap is half of it (logged), and a full cap leaves the XML, HTTP and outbound TCP working', { timeout: 90_000 }, async (t) => {
  const { alice, bob } = await phones(t)
  const d = await startDaemon(t, await conf('SipMaxConnectionsPerAddress = 100000\nSipIdleConnectionTimeout = 30\n'), { ulimit: 1024 })
  const limits = d.lines().find((l) => /SIP inbound connections capped/.test(String(l.msg)))
  t.match(limits, { level: 40, maxConnections: 512, configured: 2048, fdLimit: 1024 }, 'the cap chosen and why, as a warning')
  const f = await flood(t, d.sipPort, 3000)
  await within(3000, () => f.open() <= 512)
  t.ok(f.open() <= 512 && f.open() >= 500, `${f.open()} of 3000 kept: the total cap, not the descriptor limit, stopped the flood`)
  t.ok(
    d.lines().some((l) => /SIP connection cap reached/.test(String(l.msg)) && l.why === 'evicted'),
    'making room (closing the oldest idle connection) is logged',
  )
  t.ok(d.fds() < 1024 - 256, `${d.fds()} descriptors in use of 1024`)
  t.equal(
    await xmlCall(t, d, `${alice.uri};transport=tcp`, `${bob.uri};transport=tcp`),
    '200 Destination Connected to destination',
    'a call to TCP phones through the XML port succeeds with the cap full',
  )
  t.equal(await httpStatus(d.httpPort), 200, 'the HTTP port answers with the cap full')
  t.equal(f.open() <= 512, true, 'still within the cap')
  await alice.hangUp()
})

// ------------------------------------------------------------ in-process stacks

async function stack(t: Teardown, connections: { max?: number; perAddress?: number; unusedIdleTimeoutMs?: number }): Promise<Stack> {
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: true, userAgent: 'x', logger, timers: { T1: 20 }, connections })
  t.teardown(() => s.close())
  return s as unknown as Stack
}

t.test('an inbound connection with a live dialog outlives the short idle time and a full cap; it closes once the dialog is gone', { timeout: 30_000 }, async (t) => {
  const a = await stack(t, { unusedIdleTimeoutMs: 300, max: 4, perAddress: 100 })
  let dialogA: Dialog | undefined
  a.on('invite', (inv: IncomingInvite) => void inv.accept(SDP).then((dl) => (dialogA = dl), () => undefined))
  const b = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: true, userAgent: 'b', logger, timers: { T1: 20 } })
  t.teardown(() => b.close())
  const dialog = await new Promise<Dialog | number>((resolve) => {
    const inv = b.invite({ target: `sip:a@127.0.0.1:${a.port};transport=tcp`, from: { uri: 'sip:b@127.0.0.1' }, sdp: SDP })
    inv.on('answered', (dl: Dialog) => resolve(dl))
    inv.on('failed', (st: number) => resolve(st))
  })
  t.type(dialog, 'object', 'answered over TCP')
  t.equal(a.transports.inboundStats().total, 1, 'one inbound connection on A')
  await sleep(1200) // four times the short idle time, with keepalives but no SIP message
  t.equal(a.transports.inboundStats().total, 1, 'kept: it carries a live dialog')
  t.equal(dialogA?.state, 'confirmed')
  const f = await flood(t, a.port, 20, '127.0.0.2', 5000)
  await within(3000, () => f.open() <= 3)
  t.equal(a.transports.inboundStats().total, 4, 'the cap is full')
  t.equal(f.open(), 3, `the flood keeps 3 (${f.open()}): unused connections make room for each other, never for the live one`)
  await (dialog as Dialog).bye()
  // the dialog lingers 64*T1 (1.28 s) for retransmissions, then the connection idles 300 ms
  const gone = await within(5000, () => a.transports.inboundStats().total === 0)
  t.ok(gone >= 0, `closed ${gone} ms after the BYE, once nothing lives on it`)
})

t.test('a connection that only sent an OPTIONS is closed after the short idle time', { timeout: 20_000 }, async (t) => {
  const a = await stack(t, { unusedIdleTimeoutMs: 300 })
  const s = net.connect({ port: a.port, host: '127.0.0.1' })
  t.teardown(() => s.destroy())
  s.on('error', () => undefined)
  let got = ''
  s.on('data', (d: Buffer) => (got += d.toString()))
  const closed = new Promise<number>((resolve) => s.on('close', () => resolve(Date.now())))
  await new Promise<void>((r) => s.once('connect', () => r()))
  const sent = Date.now()
  s.write(`OPTIONS sip:x@127.0.0.1:${a.port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bKopt1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: idle-options-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`)
  const at = await Promise.race([closed, sleep(5000).then(() => -1)])
  t.match(got, /^SIP\/2\.0 200 OK/, 'the OPTIONS was answered')
  t.ok(at > 0, 'then the server closed the connection')
  t.ok(at - sent >= 250 && at - sent < 3000, `after ${at - sent} ms of idle (limit 300 ms)`)
})

t.test('the total cap holds across addresses; outbound TCP calls still work with it full', { timeout: 30_000 }, async (t) => {
  const a = await stack(t, { max: 40, perAddress: 10, unusedIdleTimeoutMs: 20_000 })
  const floods: Flood[] = []
  for (let i = 2; i <= 7; i++) floods.push(await flood(t, a.port, 15, `127.0.0.${i}`, 5000))
  await within(3000, () => floods.reduce((n, f) => n + f.open(), 0) <= 40)
  const open = floods.reduce((n, f) => n + f.open(), 0)
  const stats = a.transports.inboundStats()
  t.equal(stats.total, 40, '40 inbound connections (the total cap) of 90 attempts')
  t.equal(open, 40, 'and the clients see the others closed')
  t.ok(stats.busiestAddress <= 10, `at most 10 from one address (${stats.busiestAddress})`)
  t.equal(floods[0]!.open() + floods[1]!.open(), 0, 'the oldest unused connections made room for newer ones')
  const phone = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'p', logger })
  t.teardown(() => phone.close())
  phone.on('invite', (inv: IncomingInvite) => void inv.accept(SDP).catch(() => undefined))
  const result = await new Promise<Dialog | number>((resolve) => {
    const inv = a.invite({ target: `sip:p@127.0.0.1:${phone.port};transport=tcp`, from: { uri: 'sip:a@127.0.0.1' }, sdp: SDP })
    inv.on('answered', (dl: Dialog) => resolve(dl))
    inv.on('failed', (st: number) => resolve(st))
  })
  t.type(result, 'object', 'an outbound call over TCP is answered while the inbound cap is full')
  if (typeof result === 'object') await result.bye()
})

t.test('TLS: connections are capped before their handshake; one that never completes it is closed after the short idle time', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-flood-tls-'))
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')]
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  const a = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', tls: { port: 0, certFile: cert, keyFile: key }, keepAlives: false, userAgent: 'x', logger, connections: { perAddress: 5, unusedIdleTimeoutMs: 500 } })
  t.teardown(() => a.close())
  a.on('invite', (inv: IncomingInvite) => void inv.accept(SDP).catch(() => undefined))
  const f = await flood(t, a.tlsPort!, 20, '127.0.0.1', 5000)
  await within(3000, () => f.open() <= 5)
  t.equal(f.open(), 5, '5 of 20 silent connections kept (the per-address cap), none of them past its handshake')
  t.equal((a as unknown as Stack).transports.inboundStats().total, 5)
  const closed = await within(4000, () => f.open() === 0)
  t.ok(closed >= 0, `the silent ones closed by the handshake timeout (${closed} ms later)`)
  const caller = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'c', logger, tlsClient: { caFile: cert } })
  t.teardown(() => caller.close())
  const result = await new Promise<Dialog | number>((resolve) => {
    const inv = caller.invite({ target: `sip:a@127.0.0.1:${a.tlsPort};transport=tls`, from: { uri: 'sip:c@127.0.0.1' }, sdp: SDP })
    inv.on('answered', (dl: Dialog) => resolve(dl))
    inv.on('failed', (st: number) => resolve(st))
  })
  t.type(result, 'object', 'then a verified TLS call is answered')
  if (typeof result === 'object') await result.bye()
})

t.test('reload: new connection limits apply to new connections', { timeout: 20_000 }, async (t) => {
  const a = await stack(t, { perAddress: 2, unusedIdleTimeoutMs: 20_000 })
  const first = await flood(t, a.port, 5, '127.0.0.1', 5000)
  await within(3000, () => first.open() <= 2)
  t.equal(a.transports.inboundStats().total, 2, 'two from one address')
  t.same(a.reconfigure({ connections: { perAddress: 4, unusedIdleTimeoutMs: 20_000 } }), [], 'no restart needed')
  const second = await flood(t, a.port, 5, '127.0.0.1', 5000)
  await within(3000, () => second.open() <= 2)
  t.equal(a.transports.inboundStats().total, 4, 'four after the reload')
  t.equal(first.open() + second.open(), 4)
})

t.test('the per-address cap counts an IPv6 /64 as one address', async (t) => {
  t.equal(addressKey('192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:db8:1:2:ffff::9'), '2001:db8:1:2::/64', 'another host of the same /64')
  t.equal(addressKey('2001:DB8:0001:0002::1'), '2001:db8:1:2::/64', 'case and leading zeros')
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64', 'a :: inside the prefix')
  t.not(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'), 'the next /64 is another address')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
})

t.test('the cap against the descriptor limit', async (t) => {
  t.equal(inboundCap(2048, 1024), 512, 'half of 1024')
  t.equal(inboundCap(2048, 1_048_576), 2048, 'the configured cap when the limit is large')
  t.equal(inboundCap(2048, undefined), 2048, 'the configured cap when the limit is unknown')
  t.equal(inboundCap(2048, 1), 1, 'never 0')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-limits-'))
  const file = path.join(dir, 'limits')
  writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n')
  t.equal(openFileLimit(file), 4096, 'the soft limit from a /proc limits file')
  t.equal(openFileLimit(path.join(dir, 'absent')), undefined, 'unknown when unreadable')
  t.type(openFileLimit(), 'number', 'this process has one')
})

