/**
 * The SIP layer against in-process phones on loopback (real sockets):
 * INVITE/ACK, BYE both ways, re-INVITE, offerless INVITE, CANCEL, ring
 * timeout, REFER with NOTIFY progress, OPTIONS, 481/405/403.
 */
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import pino from 'pino'
import { createSipStack, type Dialog, type SipStack } from '../lib/sip'
import { createPhone, type Phone } from '../lib/phone'

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\na=inactive\r\n'

async function stack(t: Test, noNotifyTimeoutMs?: number, T1?: number): Promise<SipStack> {
  const timers = { ...(noNotifyTimeoutMs ? { noNotifyTimeoutMs } : {}), ...(T1 ? { T1 } : {}) }
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'ClickToCall', logger, timers })
  t.teardown(() => s.close())
  return s
}

async function phone(t: Test, name: string, behaviour: 'answer' | 'busy' | 'no-answer' | 'reject-refer', followRefer = false, referStyle?: 'normal' | 'notify-before-202' | 'no-final-notify'): Promise<Phone> {
  const p = await createPhone({ name, behaviour, followRefer, logger, ...(referStyle ? { referStyle } : {}) })
  t.teardown(() => p.close())
  return p
}

function invite(s: SipStack, target: string, opts: { sdp?: string; ringTimeoutMs?: number } = {}) {
  const inv = s.invite({ target, from: { uri: 'sip:click2call@127.0.0.1', displayName: 'Click-To-Call: bob' }, ...opts })
  const progress: number[] = []
  inv.on('progress', (st: number) => progress.push(st))
  const outcome = new Promise<{ dialog?: Dialog; sdp?: string; status?: number }>((resolve) => {
    inv.on('answered', (dialog: Dialog, sdp?: string) => resolve({ dialog, ...(sdp ? { sdp } : {}) }))
    inv.on('failed', (status: number) => resolve({ status }))
  })
  return { inv, progress, outcome }
}

t.test('INVITE answered and ACKed, BYE from us', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'answer')
  const { progress, outcome } = invite(s, alice.uri, { sdp: SDP })
  const r = await outcome
  t.ok(r.dialog, 'answered')
  t.ok(progress.includes(180), '180 reported')
  t.match(r.sdp, /o=alice/)
  await alice.waitFor('answered')
  const inv = alice.events.find((e) => e.type === 'invite')!
  t.match(inv.sdp, /a=inactive/)
  t.equal(inv.detail, 'Click-To-Call: bob', 'display name')
  await r.dialog!.bye()
  await alice.waitFor('bye')
  t.equal(r.dialog!.state, 'terminated')
})

t.test('BYE from the phone ends our dialog', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'answer')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  const ended = new Promise((resolve) => r.dialog!.on('terminated', resolve))
  await alice.waitFor('answered')
  await alice.hangUp()
  t.equal(await ended, 'remote-bye')
})

t.test('busy: 486', async (t) => {
  const s = await stack(t)
  const p = await phone(t, 'carol', 'busy')
  t.equal((await invite(s, p.uri, { sdp: SDP }).outcome).status, 486)
})

t.test('ring timeout: CANCEL, reported as 408', async (t) => {
  const s = await stack(t)
  const p = await phone(t, 'dave', 'no-answer')
  const started = Date.now()
  const r = await invite(s, p.uri, { sdp: SDP, ringTimeoutMs: 400 }).outcome
  t.equal(r.status, 408)
  const took = Date.now() - started
  t.ok(took >= 360 && took < 5000, `gave up after ${took} ms: the ring timeout (400 ms), not before, bounded`)
  await p.waitFor('cancelled')
})

t.test('cancel(): 487', async (t) => {
  const s = await stack(t)
  const p = await phone(t, 'erin', 'no-answer')
  const x = invite(s, p.uri, { sdp: SDP })
  await new Promise<void>((resolve) => x.inv.once('progress', () => resolve()))
  x.inv.cancel()
  t.equal((await x.outcome).status, 487)
})

t.test('offerless INVITE: the 2xx offer is answered in the ACK', async (t) => {
  const s = await stack(t)
  const bob = await phone(t, 'bob', 'answer')
  const r = await invite(s, bob.uri).outcome
  t.match(r.sdp, /o=bob/, 'offer in the 200')
  r.dialog!.ack(SDP)
  await bob.waitFor('answered')
  t.equal(bob.events.find((e) => e.type === 'invite')!.sdp, undefined, 'no SDP in the INVITE')
  await r.dialog!.bye()
})

t.test('re-INVITE both ways', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'answer')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  await alice.waitFor('answered')
  const res = await r.dialog!.reinvite(SDP.replace('inactive', 'sendrecv'))
  t.equal(res.status, 200)
  t.match(res.sdp, /o=alice/)
  const re = await alice.waitFor('reinvite')
  t.match(re.sdp, /sendrecv/)
  // phone -> us: default answer is our last SDP
  const back = await alice.dialogs[0]!.reinvite(alice.sdp)
  t.equal(back.status, 200)
  t.match(back.sdp, /sendrecv/)
  await r.dialog!.bye()
})

t.test('REFER: NOTIFY 100/180/200 in order, then terminated', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'answer', true)
  const bob = await phone(t, 'bob', 'answer')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  await alice.waitFor('answered')
  const sub = r.dialog!.refer({ referTo: bob.uri, referredBy: { uri: 'sip:click2call@127.0.0.1', displayName: 'Click-To-Call: bob' } })
  const seen: number[] = []
  let response = 0
  sub.on('response', (st: number) => (response = st))
  sub.on('notify', (f: { status: number }) => seen.push(f.status))
  const why = await new Promise((resolve) => sub.on('end', resolve))
  t.equal(why, 'terminated')
  t.equal(response, 202)
  t.same(seen, [100, 180, 200])
  await bob.waitFor('answered')
  await r.dialog!.bye()
})

