/** Action URLs (Auerswald style): a GET per event, the seed document's names, values URL-encoded. */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { createActionUrlSink, checkActionUrl, type DeliveryTuning } from '../lib/events'
import { ScriptedCalls } from './helpers/scripted-calls'

const logger = pino({ level: process.env.CTC_TEST_LOG ?? 'silent' })
const tuning: DeliveryTuning = { concurrency: 4, queueSize: 100, maxAttempts: 3, timeoutMs: 2000, backoffBaseMs: 50, backoffMaxMs: 200 }

t.test('one GET per event with Auerswald names; every value URL-encoded', async (t) => {
  const got: Array<{ method: string; url: URL; auth: string | undefined }> = []
  const server = http.createServer((req, res) => {
    got.push({ method: req.method!, url: new URL(req.url!, 'http://x'), auth: req.headers.authorization })
    res.end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const port = (server.address() as AddressInfo).port
  const template = `http://crm:s3cret@127.0.0.1:${port}/events?event={event}&callId={callId}&number={number}&name={name}&callId2={callId2}&cause={cause}&by={endedBy}&code={code}&setup={setupId}`
  const calls = new ScriptedCalls()
  const sink = createActionUrlSink(calls, { templates: [template], tuning, logger })
  t.teardown(() => sink.close(50))

  const c = calls.start({ initiator: '1001', destination: '"Bob & Co/Ünïcode" <sip:bob+1@example.com?x=1&y=2>', setupId: 'a b&c' })
  c.ringing('initiator').answered('initiator').ringing('destination').answered('destination').bridged()
  c.held('initiator').resumed('initiator')
  c.emit({ type: 'transferring', leg: 'destination', target: '+49 30 1234#5' })
  c.transferred('destination', '+49 30 1234#5', true)
  c.emit({ type: 'joined', leg: 'initiator', otherCallId: 'other-call', otherLeg: 'destination', ok: false, status: 481 })
  c.end('completed', 'api', 200)
  const end = Date.now() + 5000
  while (got.length < 8 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))

  t.same(
    got.map((g) => g.url.searchParams.get('event')),
    ['outgoing', 'connected', 'holding', 'connected', 'transfer_initiated', 'transferred', 'transfer_failed', 'disconnected'],
    'ringing and answered have no Auerswald name and are not sent',
  )
  for (const g of got) {
    t.equal(g.method, 'GET')
    t.equal(g.url.pathname, '/events')
    t.equal(g.url.searchParams.get('callId'), c.id)
    t.equal(g.url.searchParams.get('setup'), 'a b&c', 'setup id decoded intact')
    t.equal(g.auth, `Basic ${Buffer.from('crm:s3cret').toString('base64')}`, 'credentials of the URL as Basic auth')
  }
  const q = (i: number, k: string): string | null => got[i]!.url.searchParams.get(k)
  t.equal(q(0, 'number'), '"Bob & Co/Ünïcode" <sip:bob+1@example.com?x=1&y=2>', 'number: the destination as given, intact')
  t.equal(q(0, 'name'), 'Bob & Co/Ünïcode', 'name: its display name')
  t.equal(q(4, 'number'), '+49 30 1234#5', 'transfer target, + # and spaces intact')
  t.equal(q(5, 'number'), '+49 30 1234#5')
  t.equal(q(5, 'code'), '200')
  t.equal(q(6, 'callId2'), 'other-call')
  t.equal(q(6, 'code'), '481')
  t.equal(q(7, 'cause'), 'completed')
  t.equal(q(7, 'by'), 'api')
  t.equal(q(7, 'code'), '200')
  // the raw query: no unencoded & + # or space from a value
  const raw = got[0]!.url.search
  t.notMatch(raw, / /)
  t.equal(raw.split('&').length, 9, 'the template\'s nine parameters and no more')
  const until = Date.now() + 5000
  while (sink.stats()[0]!.delivered < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.match(sink.stats()[0], { delivered: 8, target: `http://127.0.0.1:${port}/events` })
})

t.test('templates are checked: unknown placeholders, non-http URLs', async (t) => {
  t.throws(() => checkActionUrl('http://x/?e={evnt}'), /unknown placeholder \{evnt\}/)
  t.throws(() => checkActionUrl('ftp://x/{event}'), /not supported/)
  t.throws(() => checkActionUrl('not a url {event}'), /not a URL/)
  t.equal(checkActionUrl('https://x/{event}/{callId}'), 'https://x/{event}/{callId}')
})
