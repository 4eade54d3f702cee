/**
 * The JSON-RPC front-end's mapping of call events and verb outcomes to
 * call-api's notifications, through a real WebSocket, over a scripted call
 * layer that implements the contract (lib/call/api.ts): each test
 * plays the events a call would emit and checks the exact notification
 * sequence. Real calls with phones: test/jsonrpc-calls.ts.
 */
import t, { type Test } from 'tap'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import { createJsonRpcFrontEnd, type JsonRpcFrontEndOptions } from '../lib/jsonrpc'
import type {
  CallEvent,
  CallFilter,
  CallHandle,
  CallRequest,
  CallResult,
  CallService,
  CallSnapshot,
  LegRole,
  StartOutcome,
  VerbOutcome,
} from '../lib/call/api'
import { RpcClient, type RpcMessage } from './helpers/jsonrpc-client'

/** an event as the call layer would emit it, before its common fields */
type Body = CallEvent extends infer E ? (E extends CallEvent ? Omit<E, 'callId' | 'setupId' | 'seq' | 'at'> : never) : never

const times = { createdAt: 1, initiatorAnsweredAt: null, destinationAnsweredAt: null, bridgedAt: null, endedAt: null }

class ScriptedCall extends EventEmitter implements CallHandle {
  readonly results: CallResult[] = []
  readonly events: CallEvent[] = []
  readonly verbs: Array<{ verb: string; args: unknown[] }> = []
  /** what the next verb answers */
  answer: VerbOutcome = { ok: true }
  ended = false
  stateName = 'created'
  constructor(
    readonly id: string,
    readonly request: CallRequest,
  ) {
    super()
  }
  get setupId(): string | undefined {
    return this.request.setupId
  }
  get translatedInitiator(): string {
    return this.request.initiator
  }
  get translatedDestination(): string {
    return this.request.destination
  }
  play(body: Body): void {
    const e = { ...body, callId: this.id, setupId: this.setupId ?? null, seq: this.events.length + 1, at: Date.now() } as CallEvent
    this.events.push(e)
    if (e.type === 'ended') this.ended = true
    this.emit('event', e)
  }
  snapshot(): CallSnapshot {
    const leg = (role: LegRole, uri: string) => ({ role, uri, status: 'calling' as const, sipCallId: `${role}-${this.id}@127.0.0.1`, held: false, code: null, answeredAt: null, endedAt: null })
    return {
      id: this.id,
      setupId: this.setupId ?? null,
      state: this.stateName,
      anchor: this.request.anchor,
      mode: this.request.anchor ? 'anchored' : 'refer',
      origin: this.request.origin,
      initiator: this.request.initiator,
      destination: this.request.destination,
      translatedInitiator: this.request.initiator,
      translatedDestination: this.request.destination,
      createdAt: 1,
      endedAt: this.ended ? 2 : null,
      results: this.results,
      legs: { initiator: leg('initiator', this.request.initiator), destination: leg('destination', this.request.destination) },
      times,
      holds: 0,
      transfers: 0,
      cause: null,
      endedBy: null,
      code: null,
    }
  }
  private verb(verb: string, ...args: unknown[]): Promise<VerbOutcome> {
    this.verbs.push({ verb, args })
    return new Promise((r) => setTimeout(() => r(this.answer), 5))
  }
  end(): Promise<VerbOutcome> {
    return this.verb('end')
  }
  hold(leg?: LegRole): Promise<VerbOutcome> {
    return this.verb('hold', leg)
  }
  unhold(leg?: LegRole): Promise<VerbOutcome> {
    return this.verb('unhold', leg)
  }
  transfer(leg: LegRole, target: string): Promise<VerbOutcome> {
    return this.verb('transfer', leg, target)
  }
  join(leg: LegRole, other: CallHandle | string, otherLeg: LegRole): Promise<VerbOutcome> {
    return this.verb('join', leg, typeof other === 'string' ? other : other.id, otherLeg)
  }
}