t.test('REFER to a busy target: 486 fragment', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'answer', true)
  const busy = await phone(t, 'bob', 'busy')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  await alice.waitFor('answered')
  const sub = r.dialog!.refer({ referTo: busy.uri })
  const seen: number[] = []
  sub.on('notify', (f: { status: number }) => seen.push(f.status))
  await new Promise((resolve) => sub.on('end', resolve))
  t.same(seen, [100, 486])
})

t.test('REFER refused: response 603, end rejected', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'reject-refer')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  await alice.waitFor('answered')
  const sub = r.dialog!.refer({ referTo: 'sip:x@127.0.0.1:9' })
  let status = 0
  sub.on('response', (st: number) => (status = st))
  t.equal(await new Promise((resolve) => sub.on('end', resolve)), 'rejected')
  t.equal(status, 603)
})

t.test('REFER: a NOTIFY that comes before the 202 is taken', async (t) => {
  const s = await stack(t)
  const alice = await phone(t, 'alice', 'answer', true, 'notify-before-202')
  const bob = await phone(t, 'bob', 'answer')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  await alice.waitFor('answered')
  const sub = r.dialog!.refer({ referTo: bob.uri })
  const seen: number[] = []
  sub.on('notify', (f: { status: number }) => seen.push(f.status))
  t.equal(await new Promise((resolve) => sub.on('end', resolve)), 'terminated')
  t.same(seen, [100, 180, 200])
  await r.dialog!.bye()
})

t.test('REFER: no final NOTIFY ends the subscription by timeout', async (t) => {
  const s = await stack(t, 500)
  const alice = await phone(t, 'alice', 'answer', true, 'no-final-notify')
  const r = await invite(s, alice.uri, { sdp: SDP }).outcome
  await alice.waitFor('answered')
  const sub = r.dialog!.refer({ referTo: 'sip:nobody@127.0.0.1:9' })
  const seen: number[] = []
  sub.on('notify', (f: { status: number }) => seen.push(f.status))
  t.equal(await new Promise((resolve) => sub.on('end', resolve)), 'timeout')
  t.same(seen, [100])
  await r.dialog!.bye()
})

t.test('a peer that vanished: the re-INVITE times out (Timer B = 64*T1) and the dialog ends, nothing hangs', async (t) => {
  const s = await stack(t, undefined, 50)
  const gone = await createPhone({ name: 'gone', behaviour: 'answer', logger })
  const r = await invite(s, gone.uri, { sdp: SDP }).outcome
  await gone.waitFor('answered')
  await gone.close()
  const ended = new Promise((resolve) => r.dialog!.on('terminated', resolve))
  const started = Date.now()
  const res = await r.dialog!.reinvite(SDP)
  t.equal(res.status, 408)
  const took = Date.now() - started
  t.ok(took >= 64 * 50 * 0.9 && took < 20_000, `timed out after ${took} ms (64*T1 = 3200), not at once`)
  t.equal(await ended, 'timeout')
  t.equal(r.dialog!.state, 'terminated')
})

function udpAsk(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4')
    const timer = setTimeout(() => {
      sock.close()
      reject(new Error('no answer'))
    }, 3000)
    sock.on('message', (msg) => {
      clearTimeout(timer)
      sock.close()
      resolve(msg.toString())
    })
    sock.send(text, port, '127.0.0.1')
  })
}

/** sends one request and collects the responses up to the first final one (bounded: 3 s) */
function udpAskFinal(port: number, text: string): Promise<{ statuses: number[]; final: string }> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4')
    const statuses: number[] = []
    const timer = setTimeout(() => {
      sock.close()
      reject(new Error(`no final response; got ${statuses.join(',')}`))
    }, 3000)
    sock.on('message', (msg) => {
      const m = /^SIP\/2\.0 (\d{3})/.exec(msg.toString())
      if (!m) return
      statuses.push(Number(m[1]))
      if (Number(m[1]) < 200) return
      clearTimeout(timer)
      sock.close()
      resolve({ statuses, final: msg.toString() })
    })
    sock.send(text, port, '127.0.0.1')
  })
}

function req(method: string, port: number, extra = ''): string {
  return `${method} sip:x@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${Math.random().toString(36).slice(2)};rport\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>${extra}\r\nCall-ID: ${Math.random()}\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`
}

t.test('OPTIONS 200, unknown dialog 481, unknown method 405, new INVITE 403', async (t) => {
  const s = await stack(t)
  t.match(await udpAsk(s.port, req('OPTIONS', s.port)), /^SIP\/2\.0 200/)
  t.match(await udpAsk(s.port, req('BYE', s.port, ';tag=nope')), /^SIP\/2\.0 481/)
  const r405 = await udpAsk(s.port, req('PUBLISH', s.port))
  t.match(r405, /^SIP\/2\.0 405/)
  t.match(r405, /Allow: INVITE/)
  // the transaction layer may send 100 Trying first: the final response is the one that counts
  const inv = await udpAskFinal(s.port, req('INVITE', s.port))
  t.match(inv.final, /^SIP\/2\.0 403 /, `statuses ${inv.statuses.join(',')}`)
  t.same(inv.statuses.filter((st) => st >= 200), [403], 'one final response: 403')
})
