/**
 * RFC 3261 details on the wire, against hand-made peers on raw UDP sockets:
 * the To tag of the responses the stack generates out of any dialog
 * (§8.2.6.2), the Route of the ACK for a non-2xx final response (§17.1.1.3),
 * and no Supported option tag that the stack does not implement.
 */
import t from 'tap'
import pino from 'pino'
import { createSipStack, type SipStack } from '../lib/sip'
import { RawSipPeer, type Teardown } from './helpers/raw-sip'

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\n'

async function stack(t: Teardown, outboundProxy?: string): Promise<SipStack> {
  const s = await createSipStack({
    address: '127.0.0.1',
    port: 0,
    advertisedHost: '127.0.0.1',
    keepAlives: false,
    userAgent: 'ClickToCall',
    logger,
    timers: { T1: 50 },
    ...(outboundProxy ? { outboundProxy } : {}),
  })
  t.teardown(() => s.close())
  return s
}

/** an out-of-dialog request (no To tag) from `peer` to the stack */
function request(s: SipStack, peer: RawSipPeer, method: string, id: string, branch = `z9hG4bK${id}`, extra = ''): string {
  return (
    `${method} sip:x@127.0.0.1:${s.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${branch};rport\r\n` +
    `From: <sip:a@127.0.0.1>;tag=from-${id}\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: ${id}\r\nCSeq: 1 ${method}\r\n` +
    `Max-Forwards: 70\r\nContact: <sip:a@127.0.0.1:${peer.port}>\r\n${extra}Content-Length: 0\r\n\r\n`
  )
}

const TAG = /;tag=([^;>\s]+)/

t.test('out-of-dialog final responses carry a To tag (403, 200 to OPTIONS, 405, 481)', async (t) => {
  const s = await stack(t)
  const peer = await RawSipPeer.open(t)
  const cases: Array<[method: string, status: RegExp]> = [
    ['OPTIONS', /^SIP\/2\.0 200 /],
    ['INVITE', /^SIP\/2\.0 403 /],
    ['SUBSCRIBE', /^SIP\/2\.0 405 /],
    ['MESSAGE', /^SIP\/2\.0 405 /],
    ['BYE', /^SIP\/2\.0 481 /],
    ['NOTIFY', /^SIP\/2\.0 481 /],
    ['REFER', /^SIP\/2\.0 481 /],
    ['CANCEL', /^SIP\/2\.0 481 /],
  ]
  for (const [method, status] of cases) {
    const id = `oodtag-${method.toLowerCase()}`
    peer.send(request(s, peer, method, id), s.port)
    const rs = await peer.next(status, peer.got.length)
    t.equal(rs.header('Call-ID'), id, `${method}: the response to our request`)
    t.match(rs.header('To'), TAG, `${method}: ${rs.first} has a To tag`)
    t.match(rs.header('From'), new RegExp(`;tag=from-${id}`), `${method}: the From tag is ours, unchanged`)
  }
})

t.test('a retransmitted request gets the same To tag; two requests get two tags', async (t) => {
  const s = await stack(t)
  const peer = await RawSipPeer.open(t)
  const text = request(s, peer, 'OPTIONS', 'retx-1')
  peer.send(text, s.port)
  const first = await peer.next(/^SIP\/2\.0 200 /)
  peer.send(text, s.port)
  const again = await peer.next(/^SIP\/2\.0 200 /, peer.got.indexOf(first) + 1)
  t.equal(TAG.exec(again.header('To'))?.[1], TAG.exec(first.header('To'))?.[1], 'the same tag for the retransmission')
  peer.send(request(s, peer, 'OPTIONS', 'retx-2'), s.port)
  const other = await peer.next(/^SIP\/2\.0 200 /, peer.got.indexOf(again) + 1)
  t.equal(other.header('Call-ID'), 'retx-2')
  t.not(TAG.exec(other.header('To'))?.[1], TAG.exec(first.header('To'))?.[1], 'another request, another tag')
})

