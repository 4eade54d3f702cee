/**
 * The call layer's verbs and events against simulated phones on the real SIP
 * stack over loopback: hold/unhold, end while ringing and while talking,
 * blind transfer of each leg, attended join, refusals, lookups, the
 * diagnostics channel and the state table.
 */
import t, { type Test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import pino from 'pino'
import { startTestServer, type TestServer } from './helpers/server'
import { createPhone, type Phone, type PhoneBehaviour } from '../lib/phone'
import type { CallEvent, CallHandle, CallService } from '../lib/call'
import { CallState, isLegalTransition, TRANSITIONS } from '../lib/call'
import { directionOf, withDirection, holdDirection } from '../lib/call/sdp'

const logger = pino({ level: 'silent' })

async function phone(t: Test, name: string, behaviour: PhoneBehaviour = 'answer'): Promise<Phone> {
  const p = await createPhone({ name, behaviour, logger, answerAfterMs: 20 })
  t.teardown(() => p.close())
  return p
}

async function server(t: Test): Promise<TestServer> {
  const s = await startTestServer({}, { referByeGraceMs: 200 })
  t.teardown(() => s.close())
  return s
}

/** Resolves with the first event of `type` on this call (now or later), or rejects after ms. */
function eventOf<T extends CallEvent['type']>(call: CallHandle, type: T, ms = 5000, from = 0): Promise<Extract<CallEvent, { type: T }>> {
  const seen = call.events.find((e) => e.type === type && e.seq > from)
  if (seen) return Promise.resolve(seen as Extract<CallEvent, { type: T }>)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      call.off('event', on)
      reject(new Error(`no ${type} event within ${ms} ms (state ${call.stateName})`))
    }, ms)
    const on = (e: CallEvent): void => {
      if (e.type !== type || e.seq <= from) return
      clearTimeout(timer)
      call.off('event', on)
      resolve(e as Extract<CallEvent, { type: T }>)
    }
    call.on('event', on)
  })
}

function startCall(calls: CallService, a: Phone, b: Phone, anchor = true): CallHandle {
  const outcome = calls.start({ initiator: a.uri, destination: b.uri, anchor, origin: { frontEnd: 'json', remoteAddress: '127.0.0.1' } })
  if (!outcome.ok) throw new Error(`call refused: ${outcome.text}`)
  return outcome.call
}

async function bridged(calls: CallService, a: Phone, b: Phone): Promise<CallHandle> {
  const call = startCall(calls, a, b)
  await eventOf(call, 'bridged')
  return call
}

/** the SDP of the latest re-INVITE a phone received */
function lastReinvite(p: Phone): string {
  const r = p.events.filter((e) => e.type === 'reinvite')
  return r[r.length - 1]?.sdp ?? ''
}

t.test('SDP direction helpers follow RFC 3264/6337', async (t) => {
  const base = 'v=0\r\no=x 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
  t.equal(directionOf(base), 'sendrecv', 'no attribute means sendrecv')
  const held = withDirection(base, 'sendonly')
  t.equal(directionOf(held), 'sendonly')
  t.match(held, /m=audio 4000 RTP\/AVP 0\r\na=rtpmap:0 PCMU\/8000\r\na=sendonly\r\n$/)
  const session = 'v=0\r\na=recvonly\r\nm=audio 1 RTP/AVP 0\r\nm=video 2 RTP/AVP 96\r\na=sendrecv\r\n'
  t.equal(directionOf(session), 'recvonly', 'session-level attribute applies to a stream without its own')
  const both = withDirection(session, 'inactive')
  t.notMatch(both, /recvonly|sendrecv/)
  t.equal(both.match(/a=inactive/g)?.length, 2, 'each stream gets the direction')
  t.equal(holdDirection('sendrecv'), 'sendonly')
  t.equal(holdDirection('recvonly'), 'inactive')
  t.equal(holdDirection('inactive'), 'inactive')
})