class ScriptedCalls implements CallService {
  readonly calls: ScriptedCall[] = []
  private readonly subscribers = new Set<(e: CallEvent) => void>()
  start(request: CallRequest): StartOutcome {
    if (!request.initiator.startsWith('sip:')) {
      return { ok: false, reason: 'no-translation', code: 400, text: `No translation rule for either initiator ${request.initiator} or destination ${request.destination}`, initiator: request.initiator, destination: request.destination }
    }
    const call = new ScriptedCall(`call${this.calls.length + 1}`, request)
    call.on('event', (e: CallEvent) => {
      for (const s of this.subscribers) s(e)
    })
    this.calls.push(call)
    call.play({ type: 'created', initiator: request.initiator, destination: request.destination, translatedInitiator: request.initiator, translatedDestination: request.destination, anchor: request.anchor, origin: request.origin })
    return { ok: true, call }
  }
  get(id: string): CallSnapshot | undefined {
    return this.calls.find((c) => c.id === id)?.snapshot()
  }
  find(key: string): CallHandle | undefined {
    return this.calls.find((c) => !c.ended && (c.id === key || `initiator-${c.id}@127.0.0.1` === key))
  }
  findBySetupId(setupId: string): CallSnapshot | undefined {
    return this.calls.find((c) => c.setupId === setupId)?.snapshot()
  }
  list(filter?: CallFilter): CallSnapshot[] {
    return this.calls.filter((c) => !c.ended && (!filter?.initiator || c.request.initiator === filter.initiator)).map((c) => c.snapshot())
  }
  subscribe(listener: (e: CallEvent) => void): () => void {
    this.subscribers.add(listener)
    return () => this.subscribers.delete(listener)
  }
  get subscriberCount(): number {
    return this.subscribers.size
  }
}

async function setup(t: Test, o: Partial<JsonRpcFrontEndOptions> = {}): Promise<{ calls: ScriptedCalls; c: RpcClient }> {
  const calls = new ScriptedCalls()
  const fe = await createJsonRpcFrontEnd({
    calls,
    port: 0,
    host: '127.0.0.1',
    allow: ['127.0.0.0/8'],
    token: '',
    maxMessageSize: 65536,
    maxConnections: 8,
    maxConnectionsPerAddress: 8,
    rateLimit: 0,
    maxCommandsPerConnection: 8,
    pingIntervalMs: 0,
    logger: pino({ level: 'silent' }),
    ...o,
  })
  t.teardown(() => fe.close())
  const c = await RpcClient.connect(fe.port)
  t.teardown(() => c.close())
  return { calls, c }
}

const names = (c: RpcClient, cmdId: string): string[] => c.events(cmdId).map((e) => e.event)

async function started(c: RpcClient, method: string, params: Record<string, unknown>): Promise<string> {
  const r = await c.call(method, params)
  if (r.result?.event !== 'Started') throw new Error(`${method} did not start: ${JSON.stringify(r)}`)
  return String(r.result.cmd_id)
}

async function startCall(t: Test, anchor = true): Promise<{ calls: ScriptedCalls; c: RpcClient; call: ScriptedCall; cmd: string }> {
  const { calls, c } = await setup(t)
  const r = await c.call('CallStart', { caller: 'sip:alice@127.0.0.1', callee: 'sip:bob@127.0.0.1', ...(anchor ? {} : { anchor: false }) })
  const call = calls.calls[0]!
  return { calls, c, call, cmd: String(r.result?.cmd_id) }
}

t.test('CallStart, anchored: call-api events in order; the command lasts until the call ends', async (t) => {
  const { c, call, cmd, calls } = await startCall(t)
  t.equal(cmd, call.id, 'cmd_id defaults to the call id')
  t.equal(call.request.anchor, true)
  t.equal(call.request.origin.frontEnd, 'json')
  call.play({ type: 'ringing', leg: 'initiator', status: 180 })
  call.play({ type: 'answered', leg: 'initiator' })
  call.play({ type: 'ringing', leg: 'destination', status: 183 })
  call.play({ type: 'answered', leg: 'destination' })
  t.notOk(await c.event(cmd, 'CalleeAnswered', 200).catch(() => undefined), 'not at the callee\'s 200: the bridge is not complete')
  call.play({ type: 'bridged' })
  await c.event(cmd, 'CalleeAnswered')
  t.same(names(c, cmd), ['CallerAnswered', 'Transferring', 'TransferStart', 'TransferPending', 'CalleeAnswered'])
  const ev = c.events(cmd)
  t.same(ev[0]!.data, { caller: 'sip:alice@127.0.0.1', callee: 'sip:bob@127.0.0.1' })
  t.same(ev[1]!.data, { caller: 'sip:alice@127.0.0.1', destination: 'sip:bob@127.0.0.1' })
  t.same(ev[2]!.data, { callid: call.id, caller: 'sip:alice@127.0.0.1', callee: 'sip:bob@127.0.0.1' })
  t.same(ev[3]!.data, { callid: call.id, caller: 'sip:alice@127.0.0.1', callee: 'sip:bob@127.0.0.1', extra: '183 Session Progress' })
  t.ok(ev.every((e) => e.method === 'CallStart'))
  call.play({ type: 'held', leg: 'initiator', by: 'initiator' })
  call.play({ type: 'ended', cause: 'completed', endedBy: 'destination', code: 200, reason: 'BYE', times })
  t.same(await c.event(cmd, 'Ended'), { callid: call.id, cause: 'completed', ended_by: 'callee', code: 200, reason: 'BYE' })
  t.equal(names(c, cmd).length, 6, 'nothing else (the hold is not a CallStart event)')
  t.equal(call.listenerCount('event'), 1, 'only the service listener remains')
  t.equal(calls.calls.length, 1)
})

