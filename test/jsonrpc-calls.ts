/**
 * JSON-RPC commands on real calls: the `ws` client speaks call-api's wire
 * format to a started server whose phones are sipp processes on loopback.
 * Hold/resume (the held phone sees a=sendonly|inactive, then a=sendrecv),
 * CallEnd while ringing (CANCEL) and while talking (BYE to both), blind
 * transfer of each leg, an attended join of two calls, refused verbs, and
 * the replay of call-api's JavaScript example client.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { RpcClient } from './helpers/jsonrpc-client'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'

const SIPP = path.join(__dirname, 'sipp')

if (!sippAvailable()) {
  if (process.env.CI === 'true') t.fail('sipp is required under CI (apt-get install sip-tester)')
  else t.plan(0, 'sipp is not installed')
} else {
  t.jobs = 1
  run()
}

/** a sipp phone that answers after 1 s, answers re-INVITEs, and hangs up only when told to (BYE) */
async function phone(t: Test, scenario = 'destination.xml', extra: string[] = ['-d', '120000']): Promise<SippProcess> {
  const p = await startSipp({ scenario: path.join(SIPP, scenario), args: extra, timeoutSeconds: 60 })
  t.teardown(() => p.kill())
  return p
}

/** the SIP requests of `method` a sipp phone received (start line, headers and body), in order */
function received(p: SippProcess, method: string): string[] {
  const out: string[] = []
  for (const chunk of p.messages().split(/^-{10,}[^\n]*\n/m)) {
    const m = /^\w+ message received \[\d+\] bytes :\s*\n\s*([\s\S]*)$/.exec(chunk)
    if (m && m[1]!.startsWith(`${method} `)) out.push(m[1]!)
  }
  return out
}

