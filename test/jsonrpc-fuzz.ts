/**
 * Fuzzing the JSON-RPC front-end of a running server: mutated requests
 * (every method, wrong types, odd ids, broken JSON, binary frames, invalid
 * UTF-8) from a real `ws` client. Asserts: every text message that is read
 * gets exactly one answer, the server stays up and still starts a real call
 * to a phone, and its memory returns to baseline.
 * FUZZ_COUNT (default 600) and FUZZ_SEED repeat a run.
 */
import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import pino from 'pino'
import { createPhone } from '../lib/phone'
import { startTestServer } from './helpers/server'
import { RpcClient, type RpcMessage } from './helpers/jsonrpc-client'

const COUNT = Number(process.env.FUZZ_COUNT ?? 600)
let seed = Number(process.env.FUZZ_SEED ?? 4242) >>> 0
function rnd(n: number): number {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed % n
}
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!

const METHODS = ['CallStart', 'CallEnd', 'CallHold', 'CallUnhold', 'CallUnHold', 'CallBlindTransfer', 'CallAttendedTransfer', 'CallStatus', 'CallList', 'Subscribe', 'Unsubscribe', 'callstart', '', 'constructor', '__proto__', 'toString']
const VALUES: readonly unknown[] = ['sip:x@127.0.0.1:9', '1234', '', 'caller', 'callee', 'left', null, 0, -1, 1e308, true, false, [], {}, ['sip:a@b'], { a: 1 }, 'x'.repeat(2000), '\u0000', '\uD800', '<>&"\'', '__proto__']
const KEYS = ['caller', 'callee', 'anchor', 'callid', 'leg', 'destination', 'callidA', 'callid_a', 'legA', 'leg_a', 'callidB', 'callid_b', 'legB', 'leg_b', 'cmd_id', 'state', 'setup_id', '__proto__', 'constructor']
const IDS: readonly unknown[] = [1, 'a', null, 0, -5, 1.5, '', { x: 1 }, [1], true, 'x'.repeat(300)]
const GARBAGE = ['{', '}', '[', ']', '"', ',', ':', '\\', 'null', '\u0000', '\uFFFF', '{"__proto__":{"polluted":1}}']

function request(): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  for (let i = rnd(5); i > 0; i--) params[pick(KEYS)] = pick(VALUES)
  const r: Record<string, unknown> = { jsonrpc: rnd(10) === 0 ? pick(['1.0', 2, null]) : '2.0', method: pick(METHODS) }
  if (rnd(8) !== 0) r.id = pick(IDS)
  if (rnd(8) !== 0) r.params = rnd(10) === 0 ? pick(VALUES) : params
  return r
}

function mutate(s: string): string {
  let out = s
  for (let i = 1 + rnd(3); i > 0; i--) {
    const at = rnd(out.length + 1)
    switch (rnd(5)) {
      case 0: out = out.slice(0, at) + out.slice(at + 1 + rnd(10)); break
      case 1: out = out.slice(0, at) + pick(GARBAGE) + out.slice(at); break
      case 2: out = out.slice(0, at); break
      case 3: out = out.slice(0, at) + out.slice(at, at + rnd(20)).repeat(1 + rnd(20)) + out.slice(at); break
      default: out = out + out.slice(0, rnd(out.length)); break
    }
  }
  return out
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
/** a request without id that is otherwise well-formed: never answered */
const notification = (x: unknown): boolean => isObj(x) && !('id' in x) && x.jsonrpc === '2.0' && typeof x.method === 'string' && x.method !== ''

function isNotification(text: string): boolean {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return false
  }
  if (Array.isArray(v)) return v.length > 0 && v.length <= 32 && v.every(notification)
  return notification(v)
}

function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

t.test(`${COUNT} fuzzed messages: each answered once, the server unharmed, memory back to baseline`, async (t) => {
  const logger = pino({ level: 'silent' })
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  t.teardown(() => bob.close())
  const server = await startTestServer({ jsonRpcRateLimit: 0, jsonRpcMaxMessageSize: 1024 * 1024, initiatorRingTimeout: 1, destinationRingTimeout: 1, jsonRpcMaxCommandsPerConnection: 1000 })
  t.teardown(() => server.close())
  const port = server.server.jsonrpc!.port
  const baseline = heapAfterGc()

  let c = await RpcClient.connect(port)
  let expected = 0
  let answered = 0
  let reconnects = 0
  for (let i = 0; i < COUNT; i++) {
    const kind = rnd(20)
    if (kind === 0) {
      // invalid UTF-8 in a text frame closes the connection (1007); start a new one
      c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
      await c.until('close 1007', () => (c.closeCode !== undefined ? c.closeCode : undefined), 3000)
      t.equal(c.closeCode, 1007)
      answered += c.received.length
      c = await RpcClient.connect(port)
      reconnects++
      continue
    }
    const text = kind < 8 ? JSON.stringify(request()) : kind < 16 ? mutate(JSON.stringify(request())) : JSON.stringify(Array.from({ length: 1 + rnd(4) }, request))
    if (rnd(10) === 0) c.ws.send(Buffer.from(text), { binary: true })
    else c.sendRaw(text)
    if (!isNotification(text)) expected++
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 10))
  }
  // every non-notification message gets one response (a notification only its command's events)
  const responses = (): number => c.received.filter((m) => Array.isArray(m) || (m as RpcMessage).id !== undefined).length
  await c.until('the responses', () => (answered + responses() >= expected ? true : undefined), 20000).catch(() => undefined)
  await new Promise((r) => setTimeout(r, 200)) // and no more than that
  t.equal(answered + responses(), expected, `one response per request (${expected}, ${reconnects} reconnects)`)
  t.equal(c.closeCode, undefined, 'the last connection is still open')
  await c.close()

  // still works: a real call to two phones, on a new connection
  c = await RpcClient.connect(port)
  const ok = await c.call('CallStart', { caller: alice.uri, callee: bob.uri })
  t.equal(ok.result?.event, 'Started')
  await c.event(String(ok.result?.cmd_id), 'CalleeAnswered', 10000)
  await c.call('CallEnd', { callid: ok.result?.callid })
  await c.event(String(ok.result?.cmd_id), 'Ended', 10000)
  await c.close()

  await new Promise((r) => setTimeout(r, 2500)) // fuzzed calls to 127.0.0.1:9 time out (1 s)
  const after = heapAfterGc()
  t.ok(after - baseline < 8 * 1024 * 1024, `heap after the run: ${Math.round((after - baseline) / 1024)} KiB over baseline`)
  t.equal(server.server.jsonrpc!.connections, 0, 'no connection left behind')
  t.ok(({} as Record<string, unknown>).polluted === undefined, 'no prototype pollution')
})