t.test('CallStart, REFER: the command ends at CalleeAnswered; a failure is Error then Ended', async (t) => {
  const { c, call, cmd } = await startCall(t, false)
  t.equal(call.request.anchor, false)
  call.play({ type: 'answered', leg: 'initiator' })
  call.play({ type: 'referring', target: 'sip:bob@127.0.0.1' })
  call.play({ type: 'ringing', leg: 'destination', status: 180 })
  call.play({ type: 'bridged' })
  await c.event(cmd, 'Ended')
  t.same(names(c, cmd), ['CallerAnswered', 'Transferring', 'TransferStart', 'TransferPending', 'CalleeAnswered', 'Ended'])
  t.match(c.events(cmd)[3]!.data, { extra: '180 Ringing' })

  const r = await c.call('CallStart', { caller: 'sip:carol@127.0.0.1', callee: 'sip:dave@127.0.0.1', cmd_id: 'mine-1' })
  t.same(r.result, { event: 'Started', cmd_id: 'mine-1', callid: 'call2' }, 'a client cmd_id')
})

t.test('CallStart failures: caller busy, callee no answer; a refusal is -32000', async (t) => {
  const { calls, c, call, cmd } = await startCall(t)
  call.play({ type: 'ended', cause: 'busy', endedBy: 'initiator', code: 486, reason: 'Busy Here', times })
  await c.event(cmd, 'Ended')
  const err = c.singles().find((m) => m.params?.cmd_id === cmd && m.params.event === 'Error')
  t.same(err?.params, { cmd_id: cmd, event: 'Error', data: 'caller leg failed: 486 Busy Here', cause: 'busy', code: 486 })
  t.same(names(c, cmd), ['Error', 'Ended'])

  const cmd2 = await started(c, 'CallStart', { caller: 'sip:a@127.0.0.1', callee: 'sip:b@127.0.0.1' })
  const call2 = calls.calls[1]!
  call2.play({ type: 'answered', leg: 'initiator' })
  call2.play({ type: 'ended', cause: 'no-answer', endedBy: 'timeout', code: 408, reason: 'Request Timeout', times })
  await c.event(cmd2, 'Ended')
  t.same(names(c, cmd2), ['CallerAnswered', 'Transferring', 'TransferStart', 'Error', 'Ended'])
  t.equal(c.events(cmd2)[3]!.data, 'callee leg failed: 408 Request Timeout')

  const refused = await c.call('CallStart', { caller: 'alice', callee: 'bob' })
  t.same(refused.error, { code: -32000, message: 'No translation rule for either initiator alice or destination bob', data: { reason: 'no-translation', status: 400 } })
})

t.test('CallHold / CallUnhold / CallUnHold: per-leg events; a refusal is Error with its code', async (t) => {
  const { c, call } = await startCall(t)
  const h = await started(c, 'CallHold', { callid: call.id })
  await c.event(h, 'Ended')
  t.same(names(c, h), ['CallHolding', 'CallHoldStart', 'CallHoldStart', 'CallHoldSuccessful', 'CallHoldSuccessful', 'Ended'])
  t.same(c.events(h).slice(1, 3).map((e) => e.data), [{ leg: 'caller' }, { leg: 'callee' }])
  t.same(call.verbs.at(-1), { verb: 'hold', args: [undefined] })

  const u = await started(c, 'CallUnHold', { callid: `initiator-${call.id}@127.0.0.1`, leg: 'callee' })
  await c.event(u, 'Ended')
  t.same(names(c, u), ['CallUnholding', 'CallUnholdStart', 'CallUnholdSuccessful', 'Ended'], 'by SIP Call-ID, one leg')
  t.equal(c.events(u)[0]!.method, 'CallUnHold', 'notifications carry the method as the client spelt it')
  t.same(call.verbs.at(-1), { verb: 'unhold', args: ['destination'] })

  call.answer = { ok: false, code: 'leg-not-answered', message: 'the destination has not answered' }
  const x = await started(c, 'CallUnhold', { callid: call.id })
  await c.event(x, 'Ended')
  t.same(names(c, x), ['CallUnholding', 'CallUnholdStart', 'CallUnholdStart', 'Error', 'Ended'])
  const err = c.singles().find((m) => m.params?.cmd_id === x && m.params.event === 'Error')
  t.same(err?.params, { cmd_id: x, event: 'Error', data: 'the destination has not answered', code: 'leg-not-answered' })
})

