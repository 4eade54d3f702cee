/**
 * Issue 12 item 9: a failing peer on each path that runs in the background
 * of a call (the anchored bridge's re-INVITE, the REFER's answer, a verb's
 * re-INVITE) ends that call cleanly or leaves it as it was; the process and
 * the next call are unharmed.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'

const SIPP = path.join(__dirname, 'sipp')

if (!sippAvailable()) {
  if (process.env.CI === 'true') t.fail('sipp is required under CI (apt-get install sip-tester)')
  else t.plan(0, 'sipp is not installed')
} else {
  t.jobs = 1
  run()
}

async function phone(t: Test, scenario: string, extra: string[] = []): Promise<SippProcess> {
  const p = await startSipp({ scenario: path.join(SIPP, scenario), args: extra })
  t.teardown(() => p.kill())
  return p
}

function run(): void {
  let server: TestServer
  t.before(async () => {
    server = await startTestServer({ initiatorRingTimeout: 3, destinationRingTimeout: 3, referNotifyTimeout: 10 })
  })
  t.teardown(() => server.close())

  t.test('the bridge: an initiator that refuses the bridging re-INVITE (488) fails the call with 488, the destination is released', async (t) => {
    const init = await phone(t, 'reinvite-refused.xml', ['-d', '20000'])
    const dest = await phone(t, 'destination.xml', ['-d', '20000'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob'), true))
    await c.finals(1, 20_000)
    t.same(c.summary().slice(-1), ['488 Destination Failed to connect to destination'], 'the final result names the refusal')
    t.match(init.messages(), /SIP\/2\.0 488 Not Acceptable Here/, 'the initiator phone sent its 488')
    t.equal((await dest.exit).code, 0, 'the destination was ACKed and released with a BYE')
    t.equal((await init.exit).code, 0, 'the initiator was released with a BYE')
    t.equal(server.server.calls.liveCount, 0, 'no call left behind')
  })

  t.test('the REFER: a phone that refuses it (603) falls back to anchored, and a following call still works', async (t) => {
    const init = await phone(t, 'refer-refused.xml', ['-d', '60000'])
    const dest = await phone(t, 'destination.xml', ['-d', '1000'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob')))
    await c.finals(1, 20_000)
    t.same(c.summary().slice(-1), ['200 Destination Connected to destination'])
    t.match(init.messages(), /SIP\/2\.0 (4|5|6)\d\d [^\r\n]*\r\n[\s\S]*CSeq: *\d+ REFER/, 'the initiator phone refused the REFER')
    t.equal((await dest.exit).code, 0, 'the destination hung up after 1 s')
    t.equal((await init.exit).code, 0, 'the initiator got the relayed BYE')
    t.equal(server.server.calls.liveCount, 0, 'no call left behind')
    const again = await phone(t, 'destination.xml', ['-d', '1500'])
    const bob = await phone(t, 'destination.xml', ['-d', '20000'])
    c.write(request(again.uri('carol'), bob.uri('bob'), true))
    await c.finals(2, 20_000)
    t.same(c.summary().slice(-1), ['200 Destination Connected to destination'], 'the next call is connected')
  })

  t.test('the hang-up: a phone that never answers its BYE does not keep the call live for the 32 s of retransmissions', async (t) => {
    const init = await phone(t, 'bye-ignored.xml', ['-d', '60000'])
    const dest = await phone(t, 'destination.xml', ['-d', '1000'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    // a name of its own: an earlier test's call may still be live on this server
    c.write(request(init.uri('mute'), dest.uri('bob'), true))
    await c.finals(1, 20_000)
    t.same(c.summary().slice(-1), ['200 Destination Connected to destination'])
    const live = (): number => server.server.calls.list({ initiator: 'mute@' }).length
    t.equal(live(), 1, 'the call is live while both talk')
    t.equal((await dest.exit).code, 0, 'the destination hung up after 1 s')
    // the server relays that BYE to the initiator, which never answers: the call ends when the BYE goes
    const sent = Date.now()
    for (let i = 0; i < 50 && live() > 0; i++) await new Promise((r) => setTimeout(r, 100))
    t.equal(live(), 0, 'the call ended at once')
    t.ok(Date.now() - sent < 5000, 'within 5 s, not at the BYE transaction timeout (32 s)')
    t.match(init.messages(), /BYE sip:silent@/, 'the initiator phone got the BYE (and left it unanswered)')
  })
}
