/**
 * What a confirmed dialog keeps (issue 16, memory per held call): the ACK it
 * sent for the INVITE's 2xx only while that 2xx may still be retransmitted
 * (64*T1), then only the fact that it was sent. What an ended one keeps: not
 * its owner (the call), though the stack keeps it 64*T1.
 */
import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import pino from 'pino'
import { createSipStack, type Dialog } from '../lib/sip'
import { createPhone } from '../lib/phone'

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' })
const SDP = 'v=0\r\no=ctc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\na=inactive\r\n'

/** the dialog's private ACK, read as tests read what a type hides */
function lastAck(d: Dialog): unknown {
  return (d as unknown as { lastAck?: unknown }).lastAck
}

function acked(d: Dialog): boolean {
  return (d as unknown as { acked: boolean }).acked
}

t.test('the ACK of the 2xx is kept 64*T1, then dropped; the dialog still counts as ACKed and works', async (t) => {
  const T1 = 20
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'ClickToCall', logger, timers: { T1 } })
  t.teardown(() => s.close())
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  const inv = s.invite({ target: alice.uri, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
  const dialog = await new Promise<Dialog>((resolve, reject) => {
    inv.on('answered', (d: Dialog) => resolve(d))
    inv.on('failed', (status: number) => reject(new Error(`failed ${status}`)))
  })
  t.ok(lastAck(dialog), 'the ACK is kept for retransmissions of the 2xx')
  t.ok(acked(dialog))
  await alice.waitFor('answered')
  await new Promise((r) => setTimeout(r, 64 * T1 + 200))
  t.equal(lastAck(dialog), undefined, 'dropped once the 2xx can no longer come')
  t.ok(acked(dialog), 'still ACKed: a later ack() sends nothing')
  t.equal(dialog.state, 'confirmed')
  await dialog.bye()
  await alice.waitFor('bye')
  t.equal(dialog.state, 'terminated')
})

/** a full collection: the GC exposed for this file only, once */
let gc: (() => void) | undefined
function collect(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as () => void
  }
  gc()
}

t.test('an ended dialog and its INVITE no longer hold their owner: the stack keeps them 64*T1, without the listeners', async (t) => {
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'ClickToCall', logger })
  t.teardown(() => s.close())
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  const stackMaps = s as unknown as { dialogs: Map<string, unknown>; clientInvites: Map<string, unknown> }
  // what a call is to the SIP layer: an owner its listeners close over
  let owner: { name: string; payload: number[] } | undefined = { name: 'the call', payload: new Array(10_000).fill(1) }
  const gone = new WeakRef(owner)
  const dialog = await (async (o: NonNullable<typeof owner>) => {
    const inv = s.invite({ target: alice.uri, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
    inv.on('progress', () => void o.name)
    inv.on('failed', () => void o.payload)
    const d = await new Promise<Dialog>((resolve) => inv.on('answered', (x: Dialog) => resolve(x)))
    d.on('terminated', () => void o.payload)
    d.on('reinvite', () => void o.name)
    return d
  })(owner)
  await alice.waitFor('answered')
  await dialog.bye()
  await alice.waitFor('bye')
  owner = undefined
  t.equal(stackMaps.dialogs.size, 1, 'the stack still knows the dialog (64*T1 for retransmissions)')
  t.equal(stackMaps.clientInvites.size, 1, 'and the INVITE (64*T1 for late 2xx)')
  let collected = false
  for (let i = 0; i < 20 && !collected; i++) {
    await new Promise((r) => setTimeout(r, 20))
    collect()
    collected = gone.deref() === undefined
  }
  t.ok(collected, 'the owner was collected: nothing the stack keeps holds it')
})

t.test('64*T1 after a call ends, the stack holds nothing of it: dialog, INVITE, transactions and waits all gone', async (t) => {
  const T1 = 20
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'ClickToCall', logger, timers: { T1, T4: 100 } })
  t.teardown(() => s.close())
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  const inside = s as unknown as {
    dialogs: Map<string, unknown>
    clientInvites: Map<string, unknown>
    waits: { size: number }
    tl: { size: { clients: number; servers: number } }
  }
  const inv = s.invite({ target: alice.uri, from: { uri: 'sip:click2call@127.0.0.1' }, sdp: SDP })
  const dialog = await new Promise<Dialog>((resolve) => inv.on('answered', (d: Dialog) => resolve(d)))
  await alice.waitFor('answered')
  await dialog.bye()
  await alice.waitFor('bye')
  t.ok(inside.waits.size >= 3, `${inside.waits.size} waits running (Timer M, the kept ACK, the invite and dialog to forget, the BYE's Timer K)`)
  t.equal(inside.dialogs.size, 1)
  t.equal(inside.clientInvites.size, 1)
  for (let i = 0; i < 60 && inside.waits.size > 0; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(inside.waits.size, 0, 'every wait ended')
  t.equal(inside.dialogs.size, 0, 'the dialog is forgotten')
  t.equal(inside.clientInvites.size, 0, 'the INVITE is forgotten')
  t.same(inside.tl.size, { clients: 0, servers: 0 }, 'no transaction left')
})

t.test('the next hops parsed once per text are bounded: 1,024 texts, none longer than 2,048 characters', async (t) => {
  const s = await createSipStack({ address: '127.0.0.1', port: 0, advertisedHost: '127.0.0.1', keepAlives: false, userAgent: 'ClickToCall', logger })
  t.teardown(() => s.close())
  // the stack's own routing, and its private cache, read as tests read what a type hides
  const stack = s as unknown as { literalTarget(rq: unknown): { address: string; port: number } | undefined; hops: Map<string, unknown> }
  const request = (uri: string, route?: string): unknown => ({ method: 'OPTIONS', uri, headers: route ? { route: [{ uri: route, params: {} }] } : {} })
  for (let port = 1; port <= 1100; port++) {
    const hop = stack.literalTarget(request(`sip:x@127.0.0.1:${port}`))
    if (hop?.port !== port) t.fail(`port ${port}: ${JSON.stringify(hop)}`)
  }
  t.ok(stack.hops.size > 0 && stack.hops.size <= 1024, `${stack.hops.size} texts kept after 1,100`)
  t.ok(stack.hops.has('sip:x@127.0.0.1:1100'), 'the latest text is among them')
  const first = stack.literalTarget(request('sip:x@127.0.0.1:7'))
  t.same(first, { protocol: 'UDP', address: '127.0.0.1', port: 7, name: '127.0.0.1' }, 'a text: its hop')
  t.equal(stack.literalTarget(request('sip:x@127.0.0.1:7')), first, 'again: the same hop, not parsed anew')
  const size = stack.hops.size
  const longRoute = `<sip:${'r'.repeat(3000)}@127.0.0.1:9;lr>`
  t.equal(stack.literalTarget(request('sip:x@127.0.0.1:8', longRoute))?.port, 8, 'a route too long to be a SIP URI here: the Request-URI is the hop')
  t.equal(stack.hops.size, size, 'and a key of more than 2,048 characters is not kept')
})
