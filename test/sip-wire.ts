/**
 * The SIP layer against hand-made peers on raw UDP sockets, for what a
 * well-behaved phone never does: forked and retransmitted 2xx, a CANCEL left
 * without its 487, a second digest challenge, a strict router, an ACK that
 * reuses the INVITE's branch, a NOTIFY for a subscription we do not have.
 * Also: our branches on the wire, the diagnostics channel, BindError.
 */
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import { readFileSync } from 'node:fs'
import diagnostics from 'node:diagnostics_channel'
import pino from 'pino'
import { createSipStack, type Dialog, type SipStack, type MessageTrace } from '../lib/sip'
import { BindError } from '../lib/errors'

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n'
const T1 = 50

async function stack(t: Test, extra: Partial<Parameters<typeof createSipStack>[0]> = {}): Promise<SipStack> {
  const s = await createSipStack({
    address: '127.0.0.1',
    port: 0,
    advertisedHost: '127.0.0.1',
    keepAlives: false,
    userAgent: 'ClickToCall',
    logger,
    timers: { T1 },
    ...extra,
  })
  t.teardown(() => s.close())
  return s
}

interface Received {
  text: string
  port: number
  first: string
  header(name: string): string
  headers(name: string): string[]
}

/** A SIP peer on a raw UDP socket: collects what arrives, replies by hand. */
class RawPeer {
  readonly got: Received[] = []
  private waiters: Array<{ test: (r: Received) => boolean; resolve: (r: Received) => void }> = []
  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (buf, rinfo) => {
      const text = buf.toString()
      const lines = text.split('\r\n\r\n')[0]!.split('\r\n')
      const headers = (name: string): string[] =>
        lines
          .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
          .map((l) => l.slice(l.indexOf(':') + 1).trim())
      const r: Received = { text, port: rinfo.port, first: lines[0]!, headers, header: (n) => headers(n)[0] ?? '' }
      this.got.push(r)
      for (const w of [...this.waiters]) {
        if (w.test(r)) {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          w.resolve(r)
        }
      }
    })
  }

  static async open(t: Test): Promise<RawPeer> {
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()))
    const p = new RawPeer(sock)
    t.teardown(() => sock.close())
    return p
  }

  get port(): number {
    return this.sock.address().port
  }

  /** the next message (already received or to come) whose first line matches */
  next(pattern: RegExp, after = 0, ms = 10_000): Promise<Received> {
    const test = (r: Received): boolean => pattern.test(r.first)
    const seen = this.got.slice(after).find(test)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms`)), ms)
      this.waiters.push({ test, resolve: (r) => (clearTimeout(timer), resolve(r)) })
    })
  }

  count(pattern: RegExp): number {
    return this.got.filter((r) => pattern.test(r.first)).length
  }

  send(text: string, port: number): void {
    this.sock.send(text, port, '127.0.0.1')
  }

  /** a response to `rq`, echoing its Via/From/To/Call-ID/CSeq */
  respond(rq: Received, status: string, port: number, opts: { toTag?: string; extra?: string; body?: string } = {}): void {
    const to = rq.header('To') + (opts.toTag && !/;tag=/.test(rq.header('To')) ? `;tag=${opts.toTag}` : '')
    const body = opts.body ?? ''
    const vias = rq.headers('Via').map((v) => `Via: ${v}\r\n`).join('')
    this.send(
      `SIP/2.0 ${status}\r\n${vias}From: ${rq.header('From')}\r\nTo: ${to}\r\nCall-ID: ${rq.header('Call-ID')}\r\nCSeq: ${rq.header('CSeq')}\r\n${opts.extra ?? ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      port,
    )
  }
}

function call(s: SipStack, target: string, sdp: string | undefined = SDP) {
  const inv = s.invite({ target, from: { uri: 'sip:click2call@127.0.0.1' }, ...(sdp ? { sdp } : {}) })
  const outcome = new Promise<{ dialog?: Dialog; status?: number }>((resolve) => {
    inv.on('answered', (dialog: Dialog) => resolve({ dialog }))
    inv.on('failed', (status: number) => resolve({ status }))
  })
  return { inv, outcome }
}

