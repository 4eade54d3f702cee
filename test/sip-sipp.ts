/**
 * The SIP layer (no call layer) against sipp phones: INVITE answered and
 * ACKed, BYE either side, re-INVITE, 486, ring timeout with CANCEL/487,
 * REFER with NOTIFY 100/180/200 and a failing transfer (486 fragment); and
 * the UAS side: a sipp caller calls a simulated phone, re-INVITEs, hangs up.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import pino from 'pino'
import { createSipStack, type Dialog, type SipStack } from '../lib/sip'
import { createPhone } from '../lib/phone'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'

const SIPP = path.join(__dirname, 'sipp')
const logger = pino({ level: 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\na=inactive\r\n'

if (!sippAvailable()) {
  if (process.env.CI === 'true') t.fail('sipp is required under CI (apt-get install sip-tester)')
  else t.plan(0, 'sipp is not installed')
} else {
  run()
}

function call(s: SipStack, target: string, ringTimeoutMs?: number) {
  const inv = s.invite({ target, from: { uri: 'sip:click2call@127.0.0.1', displayName: 'Click-To-Call: bob' }, sdp: SDP, ...(ringTimeoutMs ? { ringTimeoutMs } : {}) })
  const progress: number[] = []
  inv.on('progress', (st: number) => progress.push(st))
  const outcome = new Promise<{ dialog?: Dialog; status?: number }>((resolve) => {
    inv.on('answered', (dialog: Dialog) => resolve({ dialog }))
    inv.on('failed', (status: number) => resolve({ status }))
  })
  return { progress, outcome }
}

function run(): void {
  let stack: SipStack
  t.before(async () => {
    stack = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'ClickToCall', logger })
  })
  t.teardown(() => stack.close())

  async function phone(t: Test, scenario: string, args: string[] = []): Promise<SippProcess> {
    const p = await startSipp({ scenario: path.join(SIPP, scenario), args })
    t.teardown(() => p.kill())
    return p
  }

  t.test('INVITE answered and ACKed; BYE from us; re-INVITE', async (t) => {
    const p = await phone(t, 'destination.xml', ['-d', '60000'])
    const c = call(stack, p.uri('dest'))
    const r = await c.outcome
    t.ok(r.dialog, 'answered')
    t.ok(c.progress.includes(180))
    const re = await r.dialog!.reinvite(SDP.replace('inactive', 'sendrecv'))
    t.equal(re.status, 200, 're-INVITE answered')
    t.match(re.sdp, /m=audio \d+ RTP\/AVP 0/)
    await r.dialog!.bye()
    t.equal((await p.exit).code, 0, 'the phone saw ACK, re-INVITE/ACK and BYE')
  })

  t.test('BYE from the phone ends the dialog', async (t) => {
    const p = await phone(t, 'destination.xml', ['-d', '300'])
    const r = await call(stack, p.uri('dest')).outcome
    const why = await new Promise((resolve) => r.dialog!.on('terminated', resolve))
    t.equal(why, 'remote-bye')
    t.equal((await p.exit).code, 0)
  })

  t.test('486 Busy Here', async (t) => {
    const p = await phone(t, 'busy.xml')
    t.equal((await call(stack, p.uri('x')).outcome).status, 486)
    t.equal((await p.exit).code, 0, 'the 486 was ACKed')
  })

  t.test('ring timeout: CANCEL, 487 from the phone, reported 408', async (t) => {
    const p = await phone(t, 'noanswer.xml')
    const r = await call(stack, p.uri('x'), 1000).outcome
    t.equal(r.status, 408)
    t.equal((await p.exit).code, 0, 'the phone saw CANCEL and the ACK of its 487')
  })

  t.test('REFER: NOTIFY 100/180/200; and a transfer to a busy phone: 486 fragment', async (t) => {
    for (const [target, expected] of [['destination.xml', [100, 180, 200]], ['busy.xml', [100, 486]]] as const) {
      const dest = await phone(t, target, ['-d', '500'])
      const init = await phone(t, 'initiator.xml', ['-d', '500'])
      const r = await call(stack, init.uri('init')).outcome
      const sub = r.dialog!.refer({ referTo: dest.uri('dest'), referredBy: { uri: 'sip:click2call@127.0.0.1', displayName: 'Click-To-Call: dest' } })
      const seen: number[] = []
      let response = 0
      sub.on('response', (st: number) => (response = st))
      sub.on('notify', (f: { status: number }) => seen.push(f.status))
      t.equal(await new Promise((resolve) => sub.on('end', resolve)), 'terminated')
      t.equal(response, 202)
      t.same(seen, expected, target)
      await r.dialog!.bye()
      t.equal((await init.exit).code, 0, `${target}: initiator scenario completed`)
    }
  })

  t.test('UAS side: a sipp caller, answered by a simulated phone, re-INVITEs and hangs up', async (t) => {
    const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
    t.teardown(() => bob.close())
    const p = await startSipp({ scenario: path.join(SIPP, 'caller-reinvite.xml'), remote: `127.0.0.1:${bob.stack.port}`, args: ['-s', 'bob'] })
    t.teardown(() => p.kill())
    t.match((await bob.waitFor('invite')).sdp, /m=audio \d+ RTP\/AVP 0/, 'the offer reached the phone')
    await bob.waitFor('answered')
    t.match((await bob.waitFor('reinvite')).sdp, /a=sendonly/, 'the re-INVITE offer reached the phone')
    await bob.waitFor('bye')
    t.equal((await p.exit).code, 0, 'sipp saw 200/ACK, the re-INVITE 200 and the BYE 200')
    t.match(p.messages(), /SIP\/2\.0 200 OK[\s\S]*CSeq: 3 BYE/, 'the BYE was answered 200')
  })
}