async function until(what: string, pred: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const noErrors = (c: RpcClient, cmd: string): string[] => c.events(cmd).filter((e) => e.event === 'Error').map((e) => String(e.data))

function run(): void {
  let server: TestServer
  let port: number
  t.before(async () => {
    server = await startTestServer({ initiatorRingTimeout: 20, destinationRingTimeout: 20, jsonRpcRateLimit: 0 })
    port = server.server.jsonrpc!.port
  })
  t.teardown(() => server.close())

  async function client(t: Test): Promise<RpcClient> {
    const c = await RpcClient.connect(port)
    t.teardown(() => c.close())
    return c
  }

  /** CallStart between two phones, up to CalleeAnswered; returns the cmd_id and data.callid of TransferStart */
  async function bridged(c: RpcClient, a: SippProcess, b: SippProcess, user = ['alice', 'bob']): Promise<{ cmd: string; callid: string }> {
    const r = await c.call('CallStart', { caller: a.uri(user[0]!), callee: b.uri(user[1]!) })
    t.equal(r.result?.event, 'Started', 'CallStart answered Started')
    const cmd = String(r.result?.cmd_id)
    const start = (await c.event(cmd, 'TransferStart', 15000)) as { callid: string }
    await c.event(cmd, 'CalleeAnswered', 15000)
    return { cmd, callid: start.callid }
  }

  async function command(c: RpcClient, method: string, params: Record<string, unknown>, ms = 15000): Promise<{ cmd: string; events: string[] }> {
    const r = await c.call(method, params)
    if (r.result?.event !== 'Started') throw new Error(`${method}: ${JSON.stringify(r)}`)
    const cmd = String(r.result.cmd_id)
    await c.event(cmd, 'Ended', ms)
    return { cmd, events: c.events(cmd).map((e) => e.event) }
  }

  t.test('hold and resume the callee: a=sendonly|inactive, then a=sendrecv, seen by the held sipp phone', async (t) => {
    const alice = await phone(t)
    const bob = await phone(t)
    const c = await client(t)
    const { callid } = await bridged(c, alice, bob)
    const before = received(bob, 'INVITE').length
    const hold = await command(c, 'CallHold', { callid, leg: 'callee' })
    t.same(hold.events, ['CallHolding', 'CallHoldStart', 'CallHoldSuccessful', 'Ended'])
    const afterHold = received(bob, 'INVITE')
    t.equal(afterHold.length, before + 1, 'one re-INVITE to the held phone')
    t.match(afterHold.at(-1), /\r?\na=(sendonly|inactive)\r?\n/, 'the held phone is offered sendonly or inactive')
    const st = await c.call('CallStatus', { callid })
    t.match(st.result?.data, { legs: { callee: { held: true }, caller: { held: false } } })
    const unhold = await command(c, 'CallUnhold', { callid, leg: 'callee' })
    t.same(unhold.events, ['CallUnholding', 'CallUnholdStart', 'CallUnholdSuccessful', 'Ended'])
    const afterUnhold = received(bob, 'INVITE')
    t.equal(afterUnhold.length, before + 2)
    t.match(afterUnhold.at(-1), /\r?\na=sendrecv\r?\n/, 'then sendrecv')
    t.notMatch(afterUnhold.at(-1), /a=(sendonly|inactive|recvonly)/)
    await command(c, 'CallEnd', { callid })
    t.equal((await alice.exit).code, 0)
    t.equal((await bob.exit).code, 0)
  })

  t.test('"anchor": false: the caller is REFERred; the command ends at CalleeAnswered; the server is out of the call', async (t) => {
    const bob = await phone(t, 'destination.xml', ['-d', '1000'])
    const alice = await phone(t, 'initiator.xml', ['-d', '1000'])
    const c = await client(t)
    const r = await c.call('CallStart', { caller: alice.uri('alice'), callee: bob.uri('bob'), anchor: false })
    const cmd = String(r.result?.cmd_id)
    await c.event(cmd, 'Ended', 20000)
    t.same(c.events(cmd).map((e) => e.event).filter((e) => e !== 'TransferPending'), ['CallerAnswered', 'Transferring', 'TransferStart', 'CalleeAnswered', 'Ended'])
    t.equal(received(alice, 'REFER').length, 1, 'the caller got the REFER')
    const st = await c.call('CallStatus', { callid: r.result?.callid })
    t.match(st.result?.data, { mode: 'refer', anchor: false })
    const hold = await c.call('CallHold', { callid: r.result?.callid })
    if (hold.error) t.equal(hold.error.code, -32001, 'a verb on it is refused: the call has ended')
    else {
      await c.event(String(hold.result?.cmd_id), 'Ended')
      t.match(c.events(String(hold.result?.cmd_id)).map((e) => e.event), ['CallHolding', 'CallHoldStart', 'CallHoldStart', 'Error', 'Ended'], 'a verb on it is refused')
    }
    t.equal((await alice.exit).code, 0)
    t.equal((await bob.exit).code, 0)
  })

  t.test('CallEnd while the caller rings: CANCEL; CallStart ends with Error then Ended', async (t) => {
    const alice = await phone(t, 'noanswer.xml', [])
    const bob = await phone(t)
    const c = await client(t)
    const r = await c.call('CallStart', { caller: alice.uri('alice'), callee: bob.uri('bob') })
    const cmd = String(r.result?.cmd_id)
    const callid = String(r.result?.callid)
    await until('the caller to ring', () => /SIP\/2\.0 180/.test(alice.messages()))
    const end = await command(c, 'CallEnd', { callid })
    t.same(end.events, ['Ended'])
    await c.event(cmd, 'Ended')
    t.same(c.events(cmd).map((e) => e.event), ['Error', 'Ended'])
    t.match(c.events(cmd)[0]!.data, /^cancelled before the caller answered: /)
    t.equal((await alice.exit).code, 0, 'the ringing phone got its CANCEL (scenario completed)')
    t.equal(received(alice, 'CANCEL').length, 1)
    t.equal(received(bob, 'INVITE').length, 0, 'the callee was never called')
    const st = await c.call('CallStatus', { callid })
    t.match(st.result?.data, { cause: 'cancelled', ended_by: 'api' })
  })

  t.test('CallEnd while talking: BYE to both; the anchored CallStart ends with how', async (t) => {
    const alice = await phone(t)
    const bob = await phone(t)
    const c = await client(t)
    const { cmd, callid } = await bridged(c, alice, bob)
    const end = await command(c, 'CallEnd', { callid })
    t.same(end.events, ['Ended'])
    const how = await c.event(cmd, 'Ended')
    t.match(how, { callid, cause: 'completed', ended_by: 'api' })
    t.comment(`CallStart Ended: ${JSON.stringify(how)}`)
    t.same(noErrors(c, cmd), [])
    t.equal((await alice.exit).code, 0)
    t.equal((await bob.exit).code, 0)
    t.equal(received(alice, 'BYE').length, 1, 'BYE to the caller')
    t.equal(received(bob, 'BYE').length, 1, 'BYE to the callee')
    t.equal((await c.call('CallEnd', { callid })).error?.code, -32001, 'a second CallEnd: the call has ended')
  })

  for (const leg of ['caller', 'callee'] as const) {
    t.test(`blind transfer of the ${leg}: the target is called and bridged to the ${leg}, the other party gets BYE`, async (t) => {
      const alice = await phone(t)
      const bob = await phone(t)
      const carol = await phone(t)
      const c = await client(t)
      const { callid } = await bridged(c, alice, bob)
      const [stays, released] = leg === 'caller' ? [alice, bob] : [bob, alice]
      const x = await command(c, 'CallBlindTransfer', { callid, leg, destination: carol.uri('carol') }, 20000)
      t.same(x.events.filter((e) => e !== 'TransferPending'), ['Transferring', 'TransferStart', 'TransferSuccessful', 'Ended'])
      t.equal(received(carol, 'INVITE').length >= 1, true, 'the target received an INVITE')
      t.equal((await released.exit).code, 0, 'the released party hung up by BYE')
      t.equal(received(released, 'BYE').length, 1)
      const relayed = [...received(stays, 'INVITE').slice(1), ...received(stays, 'ACK')].join('\n')
      t.match(relayed, `m=audio ${carol.mediaPort} `, `the ${leg} now has the target's media`)
      const st = await c.call('CallStatus', { callid })
      t.match(st.result?.data, { ended_by: null, transfers: 1 })
      await command(c, 'CallEnd', { callid })
      t.equal((await stays.exit).code, 0)
      t.equal((await carol.exit).code, 0)
    })
  }

  t.test('attended join: the callee of call A talks to the caller of call B; the other two get BYE', async (t) => {
    const a1 = await phone(t)
    const a2 = await phone(t)
    const b1 = await phone(t)
    const b2 = await phone(t)
    const c = await client(t)
    const A = await bridged(c, a1, a2, ['a1', 'a2'])
    const B = await bridged(c, b1, b2, ['b1', 'b2'])
    const j = await command(c, 'CallAttendedTransfer', { callid_a: A.callid, leg_a: 'callee', callid_b: B.callid, leg_b: 'caller' }, 20000)
    t.same(j.events, ['Transferring', 'TransferStart', 'TransferSuccessful', 'Ended'])
    t.equal((await a1.exit).code, 0, 'caller of A released')
    t.equal((await b2.exit).code, 0, 'callee of B released')
    t.match(await c.event(B.cmd, 'Ended'), { cause: 'joined' }, 'call B ended as joined')
    const toA2 = [...received(a2, 'INVITE').slice(1), ...received(a2, 'ACK')].join('\n')
    const toB1 = [...received(b1, 'INVITE').slice(1), ...received(b1, 'ACK')].join('\n')
    t.match(toA2, `m=audio ${b1.mediaPort} `, 'a2 has b1\'s media')
    t.match(toB1, `m=audio ${a2.mediaPort} `, 'b1 has a2\'s media')
    await command(c, 'CallEnd', { callid: A.callid })
    t.equal((await a2.exit).code, 0)
    t.equal((await b1.exit).code, 0)
  })

  t.test('refused verbs: hold of a leg still ringing; blind transfer to a busy target leaves the call as it was', async (t) => {
    const alice = await phone(t)
    const bob = await phone(t, 'noanswer.xml', [])
    const c = await client(t)
    const r = await c.call('CallStart', { caller: alice.uri('alice'), callee: bob.uri('bob') })
    const cmd = String(r.result?.cmd_id)
    const callid = String(r.result?.callid)
    await c.event(cmd, 'TransferPending', 15000)
    const h = await command(c, 'CallHold', { callid, leg: 'callee' })
    t.same(h.events.slice(-2), ['Error', 'Ended'])
    const err = c.singles().find((m) => m.params?.cmd_id === h.cmd && m.params.event === 'Error')
    // the callee is still ringing: the call is still being set up (bad-state) or the leg has no dialog
    t.match(err?.params?.code, /^(bad-state|leg-not-answered)$/)
    t.type(err?.params?.data, 'string')
    t.comment(`refused hold: ${JSON.stringify(err?.params)}`)
    await command(c, 'CallEnd', { callid })
    t.equal((await bob.exit).code, 0, 'the ringing callee got CANCEL')
    t.equal((await alice.exit).code, 0, 'the caller got BYE')

    const a = await phone(t)
    const b = await phone(t)
    const busy = await phone(t, 'busy.xml', [])
    const call = await bridged(c, a, b, ['a', 'b'])
    const x = await command(c, 'CallBlindTransfer', { callid: call.callid, leg: 'caller', destination: busy.uri('busy') }, 20000)
    t.same(x.events.slice(-2), ['Error', 'Ended'])
    const xerr = c.singles().find((m) => m.params?.cmd_id === x.cmd && m.params.event === 'Error')
    t.match(xerr?.params, { code: 'sip-failed', status: 486 })
    t.comment(`refused transfer: ${JSON.stringify(xerr?.params)}`)
    const st = await c.call('CallStatus', { callid: call.callid })
    t.match(st.result?.data, { ended_by: null, legs: { caller: { status: 'answered' }, callee: { status: 'answered' } } }, 'both parties still in the call')
    t.equal(received(b, 'BYE').length, 0, 'nobody was released')
    await command(c, 'CallEnd', { callid: call.callid })
    t.equal((await a.exit).code, 0)
    t.equal((await b.exit).code, 0)
  })

  t.test('refused verb: the phone answers the hold re-INVITE 488; the command says so, the call goes on un-held', async (t) => {
    const alice = await phone(t)
    const bob = await phone(t, 'reinvite-refused.xml')
    const c = await client(t)
    const { callid, cmd } = await bridged(c, alice, bob)
    const h = await command(c, 'CallHold', { callid, leg: 'callee' })
    t.same(h.events, ['CallHolding', 'CallHoldStart', 'Error', 'Ended'])
    const err = c.singles().find((m) => m.params?.cmd_id === h.cmd && m.params.event === 'Error')
    t.match(err?.params, { code: 'sip-failed', status: 488 })
    t.comment(`refused by the phone: ${JSON.stringify(err?.params)}`)
    t.match(bob.messages(), /SIP\/2\.0 488 Not Acceptable Here/, 'the sipp phone sent its 488')
    const st = await c.call('CallStatus', { callid })
    t.match(st.result?.data, { ended_by: null, legs: { callee: { held: false, status: 'answered' } } })
    t.same(c.events(cmd).map((e) => e.event).slice(-1), ['CalleeAnswered'], 'the CallStart command goes on')
    await command(c, 'CallEnd', { callid })
    t.equal((await alice.exit).code, 0)
    t.equal((await bob.exit).code, 0)
  })

  t.test("replay of call-api's JavaScript example client: CallStart, CallHold, CallUnhold, CallEnd with data.callid", async (t) => {
    const alice = await phone(t)
    const bob = await phone(t)
    const c = await client(t)
    // the events examples/javascript/call-api.js handles; anything else it shows as "Unhandled message"
    const HANDLED = ['Error', 'CallerAnswered', 'TransferStart', 'TransferPending', 'Transferring', 'CalleeAnswered', 'CallHolding', 'CallUnholding', 'CallHoldStart', 'CallUnholdStart', 'CallHoldSuccessful', 'CallUnholdSuccessful', 'Ended']
    // client.call("CallStart", { caller: caller, callee: callee}, ...)
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: 'CallStart', params: { caller: alice.uri('alice'), callee: bob.uri('bob') }, id: 1 }))
    const started = await c.response(1)
    t.equal(started.result?.event, 'Started')
    const startCmd = String(started.result?.cmd_id)
    // case "TransferStart": callid = obj.params.data.callid
    const callid = ((await c.event(startCmd, 'TransferStart', 15000)) as { callid: string }).callid
    t.type(callid, 'string')
    await c.event(startCmd, 'CalleeAnswered', 15000)
    // CallHold(): client.call("CallHold", { callid: callid }, ...)
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: 'CallHold', params: { callid }, id: 2 }))
    const held = await c.response(2)
    t.equal(held.result?.event, 'Started', 'the success callback runs: "Call on hold"')
    await c.event(String(held.result?.cmd_id), 'Ended', 15000)
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: 'CallUnhold', params: { callid }, id: 3 }))
    const resumed = await c.response(3)
    t.equal(resumed.result?.event, 'Started', '"Call resumed"')
    await c.event(String(resumed.result?.cmd_id), 'Ended', 15000)
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: 'CallEnd', params: { callid }, id: 4 }))
    const ended = await c.response(4)
    t.equal(ended.result?.event, 'Started', '"Call Ended"')
    await c.event(startCmd, 'Ended', 15000)
    const notes = c.singles().filter((m) => m.method !== undefined)
    t.same(notes.filter((m) => !HANDLED.includes(String(m.params?.event))), [], 'every notification is one the example client handles')
    t.same(notes.filter((m) => m.params?.event === 'Error'), [], 'no Error')
    t.ok(notes.every((m) => typeof m.params?.cmd_id === 'string' && m.jsonrpc === '2.0'))
    t.equal((await alice.exit).code, 0)
    t.equal((await bob.exit).code, 0)
    t.equal(received(bob, 'INVITE').length, 3, 'callee: the INVITE, then the hold and resume re-INVITEs')
  })
}