t.test('state table: legal moves pass, illegal ones are refused', async (t) => {
  t.ok(isLegalTransition(CallState.Bridged, CallState.Transferring))
  t.ok(isLegalTransition(CallState.RingingInitiator, CallState.Ended))
  t.notOk(isLegalTransition(CallState.Bridged, CallState.Failed), 'a bridged call does not fail')
  t.notOk(isLegalTransition(CallState.Ended, CallState.Bridged), 'nothing after Ended')
  t.notOk(isLegalTransition(CallState.Created, CallState.Bridged))
  // every state is reachable from Created, and Ended from every state: no dead state in the table
  const reach = new Set<CallState>([CallState.Created])
  for (let grew = true; grew; ) {
    grew = false
    for (const from of [...reach]) for (const to of [...TRANSITIONS[from], CallState.Ended]) if (!reach.has(to)) {
      reach.add(to)
      grew = true
    }
  }
  t.same([...reach].sort(), Object.values(CallState).sort(), 'every state reachable from created')
  t.same(Object.values(CallState).filter((s) => s !== CallState.Ended && !isLegalTransition(s, CallState.Ended)), [], 'ended reachable from every state')
  t.same(TRANSITIONS[CallState.Ended], [], 'nothing leaves ended')
})

t.test('a bridged call: events in order, hold and unhold of a leg, lookups, subscribe, diagnostics channel', async (t) => {
  const s = await server(t)
  const [alice, bob] = await Promise.all([phone(t, 'alice'), phone(t, 'bob')])
  const all: CallEvent[] = []
  const unsubscribe = s.server.calls.subscribe((e) => all.push(e))
  const published: unknown[] = []
  const onHeld = (m: unknown): void => void published.push(m)
  diagnostics.subscribe('clicktocall:call:held', onHeld)
  t.teardown(() => diagnostics.unsubscribe('clicktocall:call:held', onHeld))

  const call = await bridged(s.server.calls, alice, bob)
  const types = call.events.filter((e) => e.type !== 'state' && e.type !== 'result').map((e) => e.type === 'ringing' || e.type === 'answered' ? `${e.type}:${e.leg}` : e.type)
  t.same(types, ['created', 'ringing:initiator', 'answered:initiator', 'ringing:destination', 'answered:destination', 'bridged'])
  t.same(call.events.map((e) => e.seq), call.events.map((_e, i) => i + 1), 'events numbered from 1 without gaps')
  t.same(call.results.map((r) => `${r.code} ${r.leg ?? ''}`), ['100 ', '180 Initiator', '200 Initiator', '180 Destination', '200 Destination'])

  const snap = call.snapshot()
  t.equal(snap.state, 'bridged')
  t.equal(snap.mode, 'anchored')
  t.ok(snap.legs.initiator.sipCallId && snap.legs.destination.sipCallId, 'both legs have SIP Call-IDs')
  t.not(snap.legs.initiator.sipCallId, snap.legs.destination.sipCallId)
  t.equal(s.server.calls.find(snap.legs.destination.sipCallId!), call, 'found by the destination leg SIP Call-ID')
  t.equal(s.server.calls.find(snap.legs.initiator.sipCallId!), call, 'found by the initiator leg SIP Call-ID')
  t.equal(s.server.calls.find(call.id), call)
  t.same(s.server.calls.list({ state: 'bridged' }).map((c) => c.id), [call.id])
  t.same(s.server.calls.list({ destination: 'bob@' }).map((c) => c.id), [call.id])
  t.same(s.server.calls.list({ destination: 'nobody' }), [])

  const before = bob.events.filter((e) => e.type === 'reinvite').length
  t.same(await call.hold('destination'), { ok: true })
  t.equal(bob.events.filter((e) => e.type === 'reinvite').length, before + 1, 'the held phone got a re-INVITE')
  t.match(lastReinvite(bob), /a=sendonly\r\n/, 'with a=sendonly')
  t.equal(alice.events.filter((e) => e.type === 'reinvite').length, 1, 'the other party was not touched (only the bridging re-INVITE)')
  t.equal(call.snapshot().legs.destination.held, true)
  t.same(await call.hold('destination'), { ok: true }, 'hold of a held leg is a no-op')
  t.equal(bob.events.filter((e) => e.type === 'reinvite').length, before + 1, 'no second re-INVITE')
  t.same(await call.unhold('destination'), { ok: true })
  t.match(lastReinvite(bob), /a=sendrecv\r\n/, 'resumed with a=sendrecv')
  t.equal(call.snapshot().legs.destination.held, false)
  const held = await eventOf(call, 'held')
  t.same([held.leg, held.by], ['destination', 'api'])
  t.equal((await eventOf(call, 'resumed')).leg, 'destination')
  t.equal(published.length, 1, 'one held event on diagnostics_channel')
  t.equal(call.snapshot().holds, 1)

  const ended = eventOf(call, 'ended')
  t.same(await call.end(), { ok: true })
  await Promise.all([alice.waitFor('bye'), bob.waitFor('bye')])
  const e = await ended
  t.same([e.cause, e.endedBy, e.code], ['completed', 'api', 200])
  const { initiatorAnsweredAt: answered, bridgedAt, endedAt } = e.times
  t.ok(answered !== null && bridgedAt !== null && endedAt !== null && answered <= bridgedAt && bridgedAt <= endedAt, `times set and in order: ${JSON.stringify(e.times)}`)
  t.equal(call.events[call.events.length - 1]!.type, 'ended', 'ended is the last event')
  const again = await call.end()
  t.same(again.ok ? '' : again.code, 'call-ended', 'ending twice is refused')
  t.ok(all.some((x) => x.type === 'created' && x.callId === call.id) && all.some((x) => x.type === 'ended' && x.callId === call.id), 'subscribers saw the whole call')
  unsubscribe()
})