t.test('the 200 to a CANCEL carries the To tag of the INVITE\'s responses', async (t) => {
  const s = await stack(t)
  s.on('invite', (inv) => inv.progress(180, 'Ringing'))
  const peer = await RawSipPeer.open(t)
  peer.send(request(s, peer, 'INVITE', 'cancel-tag', 'z9hG4bKcanceltag'), s.port)
  const ringing = await peer.next(/^SIP\/2\.0 180 /)
  peer.send(request(s, peer, 'CANCEL', 'cancel-tag', 'z9hG4bKcanceltag'), s.port)
  const ok = await peer.next(/^SIP\/2\.0 200 /)
  t.match(ok.header('CSeq'), /CANCEL$/)
  const terminated = await peer.next(/^SIP\/2\.0 487 /)
  const tag = TAG.exec(ringing.header('To'))?.[1]
  t.ok(tag, 'the 180 has a tag')
  t.equal(TAG.exec(ok.header('To'))?.[1], tag, '200 to CANCEL: the same tag (RFC 3261 §9.2)')
  t.equal(TAG.exec(terminated.header('To'))?.[1], tag, '487: the same tag')
})

t.test('the ACK for a non-2xx final response carries the INVITE\'s Route (the outbound proxy)', async (t) => {
  const proxy = await RawSipPeer.open(t)
  const s = await stack(t, `sip:127.0.0.1:${proxy.port}`)
  const inv = s.invite({ target: 'sip:bob@far.example.invalid', from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
  const failed = new Promise<number>((resolve) => inv.on('failed', (status: number) => resolve(status)))
  const rq = await proxy.next(/^INVITE /)
  t.equal(rq.first, 'INVITE sip:bob@far.example.invalid SIP/2.0', 'the Request-URI is the target')
  const route = rq.header('Route')
  t.match(route, new RegExp(`^<sip:127\\.0\\.0\\.1:${proxy.port};lr>$`), 'the INVITE is routed through the proxy')
  proxy.respond(rq, '486 Busy Here', { toTag: 'busy1' })
  t.equal(await failed, 486)
  const ack = await proxy.next(/^ACK /)
  t.equal(ack.first, 'ACK sip:bob@far.example.invalid SIP/2.0', 'ACK Request-URI as the INVITE\'s')
  t.equal(ack.header('Route'), route, 'the ACK has the INVITE\'s Route')
  t.match(ack.header('To'), /;tag=busy1/, 'and the To of the response')
  t.equal(/branch=([^;]+)/.exec(ack.header('Via'))?.[1], /branch=([^;]+)/.exec(rq.header('Via'))?.[1], 'in the INVITE transaction')
})

t.test('without a proxy the ACK of a non-2xx has no Route', async (t) => {
  const peer = await RawSipPeer.open(t)
  const s = await stack(t)
  s.invite({ target: `sip:bob@127.0.0.1:${peer.port}`, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
  const rq = await peer.next(/^INVITE /)
  peer.respond(rq, '404 Not Found', { toTag: 'nf' })
  const ack = await peer.next(/^ACK /)
  t.equal(ack.headers('Route').length, 0, 'no Route header')
})

t.test('Supported lists no option tag the stack does not implement (no replaces, no norefersub)', async (t) => {
  const s = await stack(t)
  const peer = await RawSipPeer.open(t)
  s.invite({ target: `sip:bob@127.0.0.1:${peer.port}`, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
  const rq = await peer.next(/^INVITE /)
  peer.respond(rq, '486 Busy Here', { toTag: 's1' })
  peer.send(request(s, peer, 'OPTIONS', 'supported-1'), s.port)
  const ok = await peer.next(/^SIP\/2\.0 200 /)
  for (const [what, m] of [['INVITE', rq], ['200 to OPTIONS', ok]] as const) {
    const supported = [...m.headers('Supported'), ...m.headers('k')].join(',')
    t.notMatch(supported, /replaces|norefersub/i, `${what}: Supported "${supported}"`)
  }
  t.match(ok.header('Allow'), /INVITE/, 'OPTIONS still lists the methods')
})
