/**
 * Peers that vanish (no answer to REFER, re-INVITE or BYE): the transaction
 * timeouts (Timer F/B, 32 s) end them; the client still gets one final
 * result and no call is left behind. Slow by nature (SIP timers).
 */
import t from 'tap'
import pino from 'pino'
import { createPhone } from '../lib/phone'
import { startTestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'

const logger = pino({ level: 'silent' })
t.jobs = 2

t.test('the initiator vanishes before the REFER: REFER times out, fallback, re-INVITE times out, final 408', async (t) => {
  const server = await startTestServer({ initiatorRingTimeout: 5, destinationRingTimeout: 5 })
  t.teardown(() => server.close())
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  t.teardown(() => bob.close())
  alice.on('event', (e) => {
    if (e.type === 'answered') void alice.close()
  })
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(request(alice.uri, bob.uri, false))
  await c.finals(1, 110000)
  const finals = c.results.filter((r) => r.final)
  t.equal(finals.length, 1)
  t.equal(`${finals[0]!.code} ${finals[0]!.leg}`, '408 Destination', JSON.stringify(c.summary()))
  await bob.waitFor('bye', 5000)
})

t.test('the destination vanishes in a bridged call: the initiator\'s BYE is relayed, the call still ends', async (t) => {
  const server = await startTestServer({})
  t.teardown(() => server.close())
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger, hangUpAfterMs: 300 })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  bob.on('event', (e) => {
    if (e.type === 'answered') setTimeout(() => void bob.close(), 100)
  })
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(request(alice.uri, bob.uri, true))
  await c.finals(1, 10000)
  t.equal(c.summary().at(-1), '200 Destination Connected to destination')
  for (let i = 0; i < 400 && server.server.calls.liveCount > 0; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal(server.server.calls.liveCount, 0, 'ended after the BYE to the vanished destination timed out')
})
