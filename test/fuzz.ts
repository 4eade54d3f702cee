/**
 * Fuzzing a running server: random and mutated XML requests, HTTP requests
 * and SIP messages (UDP and TCP). Asserts: the server stays up, a
 * well-formed request still gets its results, memory returns to baseline.
 * `npm test` runs a small count; `npm run fuzz` a long run (FUZZ_COUNT).
 */
import t from 'tap'
import dgram from 'node:dgram'
import net from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import pino from 'pino'
import { createPhone } from '../lib/phone'
import { startTestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'

const COUNT = Number(process.env.FUZZ_COUNT ?? 150)
const logger = pino({ level: 'silent' })

// a small deterministic PRNG, so a failing run can be repeated (FUZZ_SEED)
let seed = Number(process.env.FUZZ_SEED ?? 12345) >>> 0
function rnd(n: number): number {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed % n
}

const SPECIAL = ['<', '>', '&', '"', "'", '\r\n', '\0', '</', '<!DOCTYPE x [<!ENTITY a "b">]>', '<?xml version="1.0"?>', '&amp;', '&#0;', ']]>', '\uFFFF', '%00', '%', ';', ':', '@', '\\']

function mutate(base: string): string {
  let s = base
  const ops = 1 + rnd(4)
  for (let i = 0; i < ops; i++) {
    const at = rnd(s.length + 1)
    switch (rnd(6)) {
      case 0: s = s.slice(0, at) + s.slice(at + 1 + rnd(20)); break // delete
      case 1: s = s.slice(0, at) + SPECIAL[rnd(SPECIAL.length)] + s.slice(at); break // insert
      case 2: s = s.slice(0, at) + s.slice(at, at + rnd(40)).repeat(1 + rnd(50)) + s.slice(at); break // repeat
      case 3: s = s.slice(0, at); break // truncate
      case 4: s = s.slice(0, at) + String.fromCharCode(rnd(256)) + s.slice(at + 1); break // flip
      default: s = s + s.slice(0, rnd(s.length)); break // append
    }
  }
  return s
}

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = rnd(256)
  return b
}

const XML_BASE = request('sip:a@127.0.0.1:9', '1234', true, true)
const HTTP_BASE = 'GET /clicktocall.html?initiator=sip:a@127.0.0.1:9&destination=1234&anchor=true HTTP/1.1\r\nHost: x\r\nAuthorization: Digest username="admin", realm="x", nonce="abc", uri="/", response="00", qop=auth, nc=00000001, cnonce="c"\r\n\r\n'
const SIP_BASE = 'INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKfuzz;rport\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: fuzz@x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\r\n'

function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

function tcpSend(port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(data))
    s.on('error', () => resolve())
    s.on('data', () => undefined)
    s.setTimeout(500, () => s.destroy())
    s.on('close', () => resolve())
  })
}

t.test(`fuzz: ${COUNT} inputs per interface`, async (t) => {
  const server = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: 'pw', xmlRpcRateLimit: 0, initiatorRingTimeout: 1, destinationRingTimeout: 1, xmlRpcMaxRequestSize: 8192 }, { maxAuthFailures: 1_000_000 })
  t.teardown(() => server.close())
  const busy = await createPhone({ name: 'busy', behaviour: 'busy', logger })
  t.teardown(() => busy.close())
  const udp = dgram.createSocket('udp4')
  t.teardown(() => udp.close())

  const baseline = heapAfterGc()
  let tried = 0
  let xml = await XmlClient.connect(server.xmlPort)
  for (let i = 0; i < COUNT; i++) {
    // XML: mutated requests on a shared connection (a new one when the server closed it)
    if (xml.closed) xml = await XmlClient.connect(server.xmlPort)
    xml.write(rnd(5) === 0 ? randomBytes(1 + rnd(300)) : mutate(XML_BASE))
    // HTTP: raw mutated requests
    await tcpSend(server.httpPort, rnd(5) === 0 ? randomBytes(1 + rnd(300)) : mutate(HTTP_BASE))
    // SIP: datagrams and TCP streams
    const sipMsg = rnd(5) === 0 ? randomBytes(1 + rnd(600)) : Buffer.from(mutate(SIP_BASE))
    udp.send(sipMsg, server.sipPort, '127.0.0.1')
    if (i % 4 === 0) await tcpSend(server.sipPort, sipMsg)
    tried += 4
  }
  xml.close()
  t.comment(`tried ${tried} inputs`)

  // the server is up and still serves a well-formed request end to end
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(request(busy.uri, '1234'))
  await c.finals(1, 15000)
  t.same(c.summary().slice(-1), ['486 Initiator Failed to connect to initiator'], 'a good request still gets its results')

  // memory back near the baseline once the fuzzed calls have ended
  for (let i = 0; i < 100 && server.server.calls.liveCount > 0; i++) await new Promise((r) => setTimeout(r, 100))
  await new Promise((r) => setTimeout(r, 200))
  const after = heapAfterGc()
  const growth = (after - baseline) / 1024 / 1024
  t.comment(`heap: baseline ${(baseline / 1048576).toFixed(1)} MiB, after ${(after / 1048576).toFixed(1)} MiB`)
  t.ok(growth < 32, `heap growth ${growth.toFixed(1)} MiB`)
})