t.test('end while the destination rings: CANCEL to it, BYE to the initiator', async (t) => {
  const s = await server(t)
  const [alice, bob] = await Promise.all([phone(t, 'alice'), phone(t, 'bob', 'no-answer')])
  const call = startCall(s.server.calls, alice, bob)
  await eventOf(call, 'ringing', 5000, call.events.find((e) => e.type === 'answered')?.seq ?? 0)
  await bob.waitFor('invite')
  const hold = await call.hold()
  t.same(hold.ok ? '' : hold.code, 'bad-state', 'hold is refused before the call is bridged')
  t.same(await call.end(), { ok: true })
  await bob.waitFor('cancelled')
  await alice.waitFor('bye')
  const e = await eventOf(call, 'ended')
  t.same([e.cause, e.endedBy], ['cancelled', 'api'])
  const final = call.results.filter((r) => r.final)
  t.equal(final.length, 1, 'exactly one final result')
  t.same([final[0]!.code, final[0]!.leg], [487, 'Destination'])
})

t.test('blind transfer of the destination leg: the initiator talks to the target, the destination is released', async (t) => {
  const s = await server(t)
  const [alice, bob, carol] = await Promise.all([phone(t, 'alice'), phone(t, 'bob'), phone(t, 'carol')])
  const call = await bridged(s.server.calls, alice, bob)
  const outcome = await call.transfer('initiator', carol.uri)
  t.same(outcome, { ok: true })
  await carol.waitFor('answered')
  await bob.waitFor('bye')
  t.match(lastReinvite(alice), new RegExp(`o=clicktocall [\\s\\S]*m=audio ${carol.sdp.match(/m=audio (\d+)/)![1]} `), "alice was re-INVITEd with carol's media")
  const snap = call.snapshot()
  t.equal(snap.legs.destination.uri, carol.uri, 'the destination leg is carol now')
  t.equal(snap.state, 'bridged')
  t.equal(snap.transfers, 1)
  const done = await eventOf(call, 'transferred')
  t.same([done.ok, done.leg, done.target], [true, 'initiator', carol.uri])
  t.equal(s.server.calls.find(snap.legs.destination.sipCallId!), call, "found by the target leg's SIP Call-ID")
  // carol hangs up: the call ends, alice gets a BYE
  await carol.hangUp()
  await alice.waitFor('bye')
  const e = await eventOf(call, 'ended')
  t.same([e.cause, e.endedBy], ['completed', 'destination'])
})

