/**
 * Webhooks against real HTTP receivers on 127.0.0.1: signatures verified by
 * the receiver, per-call order, a receiver down then back, a receiver that
 * never answers, overflow, refusal. The events come from a scripted source
 * shaped by the call layer's contract; test/events-e2e.ts does the same with
 * real calls.
 */
import t from 'tap'
import http from 'node:http'
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { createWebhookSink, verifySignature, signatureValue, SIGNATURE_HEADER, DEFAULT_WEBHOOK_EVENTS, backoffDelay, type DeliveryTuning, type WebhookPayload } from '../lib/events'
import { ScriptedCalls } from './helpers/scripted-calls'

const logger = pino({ level: process.env.CTC_TEST_LOG ?? 'silent' })
const SECRET = 'test-secret-0123456789'

interface Received {
  headers: http.IncomingHttpHeaders
  raw: string
  body: WebhookPayload
  at: number
}

/** a webhook receiver: `answer` decides each request's fate */
async function receiver(answer: (r: Received, res: http.ServerResponse) => void = (_r, res) => res.end('ok'), port = 0) {
  const got: Received[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const r: Received = { headers: req.headers, raw, body: JSON.parse(raw) as WebhookPayload, at: Date.now() }
      got.push(r)
      answer(r, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const sockets = new Set<import('node:net').Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return {
    got,
    port: (server.address() as AddressInfo).port,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const fast: DeliveryTuning = { concurrency: 4, queueSize: 1000, maxAttempts: 5, timeoutMs: 2000, backoffBaseMs: 50, backoffMaxMs: 200 }

t.test('each event is POSTed with a signature the receiver verifies; bodies carry type, ids, time, legs and data', async (t) => {
  const rx = await receiver()
  t.teardown(rx.close)
  const calls = new ScriptedCalls()
  const sink = createWebhookSink(calls, { urls: [rx.url], secret: SECRET, events: DEFAULT_WEBHOOK_EVENTS, tuning: fast, logger })
  t.teardown(() => sink.close(100))
  const c = calls.start({ initiator: '1001', destination: '2002', setupId: 'crm-42' })
  c.ringing('initiator').answered('initiator').ringing('destination').answered('destination').bridged().held('destination').resumed('destination')
  c.end('completed', 'destination', 200)
  await until('8 webhooks', () => rx.got.length >= 9)
  t.same(
    rx.got.map((r) => r.body.type),
    ['created', 'ringing', 'answered', 'ringing', 'answered', 'bridged', 'held', 'resumed', 'ended'],
    'in order; the result event is not sent by default',
  )
  for (const r of rx.got) {
    const header = r.headers[SIGNATURE_HEADER.toLowerCase()] as string
    t.match(header, /^t=\d+,v1=[0-9a-f]{64}$/)
    // recomputed here independently of lib/events: HMAC-SHA256(secret, "<t>.<raw body>")
    const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)!
    const mac = createHmac('sha256', SECRET).update(`${ts}.${r.raw}`).digest()
    t.ok(timingSafeEqual(mac, Buffer.from(v1!, 'hex')), `signature of ${r.body.type}`)
    t.ok(Math.abs(Number(ts) - Date.now() / 1000) < 30, 'timestamp is now')
    t.equal(verifySignature(SECRET, r.raw, header).ok, true)
    t.equal(r.headers['content-type'], 'application/json')
    t.equal(r.headers['x-clicktocall-event'], r.body.type)
    t.equal(r.headers['x-clicktocall-delivery'], r.body.id)
    t.equal(r.body.callId, c.id)
    t.equal(r.body.setupId, 'crm-42')
    t.match(r.body.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  }
  t.same(rx.got.map((r) => r.body.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'seq as the call numbered them')
  const ended = rx.got.at(-1)!.body
  t.equal(ended.data.cause, 'completed')
  t.equal(ended.data.endedBy, 'destination')
  t.equal(ended.data.code, 200)
  t.match(ended.data.times, { createdAt: String, bridgedAt: String, endedAt: String })
  t.match(ended.data.durations, { setupMs: Number, talkMs: Number })
  t.equal(ended.legs?.initiator.uri, 'sip:1001@127.0.0.1:5080')
  t.equal(ended.legs?.destination.code, 200)
  t.match(ended.legs?.destination.sipCallId, /@127\.0\.0\.1$/)
  t.equal(ended.call?.initiator, '1001')
  t.equal(ended.call?.origin.user, 'admin')
  const held = rx.got.find((r) => r.body.type === 'held')!.body
  t.same(held.data, { leg: 'destination', by: 'api' })
  t.equal(held.legs?.destination.held, true, 'legs as they were at that event')

  // what a receiver refuses
  const r0 = rx.got[0]!
  const header = r0.headers[SIGNATURE_HEADER.toLowerCase()] as string
  t.same(verifySignature(SECRET, r0.raw.replace('1001', '1009'), header), { ok: false, reason: 'mismatch' }, 'tampered body')
  t.same(verifySignature('other-secret', r0.raw, header), { ok: false, reason: 'mismatch' }, 'wrong secret')
  t.same(verifySignature(SECRET, r0.raw, header, 300, Math.floor(Date.now() / 1000) + 3600), { ok: false, reason: 'expired' }, 'replayed an hour later')
  t.same(verifySignature(SECRET, r0.raw, 'v1=abc'), { ok: false, reason: 'malformed' })
  await until('the last answer counted', () => sink.stats()[0]!.delivered === 9)
  t.same(sink.stats()[0], { target: rx.url, queued: 0, inFlight: 0, delivered: 9, retried: 0, failed: 0, rejected: 0, overflow: 0, abandoned: 0 })
})

t.test('signature value: known vector', async (t) => {
  // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'k'
  t.equal(signatureValue('k', '{"a":1}', 1700000000), `t=1700000000,v1=${createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex')}`)
})

t.test('a receiver that is down, then back, gets the queued events of each call in order', async (t) => {
  // find a free port, then leave it closed: connection refused
  const probe = await receiver()
  const port = probe.port
  await probe.close()
  const calls = new ScriptedCalls()
  const sink = createWebhookSink(calls, {
    urls: [`http://127.0.0.1:${port}/hook`],
    secret: SECRET,
    events: DEFAULT_WEBHOOK_EVENTS,
    tuning: { ...fast, maxAttempts: 100, backoffBaseMs: 50, backoffMaxMs: 300 },
    logger,
  })
  t.teardown(() => sink.close(100))
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push(calls.completed({ initiator: `100${i}`, destination: `200${i}` }).id)
  await new Promise((r) => setTimeout(r, 1000))
  const down = sink.stats()[0]!
  t.equal(down.delivered, 0)
  t.ok(down.retried >= 2, `retried while down (${down.retried})`)
  t.equal(down.queued, 5 * 7, 'all queued')
  const rx = await receiver(undefined, port)
  t.teardown(rx.close)
  await until('35 webhooks', () => rx.got.length >= 35, 15_000)
  for (const id of ids) {
    const seqs = rx.got.filter((r) => r.body.callId === id).map((r) => r.body.seq)
    t.same(seqs, [1, 2, 3, 4, 5, 6, 7], `call ${id}: every event, in order`)
    t.same(rx.got.filter((r) => r.body.callId === id).map((r) => r.body.type), ['created', 'ringing', 'answered', 'ringing', 'answered', 'bridged', 'ended'])
  }
  for (const r of rx.got) t.equal(verifySignature(SECRET, r.raw, r.headers[SIGNATURE_HEADER.toLowerCase()] as string).ok, true, 'a retry is signed afresh')
  await until('the last answer counted', () => sink.stats()[0]!.delivered === 35)
  t.match(sink.stats()[0], { delivered: 35, failed: 0, queued: 0 })
})

t.test('a receiver that never answers: enqueueing stays instant, another receiver is not delayed, the queue is bounded', async (t) => {
  const hung: http.ServerResponse[] = []
  const dead = await receiver((_r, res) => hung.push(res))
  t.teardown(async () => {
    for (const res of hung) res.destroy()
    await dead.close()
  })
  const live = await receiver()
  t.teardown(live.close)
  // warm-up: fetch's first use (undici's set-up) is not what is measured
  const warm = new ScriptedCalls()
  const warmSink = createWebhookSink(warm, { urls: [live.url], secret: SECRET, events: ['created'], tuning: fast, logger })
  warm.completed({ initiator: '1', destination: '2' })
  await until('the warm-up webhook', () => live.got.length === 1)
  await warmSink.close(100)
  live.got.length = 0
  const calls = new ScriptedCalls()
  const sink = createWebhookSink(calls, {
    urls: [dead.url, live.url],
    secret: SECRET,
    events: DEFAULT_WEBHOOK_EVENTS,
    tuning: { ...fast, queueSize: 50, timeoutMs: 60_000, concurrency: 2 },
    logger,
  })
  t.teardown(() => sink.close(50))
  // the same calls with no sink, then with both receivers: time of the event path itself
  const bare = new ScriptedCalls()
  for (let i = 0; i < 100; i++) bare.completed({ initiator: `1${i}`, destination: `2${i}` }) // warm-up
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < 100; i++) bare.completed({ initiator: `1${i}`, destination: `2${i}` })
  const withoutUs = Number(process.hrtime.bigint() - t0) / 1e6
  const t1 = process.hrtime.bigint()
  for (let i = 0; i < 100; i++) calls.completed({ initiator: `1${i}`, destination: `2${i}` })
  const withUs = Number(process.hrtime.bigint() - t1) / 1e6
  t.comment(`100 calls x 7 events: ${withoutUs.toFixed(1)} ms without sinks, ${withUs.toFixed(1)} ms with 2 receivers (one hung)`)
  t.ok(withUs < 3000, 'the event path does not wait on receivers (their timeout is 60 s)')
  await until('the live receiver gets what its queue held', () => live.got.length >= 50, 10_000)
  await new Promise((r) => setTimeout(r, 200))
  const [deadStats, liveStats] = sink.stats()
  t.equal(deadStats!.inFlight, 2, 'two requests hang at the dead receiver (its concurrency)')
  t.equal(deadStats!.delivered, 0)
  t.equal(deadStats!.overflow, 700 - 50, 'beyond 50 queued: dropped and counted')
  t.equal(deadStats!.queued, 50)
  t.equal(liveStats!.overflow + liveStats!.delivered + liveStats!.queued, 700, 'the live receiver has its own queue')
  t.ok(liveStats!.delivered >= 50, `the live receiver got ${liveStats!.delivered} while the other hung`)
  t.ok(hung.length <= 2, 'the dead receiver got at most its concurrency of requests')
})

t.test('a request that times out is retried; 4xx is not; 503 is; after maxAttempts the event is dropped', async (t) => {
  let n = 0
  const rx = await receiver((r, res) => {
    n++
    if (r.body.type === 'created') {
      res.statusCode = 400
      res.end('no')
    } else if (r.body.type === 'ringing') {
      res.statusCode = 503
      res.end()
    } else if (r.body.type === 'answered' && rx.got.filter((x) => x.body.type === 'answered').length === 1) {
      // never answered the first time: the timeout fires and it is retried
    } else res.end('ok')
  })
  t.teardown(rx.close)
  const calls = new ScriptedCalls()
  const sink = createWebhookSink(calls, { urls: [rx.url], secret: '', events: ['created', 'ringing', 'answered', 'ended'], tuning: { ...fast, maxAttempts: 3, timeoutMs: 1500 }, logger })
  t.teardown(() => sink.close(50))
  const c = calls.start({ initiator: '1', destination: '2' })
  c.ringing('initiator').answered('initiator')
  c.end('cancelled', 'api', 487)
  await until('the ended event', () => rx.got.some((r) => r.body.type === 'ended'), 10_000)
  t.same(
    rx.got.map((r) => r.body.type),
    ['created', 'ringing', 'ringing', 'ringing', 'answered', 'answered', 'ended'],
    '400: once; 503: three attempts then dropped; a timeout: retried; order kept',
  )
  t.equal(rx.got[0]!.headers[SIGNATURE_HEADER.toLowerCase()], undefined, 'no secret: no signature header')
  await until('the last answer counted', () => sink.stats()[0]!.delivered === 2)
  t.match(sink.stats()[0], { rejected: 1, failed: 1, delivered: 2, retried: 3 })
  t.equal(n, 7)
})

t.test('close(): unsubscribes, waits for the queue within its bound', async (t) => {
  const rx = await receiver((_r, res) => setTimeout(() => res.end(), 50))
  t.teardown(rx.close)
  const calls = new ScriptedCalls()
  const sink = createWebhookSink(calls, { urls: [rx.url], secret: SECRET, events: DEFAULT_WEBHOOK_EVENTS, tuning: { ...fast, concurrency: 1 }, logger })
  calls.completed({ initiator: '1', destination: '2' })
  t.equal(calls.subscribers, 1)
  await sink.close(5000)
  t.equal(calls.subscribers, 0)
  t.equal(rx.got.length, 7, 'what was queued went out before close() returned')
  calls.completed({ initiator: '1', destination: '2' })
  t.equal(sink.stats()[0]!.queued, 0, 'nothing taken after close')
})

t.test('backoff: exponential, jittered, capped', async (t) => {
  t.equal(backoffDelay(1, 1000, 60_000, () => 0), 500)
  t.equal(backoffDelay(1, 1000, 60_000, () => 1), 1000)
  t.equal(backoffDelay(4, 1000, 60_000, () => 1), 8000)
  t.equal(backoffDelay(20, 1000, 60_000, () => 1), 60_000)
  t.equal(backoffDelay(20, 1000, 60_000, () => 0), 30_000)
})
