/**
 * Every request ends with exactly one final result, whatever the peers do:
 * a table of failure paths run against in-process phones (real sockets),
 * plus a BYE during the REFER and a vanished initiator.
 */
import t, { type Test } from 'tap'
import pino from 'pino'
import { createPhone, type Phone, type PhoneOptions } from '../lib/phone'
import { startTestServer, type TestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'

const logger = pino({ level: 'silent' })

let server: TestServer
t.before(async () => {
  server = await startTestServer(
    { initiatorRingTimeout: 1, destinationRingTimeout: 1, referNotifyTimeout: 3 },
    { referByeGraceMs: 300 },
  )
})
t.teardown(() => server.close())

async function phone(t: Test, name: string, o: Partial<PhoneOptions>): Promise<Phone> {
  const p = await createPhone({ name, behaviour: 'answer', logger, ...o })
  t.teardown(() => p.close())
  return p
}

interface Scenario {
  name: string
  initiator: Partial<PhoneOptions> | 'unreachable'
  destination: Partial<PhoneOptions> | 'unreachable'
  anchor: boolean
  /** the final result expected */
  final: string
}

const UNREACHABLE = 'sip:nobody@127.0.0.1:9'

const scenarios: Scenario[] = [
  { name: 'busy initiator', initiator: { behaviour: 'busy' }, destination: {}, anchor: false, final: '486 Initiator' },
  { name: 'initiator never answers', initiator: { behaviour: 'no-answer' }, destination: {}, anchor: false, final: '408 Initiator' },
  { name: 'initiator unreachable', initiator: 'unreachable', destination: {}, anchor: false, final: '408 Initiator' },
  { name: 'transfer succeeds', initiator: { followRefer: true }, destination: {}, anchor: false, final: '200 Destination' },
  { name: 'transfer to a busy phone', initiator: { followRefer: true }, destination: { behaviour: 'busy' }, anchor: false, final: '486 Destination' },
  { name: 'transfer never reported', initiator: { followRefer: true, referStyle: 'no-final-notify' }, destination: {}, anchor: false, final: '408 Destination' },
  { name: 'REFER refused, anchored succeeds (then the initiator hangs up)', initiator: { behaviour: 'reject-refer', hangUpAfterMs: 800 }, destination: {}, anchor: false, final: '200 Destination' },
  { name: 'REFER refused, destination busy', initiator: { behaviour: 'reject-refer' }, destination: { behaviour: 'busy' }, anchor: false, final: '486 Destination' },
  { name: 'anchored, destination never answers', initiator: {}, destination: { behaviour: 'no-answer' }, anchor: true, final: '408 Destination' },
  { name: 'anchored, destination unreachable', initiator: {}, destination: 'unreachable', anchor: true, final: '408 Destination' },
  { name: 'anchored, initiator hangs up while the destination rings', initiator: { hangUpAfterMs: 200 }, destination: { behaviour: 'no-answer' }, anchor: true, final: '487 Destination' },
  { name: 'initiator BYEs after the 202 and still reports the transfer', initiator: { followRefer: true, referStyle: 'bye-after-202' }, destination: {}, anchor: false, final: '200 Destination' },
  { name: 'initiator BYEs after the 202 and reports nothing', initiator: { followRefer: true, referStyle: 'bye-silent' }, destination: {}, anchor: false, final: '603 Destination' },
]

t.test('every failure path ends with exactly one final result, and it is the last', async (t) => {
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  for (const s of scenarios) {
    const i = s.initiator === 'unreachable' ? UNREACHABLE : (await phone(t, 'alice', s.initiator)).uri
    const d = s.destination === 'unreachable' ? UNREACHABLE : (await phone(t, 'bob', s.destination)).uri
    const before = c.results.length
    c.write(request(i, d, s.anchor))
    await c.until((r) => r.slice(before).some((x) => x.final), 15000, s.name)
    // give stray late results a chance to show up
    await new Promise((r) => setTimeout(r, 150))
    const mine = c.results.slice(before)
    const finals = mine.filter((x) => x.final)
    t.equal(finals.length, 1, `${s.name}: one final`)
    t.equal(mine.at(-1)!.final, true, `${s.name}: the final is the last`)
    t.equal(`${finals[0]!.code} ${finals[0]!.leg}`, s.final, s.name)
  }
  // and bad requests on the same connection
  const before = c.results.length
  c.write('<ClickToCall><Request><Initiator>x</Initiator></Request></ClickToCall><ClickToCall><Oops></ClickToCall>')
  await c.until((r) => r.length >= before + 2)
  t.same(c.results.slice(before).map((r) => r.code), [400, 400])
  for (let i = 0; i < 50 && server.server.calls.liveCount > 0; i++) await new Promise((r) => setTimeout(r, 100))
  const left = [...server.server.calls.registry.liveCalls()].map((x) => x.state)
  t.same(left, [], 'no call left behind')
})

t.test('an initiator that vanishes after answering (anchored): the re-INVITE times out, final 408', async (t) => {
  const alice = await phone(t, 'alice', {})
  const bob = await phone(t, 'bob', {})
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  alice.on('event', (e) => {
    if (e.type === 'answered') setTimeout(() => void alice.close(), 50)
  })
  c.write(request(alice.uri, bob.uri, true))
  const results = await c.finals(1, 50000)
  const final = results.find((r) => r.final)!
  t.equal(`${final.code} ${final.leg}`, '408 Destination', JSON.stringify(c.summary()))
  await bob.waitFor('bye', 10000)
})