t.test('blind transfer of the initiator leg, and a transfer to a busy target leaves the call as it was', async (t) => {
  const s = await server(t)
  const [alice, bob, dave, busy] = await Promise.all([phone(t, 'alice'), phone(t, 'bob'), phone(t, 'dave'), phone(t, 'busy', 'busy')])
  const call = await bridged(s.server.calls, alice, bob)
  const refused = await call.transfer('destination', busy.uri)
  t.same(refused.ok ? {} : { code: refused.code, status: refused.status }, { code: 'sip-failed', status: 486 })
  t.equal(call.stateName, 'bridged', 'still bridged after the failed transfer')
  t.equal(alice.events.filter((e) => e.type === 'bye').length + bob.events.filter((e) => e.type === 'bye').length, 0, 'nobody was released')
  t.same(await call.transfer('destination', dave.uri), { ok: true })
  await alice.waitFor('bye')
  t.match(lastReinvite(bob), new RegExp(`m=audio ${dave.sdp.match(/m=audio (\d+)/)![1]} `), "bob was re-INVITEd with dave's media")
  t.equal(call.snapshot().legs.initiator.uri, dave.uri)
  const bad = await call.transfer('destination', 'not a number')
  t.same(bad.ok ? '' : bad.code, 'no-translation')
  await call.end()
})

t.test('attended join: one party of each call talk to each other; the other two are released', async (t) => {
  const s = await server(t)
  const [alice, bob, carol, dave] = await Promise.all([phone(t, 'alice'), phone(t, 'bob'), phone(t, 'carol'), phone(t, 'dave')])
  const first = await bridged(s.server.calls, alice, bob)
  const second = await bridged(s.server.calls, carol, dave)
  const self = await first.join('initiator', first.id, 'destination')
  t.same(self.ok ? '' : self.code, 'bad-argument', 'a call cannot be joined with itself')
  const unknown = await first.join('initiator', 'nope', 'destination')
  t.same(unknown.ok ? '' : unknown.code, 'unknown-call')
  t.same(await first.join('initiator', second.snapshot().legs.initiator.sipCallId!, 'initiator'), { ok: true })
  await Promise.all([bob.waitFor('bye'), dave.waitFor('bye')])
  t.match(lastReinvite(carol), new RegExp(`m=audio ${alice.sdp.match(/m=audio (\d+)/)![1]} `), "carol got alice's media")
  t.match(lastReinvite(alice), new RegExp(`m=audio ${carol.sdp.match(/m=audio (\d+)/)![1]} `), "alice got carol's media")
  const e2 = await eventOf(second, 'ended')
  t.same([e2.cause, e2.endedBy], ['joined', 'api'])
  const joined = await eventOf(first, 'joined')
  t.same([joined.ok, joined.otherCallId], [true, second.id])
  t.equal(first.snapshot().legs.destination.uri, carol.uri, "carol is now the first call's destination leg")
  t.equal(first.stateName, 'bridged')
  const late = await second.hold()
  t.same(late.ok ? '' : late.code, 'call-ended', 'the joined call takes no more verbs')
  // carol's hang-up now ends the first call
  await carol.hangUp()
  await alice.waitFor('bye')
  t.equal((await eventOf(first, 'ended')).endedBy, 'destination')
})