t.test('CallEnd; unknown and ended calls are -32001', async (t) => {
  const { c, call } = await startCall(t)
  const e = await started(c, 'CallEnd', { callid: call.id })
  await c.event(e, 'Ended')
  t.same(names(c, e), ['Ended'])
  t.same(call.verbs.at(-1), { verb: 'end', args: [] })
  const unknown = await c.call('CallEnd', { callid: 'nope' })
  t.same(unknown.error, { code: -32001, message: 'no call nope', data: { reason: 'unknown-call' } })
  call.play({ type: 'ended', cause: 'cancelled', endedBy: 'api', code: 487, reason: 'Request Terminated', times })
  const gone = await c.call('CallHold', { callid: call.id })
  t.same(gone.error, { code: -32001, message: `call ${call.id} has ended`, data: { reason: 'call-ended' } })
})

t.test('CallBlindTransfer: Transferring, TransferStart, TransferPending, TransferSuccessful; failure', async (t) => {
  const { c, call } = await startCall(t)
  const b = await started(c, 'CallBlindTransfer', { callid: call.id, leg: 'caller', destination: 'sip:carol@127.0.0.1' })
  call.play({ type: 'transferring', leg: 'initiator', target: 'sip:carol@127.0.0.1' })
  call.play({ type: 'ringing', leg: 'destination', status: 180 })
  call.play({ type: 'transferred', leg: 'initiator', target: 'sip:carol@127.0.0.1', ok: true, status: 200 })
  await c.event(b, 'Ended')
  t.same(names(c, b), ['Transferring', 'TransferStart', 'TransferPending', 'TransferSuccessful', 'Ended'])
  t.same(c.events(b).map((e) => e.data), [
    { destination: 'sip:carol@127.0.0.1' },
    { callid: call.id, destination: 'sip:carol@127.0.0.1' },
    { callid: call.id, destination: 'sip:carol@127.0.0.1', extra: '180 Ringing' },
    { callid: call.id, destination: 'sip:carol@127.0.0.1' },
    undefined,
  ])
  t.same(call.verbs.at(-1), { verb: 'transfer', args: ['initiator', 'sip:carol@127.0.0.1'] })

  call.answer = { ok: false, code: 'sip-failed', message: 'the target refused: 486', status: 486 }
  const f = await started(c, 'CallBlindTransfer', { callid: call.id, leg: 'callee', destination: 'sip:dave@127.0.0.1' })
  await c.event(f, 'Ended')
  t.same(names(c, f), ['Transferring', 'Error', 'Ended'])
  const err = c.singles().find((m) => m.params?.cmd_id === f && m.params.event === 'Error')
  t.same(err?.params, { cmd_id: f, event: 'Error', data: 'the target refused: 486', code: 'sip-failed', status: 486 })
  t.equal(call.listenerCount('event'), 2, 'the transfer commands removed their listeners (service + CallStart remain)')
})

t.test('CallAttendedTransfer: both spellings; leg A of call A joins leg B of call B', async (t) => {
  const { calls, c, call } = await startCall(t)
  await started(c, 'CallStart', { caller: 'sip:carol@127.0.0.1', callee: 'sip:dave@127.0.0.1' })
  const other = calls.calls[1]!
  const a = await started(c, 'CallAttendedTransfer', { callid_a: call.id, leg_a: 'callee', callid_b: other.id, leg_b: 'caller' })
  await c.event(a, 'Ended')
  t.same(names(c, a), ['Transferring', 'TransferStart', 'TransferSuccessful', 'Ended'])
  t.same(c.events(a)[1]!.data, { callid: call.id, callid_b: other.id })
  t.same(call.verbs.at(-1), { verb: 'join', args: ['destination', other.id, 'initiator'] })
  const b = await started(c, 'CallAttendedTransfer', { callidA: other.id, legA: 'caller', callidB: call.id, legB: 'callee' })
  await c.event(b, 'Ended')
  t.same(other.verbs.at(-1), { verb: 'join', args: ['initiator', call.id, 'destination'] })
  t.equal((await c.call('CallAttendedTransfer', { callidA: call.id, legA: 'caller', callidB: 'nope', legB: 'callee' })).error?.code, -32001)
})