t.test('our Via branches are crypto-random, not the package\'s Math.random ones', async (t) => {
  const s = await stack(t)
  const peer = await RawPeer.open(t)
  call(s, `sip:bob@127.0.0.1:${peer.port}`)
  const rq = await peer.next(/^INVITE /)
  t.match(rq.header('Via'), /;branch=z9hG4bK[0-9a-f]{20}(;|$)/, 'branch is z9hG4bK + 80 random bits')
  t.match(rq.header('Contact'), /^<sip:click2call@127\.0\.0\.1:\d+>$/, 'Contact with an explicit port')
  peer.respond(rq, '486 Busy Here', rq.port, { toTag: 'b1' })
  const ack = await peer.next(/^ACK /)
  t.equal(/branch=([^;]+)/.exec(ack.header('Via'))![1], /branch=([^;]+)/.exec(rq.header('Via'))![1], 'ACK of a non-2xx shares the INVITE branch')
})

t.test('every 2xx is ACKed: a retransmission gets the same ACK, a second fork is ACKed then hung up', async (t) => {
  const s = await stack(t)
  const peer = await RawPeer.open(t)
  const { outcome } = call(s, `sip:bob@127.0.0.1:${peer.port}`)
  const rq = await peer.next(/^INVITE /)
  const contact = `Contact: <sip:bob@127.0.0.1:${peer.port}>\r\nContent-Type: application/sdp\r\n`
  peer.respond(rq, '200 OK', rq.port, { toTag: 'fork1', extra: contact, body: SDP })
  const r = await outcome
  t.ok(r.dialog, 'answered')
  const ack1 = await peer.next(/^ACK /)
  peer.respond(rq, '200 OK', rq.port, { toTag: 'fork1', extra: contact, body: SDP })
  const ack2 = await peer.next(/^ACK /, peer.got.indexOf(ack1) + 1)
  t.equal(ack2.header('Via'), ack1.header('Via'), 'the same ACK again for the retransmitted 2xx')
  peer.respond(rq, '200 OK', rq.port, { toTag: 'fork2', extra: contact, body: SDP })
  const bye = await peer.next(/^BYE /)
  t.match(bye.header('To'), /tag=fork2/, 'the second fork is hung up')
  t.ok(peer.got.some((m) => /^ACK /.test(m.first) && /tag=fork2/.test(m.header('To'))), 'and was ACKed first')
  peer.respond(bye, '200 OK', bye.port)
  t.equal(r.dialog!.state, 'confirmed', 'the first fork stays up')
  t.equal(r.dialog!.remoteTag, 'fork1')
})

t.test('CANCEL answered 200 but no 487 ever: the INVITE gives up after 64*T1', async (t) => {
  const s = await stack(t)
  const peer = await RawPeer.open(t)
  const { inv, outcome } = call(s, `sip:bob@127.0.0.1:${peer.port}`)
  const rq = await peer.next(/^INVITE /)
  peer.respond(rq, '180 Ringing', rq.port, { toTag: 'r1' })
  await new Promise((resolve) => inv.once('progress', resolve))
  const started = Date.now()
  inv.cancel()
  const cancel = await peer.next(/^CANCEL /)
  t.equal(/branch=([^;]+)/.exec(cancel.header('Via'))![1], /branch=([^;]+)/.exec(rq.header('Via'))![1], 'CANCEL has the INVITE branch')
  t.match(cancel.header('CSeq'), /^1 CANCEL$/)
  peer.respond(cancel, '200 OK', cancel.port)
  const r = await outcome
  t.equal(r.status, 487)
  const took = Date.now() - started
  t.ok(took >= 64 * T1 * 0.9 && took < 20_000, `gave up after ${took} ms (64*T1 = ${64 * T1})`)
})

t.test('a 2xx racing the CANCEL is ACKed then hung up; reported 487', async (t) => {
  const s = await stack(t)
  const peer = await RawPeer.open(t)
  const { inv, outcome } = call(s, `sip:bob@127.0.0.1:${peer.port}`)
  const rq = await peer.next(/^INVITE /)
  peer.respond(rq, '180 Ringing', rq.port, { toTag: 'x1' })
  await new Promise((resolve) => inv.once('progress', resolve))
  inv.cancel()
  const cancel = await peer.next(/^CANCEL /)
  peer.respond(rq, '200 OK', rq.port, { toTag: 'x1', extra: `Contact: <sip:bob@127.0.0.1:${peer.port}>\r\n` })
  peer.respond(cancel, '200 OK', cancel.port)
  t.equal((await outcome).status, 487)
  await peer.next(/^ACK /)
  const bye = await peer.next(/^BYE /)
  t.match(bye.header('To'), /tag=x1/)
  peer.respond(bye, '200 OK', bye.port)
})