t.test('REFER mode: after the transfer the server is not in the call', async (t) => {
  const s = await server(t)
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', followRefer: true, logger, answerAfterMs: 20 })
  t.teardown(() => alice.close())
  const bob = await phone(t, 'bob')
  const call = startCall(s.server.calls, alice, bob, false)
  const e = await eventOf(call, 'ended')
  t.same([e.cause, e.endedBy, e.code], ['completed', 'server', 200])
  t.ok(call.events.some((x) => x.type === 'referring'), 'referring event')
  const r = await call.hold()
  t.same(r.ok ? '' : r.code, 'not-in-call')
  const resolved = (s.server.calls as unknown as { resolve(k: string): { ok: boolean; code?: string } }).resolve(call.id)
  t.same(resolved.code, 'not-in-call', 'the service says so by id too')
})

t.test('busy destination: the ended event says busy and who', async (t) => {
  const s = await server(t)
  const [alice, busy] = await Promise.all([phone(t, 'alice'), phone(t, 'busy', 'busy')])
  const call = startCall(s.server.calls, alice, busy)
  const e = await eventOf(call, 'ended')
  t.same([e.cause, e.endedBy, e.code], ['busy', 'destination', 486])
  t.equal(call.snapshot().legs.destination.code, 486)
})

t.test('a throwing subscriber or event listener harms no call', async (t) => {
  const s = await server(t)
  const [alice, bob] = await Promise.all([phone(t, 'alice'), phone(t, 'bob')])
  let thrown = 0
  const off = s.server.calls.subscribe(() => {
    thrown += 1
    throw new Error('subscriber bug')
  })
  t.teardown(off)
  const call = startCall(s.server.calls, alice, bob)
  call.on('event', () => {
    throw new Error('listener bug')
  })
  await eventOf(call, 'bridged')
  t.ok(thrown >= 6, `the subscriber threw ${thrown} times and the call still bridged`)
  t.same(await call.end(), { ok: true })
  t.equal(call.events[call.events.length - 1]!.type, 'ended')
})

t.test('an unhandled rejection is logged and counted; the process lives on', async (t) => {
  const { execFile } = await import('node:child_process')
  const script = [
    "const pino = require('pino')",
    "const { guardProcess } = require('./dist/lib/log')",
    'const g = guardProcess(pino())',
    "Promise.reject(new Error('injected failure'))",
    "setTimeout(() => console.log(JSON.stringify({ alive: true, count: g.unhandledRejections })), 100)",
  ].join(';')
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { cwd: `${__dirname}/..`, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  )
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(lines[0], { level: 50, unhandledRejections: 1, err: { message: 'injected failure' } }, 'logged with the count')
  t.same(lines[1], { alive: true, count: 1 }, 'still running afterwards')
})

t.test('the initiator INVITE leaves after the loop turn that started the call; a call ended before that sends none', async (t) => {
  const s = await server(t)
  const a = await phone(t, 'alice')
  const b = await phone(t, 'bob')
  const call = startCall(s.server.calls, a, b)
  t.equal(call.snapshot().legs.initiator.sipCallId, null, 'no INVITE yet when start() returns: the front-end writes its 100 first')
  t.equal(call.stateName, 'calling-initiator')
  await new Promise((r) => setImmediate(r))
  t.type(call.snapshot().legs.initiator.sipCallId, 'string', 'the INVITE went in the same loop turn')
  await eventOf(call, 'bridged')
  await call.end()

  const c = await phone(t, 'carol')
  const early = startCall(s.server.calls, c, b)
  const ended = await early.end()
  t.ok(ended.ok)
  t.equal(early.stateName, 'ended')
  t.equal(early.results.filter((r) => r.final).map((r) => `${r.code} ${r.leg}`).join(), '487 Initiator', 'the client still gets one final result')
  await new Promise((r) => setTimeout(r, 300))
  t.equal(c.events.filter((e) => e.type === 'invite').length, 0, 'the initiator phone never rang')
})