t.test('CallStatus, CallList, Subscribe (all calls or one), Unsubscribe', async (t) => {
  const { calls, c, call } = await startCall(t)
  const st = await c.call('CallStatus', { callid: call.id })
  t.equal(st.result?.event, 'Status')
  const data = st.result?.data as Record<string, unknown>
  t.match(data, { callid: call.id, state: 'created', anchor: true, mode: 'anchored', caller: 'sip:alice@127.0.0.1', callee: 'sip:bob@127.0.0.1', front_end: 'json' })
  t.match(data.legs, { caller: { sip_call_id: `initiator-${call.id}@127.0.0.1` } })
  t.notOk('remoteAddress' in data || 'origin' in data, 'no client address')
  t.equal((await c.call('CallStatus', { callid: 'nope' })).error?.code, -32001)

  const list = await c.call('CallList', { caller: 'sip:alice@127.0.0.1' })
  t.same((list.result?.data as { calls: Array<{ callid: string }> }).calls.map((x) => x.callid), [call.id])
  t.same(((await c.call('CallList', { caller: 'sip:nobody@127.0.0.1' })).result?.data as { calls: unknown[] }).calls, [])

  const all = await started(c, 'Subscribe', {})
  const one = await started(c, 'Subscribe', { callid: call.id })
  await started(c, 'CallStart', { caller: 'sip:carol@127.0.0.1', callee: 'sip:dave@127.0.0.1', setup_id: 'crm-42' })
  call.play({ type: 'ringing', leg: 'initiator', status: 180 })
  call.play({ type: 'held', leg: 'destination', by: 'api' })
  call.play({ type: 'result', result: { code: 180, leg: 'Initiator', text: 'Ringing', final: false, at: 1 } })
  call.play({ type: 'ended', cause: 'completed', endedBy: 'api', code: 200, reason: 'ended by the API', times })
  await c.event(one, 'Ended')
  t.same(names(c, one), ['CallRinging', 'CallHeld', 'CallEnded', 'Ended'], 'one call; the XML result is not shown')
  t.match(c.events(one)[1]!.data, { callid: call.id, leg: 'callee', by: 'api', seq: 3 })
  t.match(c.events(one)[2]!.data, { cause: 'completed', ended_by: 'api', code: 200, times: { created_at: 1 } })
  t.same(names(c, all), ['CallCreated', 'CallRinging', 'CallHeld', 'CallEnded'], 'every call: the second call was created')
  t.match(c.events(all)[0]!.data, { callid: 'call2', setup_id: 'crm-42', caller: 'sip:carol@127.0.0.1', front_end: 'json' })
  t.equal(calls.subscriberCount, 1)
  const un = await c.call('Unsubscribe', { cmd_id: all })
  t.same(un.result, { event: 'Unsubscribed', cmd_id: all })
  await c.event(all, 'Ended')
  t.equal(calls.subscriberCount, 0, 'unsubscribed from the call layer')
  t.equal((await c.call('Unsubscribe', { cmd_id: all })).error?.code, -32602)
})

t.test('commands in progress are bounded per connection; a cmd_id in use is refused; a client that leaves stops listening', async (t) => {
  const { calls, c } = await setup(t, { maxCommandsPerConnection: 2 })
  c.sendRaw(JSON.stringify([
    { jsonrpc: '2.0', id: 'd1', method: 'Subscribe', params: { cmd_id: 's1' } },
    { jsonrpc: '2.0', id: 'd2', method: 'Subscribe', params: { cmd_id: 's1' } },
  ]))
  const batch = await c.until('batch', () => c.received.find((x): x is RpcMessage[] => Array.isArray(x)))
  t.same(batch.map((m) => [m.id, m.result?.event ?? m.error?.code]), [['d1', 'Started'], ['d2', -32602]], 'the same cmd_id twice in one batch')
  t.equal((await c.call('Subscribe', { cmd_id: 's1' })).error?.code, -32602, 'cmd_id in use')
  await started(c, 'CallStart', { caller: 'sip:a@127.0.0.1', callee: 'sip:b@127.0.0.1' })
  const third = await c.call('CallStart', { caller: 'sip:a@127.0.0.1', callee: 'sip:b@127.0.0.1' })
  t.equal(third.error?.code, -32006)
  t.match(third.error?.message, /at most 2/)
  t.equal(calls.calls.length, 1, 'no call was started for the refused command')
  const call = calls.calls[0]!
  t.equal(call.listenerCount('event'), 2)
  await c.close()
  const deadline = Date.now() + 3000
  while (calls.subscriberCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.equal(calls.subscriberCount, 0, 'Subscribe removed')
  t.equal(call.listenerCount('event'), 1, 'CallStart listener removed')
  t.same(call.verbs, [], 'the call itself goes on (not ended)')
})