t.test('digest: a second challenge is not answered again; without credentials the 407 is reported', async (t) => {
  const withCreds = await stack(t, { credentials: [{ username: 'u', password: 'p' }] })
  const peer = await RawPeer.open(t)
  const challenge = 'Proxy-Authenticate: Digest realm="r", nonce="n1", algorithm=MD5\r\n'
  const a = call(withCreds, `sip:bob@127.0.0.1:${peer.port}`)
  const first = await peer.next(/^INVITE /)
  peer.respond(first, '407 Proxy Authentication Required', first.port, { toTag: 'c1', extra: challenge })
  const second = await peer.next(/^INVITE /, peer.got.indexOf(first) + 1)
  t.match(second.header('Proxy-Authorization'), /^Digest .*response="[0-9a-f]{32}"/, 'answered with MD5 (no qop)')
  t.match(second.header('CSeq'), /^2 INVITE$/, 'a new CSeq')
  t.equal(second.header('Call-ID'), first.header('Call-ID'), 'the same Call-ID')
  peer.respond(second, '407 Proxy Authentication Required', second.port, { toTag: 'c2', extra: challenge })
  t.equal((await a.outcome).status, 407, 'the second challenge is reported')
  t.equal(peer.count(/^INVITE /), 2, 'no third INVITE')

  const bare = await stack(t)
  const b = call(bare, `sip:bob@127.0.0.1:${peer.port}`)
  const rq = await peer.next(/^INVITE /, peer.got.length)
  peer.respond(rq, '401 Unauthorized', rq.port, { toTag: 'c3', extra: 'WWW-Authenticate: Digest realm="r", nonce="n2"\r\n' })
  t.equal((await b.outcome).status, 401)
})

t.test('in-dialog requests: loose and strict routers in the route set', async (t) => {
  const s = await stack(t)
  const peer = await RawPeer.open(t)
  const proxy = await RawPeer.open(t)
  for (const lr of [true, false]) {
    const { outcome } = call(s, `sip:bob@127.0.0.1:${peer.port}`)
    const rq = await peer.next(/^INVITE /, peer.got.length)
    const rr = `Record-Route: <sip:127.0.0.1:${proxy.port}${lr ? ';lr' : ''}>\r\n`
    peer.respond(rq, '200 OK', rq.port, { toTag: `rr${lr}`, extra: `${rr}Contact: <sip:bob@127.0.0.1:${peer.port}>\r\n` })
    const r = await outcome
    t.ok(r.dialog)
    const bye = r.dialog!.bye()
    const got = await proxy.next(/^BYE /, proxy.got.length)
    if (lr) {
      t.equal(got.first, `BYE sip:bob@127.0.0.1:${peer.port} SIP/2.0`, 'loose: Request-URI is the remote target')
      t.match(got.header('Route'), new RegExp(`<sip:127\\.0\\.0\\.1:${proxy.port};lr>`), 'loose: Route is the proxy')
    } else {
      t.equal(got.first, `BYE sip:127.0.0.1:${proxy.port} SIP/2.0`, 'strict: Request-URI is the strict router')
      t.match(got.header('Route'), new RegExp(`<sip:bob@127\\.0\\.0\\.1:${peer.port}>`), 'strict: the remote target goes last in Route')
    }
    proxy.respond(got, '200 OK', got.port)
    await bye
  }
})

t.test('UAS: an ACK that reuses the INVITE branch still confirms; NOTIFY for an unknown subscription gets 481', async (t) => {
  const s = await stack(t)
  s.on('invite', (inv) => void inv.accept(SDP).catch(() => undefined))
  const peer = await RawPeer.open(t)
  const branch = 'z9hG4bKsame1'
  const base = (method: string, seq: number, toTag = ''): string =>
    `${method} sip:x@127.0.0.1:${s.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${method === 'NOTIFY' ? 'z9hG4bKn1' : branch};rport\r\nFrom: <sip:a@127.0.0.1>;tag=aa\r\nTo: <sip:x@127.0.0.1>${toTag}\r\nCall-ID: same-branch-1\r\nCSeq: ${seq} ${method}\r\nContact: <sip:a@127.0.0.1:${peer.port}>\r\nMax-Forwards: 70\r\n`
  peer.send(`${base('INVITE', 1)}Content-Type: application/sdp\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`, s.port)
  t.match((await peer.next(/^SIP\/2\.0 100/)).first, /100 Trying/)
  const ok = await peer.next(/^SIP\/2\.0 200/)
  const tag = /;tag=([^;>]+)/.exec(ok.header('To'))![1]
  peer.send(`${base('ACK', 1, `;tag=${tag}`)}Content-Length: 0\r\n\r\n`, s.port)
  // no 2xx retransmission after the ACK: wait past two T1 intervals and count
  const before = peer.count(/^SIP\/2\.0 200/)
  await new Promise((resolve) => setTimeout(resolve, 8 * T1))
  t.equal(peer.count(/^SIP\/2\.0 200/), before, 'the 2xx is not retransmitted once ACKed')
  peer.send(`${base('NOTIFY', 2, `;tag=${tag}`)}Event: refer;id=99\r\nSubscription-State: active\r\nContent-Type: message/sipfrag\r\nContent-Length: 21\r\n\r\nSIP/2.0 180 Ringing\r\n`, s.port)
  t.match((await peer.next(/^SIP\/2\.0 481/)).first, /481/)
})

t.test('the diagnostics channel sees messages both ways', async (t) => {
  const s = await stack(t)
  const seen: MessageTrace[] = []
  const on = (m: unknown): void => void seen.push(m as MessageTrace)
  diagnostics.subscribe('clicktocall:sip:message', on)
  t.teardown(() => diagnostics.unsubscribe('clicktocall:sip:message', on))
  const peer = await RawPeer.open(t)
  peer.send(`OPTIONS sip:x@127.0.0.1:${s.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKo1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: diag-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`, s.port)
  await peer.next(/^SIP\/2\.0 200/)
  const mine = seen.filter((m) => m.callId === 'diag-1')
  t.same(
    mine.map((m) => [m.direction, m.firstLine]),
    [
      ['in', `OPTIONS sip:x@127.0.0.1:${s.port}`],
      ['out', '200 OK'],
    ],
  )
  t.equal(mine[0]!.remote.port, peer.port)
})

t.test('a taken port: createSipStack rejects with BindError', async (t) => {
  const s = await stack(t)
  let caught: unknown
  try {
    const other = await createSipStack({ address: '127.0.0.1', port: s.port, keepAlives: false, userAgent: 'x', logger })
    await other.close()
  } catch (err) {
    caught = err
  }
  t.ok(caught instanceof BindError, 'a BindError')
  t.equal((caught as BindError).code, 'CTC_ERR_BIND')
  t.match((caught as Error).message, new RegExp(`127\\.0\\.0\\.1:${s.port}`))
})

// the kernel caps what a socket may ask for at net.core.rmem_max
const rmemMax = ((): number => {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
  } catch {
    return 0
  }
})()

t.test('a burst of 3,000 datagrams is not dropped by the kernel: the UDP socket asks for large buffers', { timeout: 30000, skip: rmemMax < 2 * 1024 * 1024 ? `net.core.rmem_max is ${rmemMax}: the kernel would cap the buffer` : false }, async (t) => {
  const s = await stack(t)
  const client = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()))
  client.setRecvBufferSize(4 * 1024 * 1024)
  t.teardown(() => client.close())
  const port = client.address().port
  const N = 3000
  const answered = new Set<string>()
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10000)
    client.on('message', (m) => {
      const id = /Call-ID: *(\S+)/i.exec(m.toString())?.[1]
      if (id && /^SIP\/2\.0 200/.test(m.toString())) answered.add(id)
      if (answered.size === N) (clearTimeout(timer), resolve())
    })
  })
  // all sent before the stack's event loop gets to read one of them
  for (let i = 0; i < N; i++) {
    client.send(
      `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKburst${i}\r\nFrom: <sip:a@127.0.0.1>;tag=b${i}\r\n` +
        `To: <sip:x@127.0.0.1>\r\nCall-ID: burst-${i}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nX-Padding: ${'p'.repeat(200)}\r\nContent-Length: 0\r\n\r\n`,
      s.port,
      '127.0.0.1',
    )
  }
  await done
  t.equal(answered.size, N, `${answered.size} of ${N} OPTIONS answered, none lost to a full socket buffer`)
})

t.test('Content-Length counts the bytes of a non-ASCII body, and the body arrives whole', async (t) => {
  const s = await stack(t)
  const peer = await RawPeer.open(t)
  const sdp = SDP.replace('s=-', 's=Café ☎ Zürich')
  call(s, `sip:bob@127.0.0.1:${peer.port}`, sdp)
  const rq = await peer.next(/^INVITE /)
  const body = rq.text.slice(rq.text.indexOf('\r\n\r\n') + 4)
  t.equal(body, sdp, 'the body as sent')
  t.equal(Number(rq.header('Content-Length')), Buffer.byteLength(sdp), `Content-Length ${Buffer.byteLength(sdp)} bytes, not ${sdp.length} characters`)
  peer.respond(rq, '486 Busy Here', rq.port, { toTag: 'b2' })
  await peer.next(/^ACK /)
})
