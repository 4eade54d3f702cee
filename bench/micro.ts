/**
 * `npm run bench -- --micro`: the hot functions of a call's path, alone, on
 * one core: SIP parse and serialize, XML request parse and result render,
 * translation, and a whole call's events with no listener; the transaction
 * layer, the `sip` package's against ours (runTransactionMicro). Each case runs
 * for a fixed count, RUNS times; the median ns per operation is printed.
 * CPU-bound and single-threaded: compare runs on the same machine only.
 */
import { parseDatagram, parseDatagramReference, serialize, serializeReference, type SipMessage } from '../lib/sip/message'
import { parseRequest, renderResult } from '../lib/xml'
import { parseFully } from '../lib/xml/request'
import { compileRules } from '../lib/translate'
import * as sip from 'sip'
import { TransactionLayer } from '../lib/sip/transaction'

const RUNS = 7

const SDP = 'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const INVITE = Buffer.from(
  [
    'INVITE sip:alice@127.0.0.1:5080 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: <sip:alice@127.0.0.1:5080>',
    'From: "Click-To-Call: 1002" <sip:click2call@127.0.0.1>;tag=1928301774',
    'Call-ID: a84b4c76e66710@127.0.0.1',
    'CSeq: 314159 INVITE',
    'Contact: <sip:click2call@127.0.0.1:5060>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY',
    'User-Agent: ClickToCall',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
)
const OK_SDP = Buffer.from(
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport=5060;received=127.0.0.1',
    'Record-Route: <sip:proxy.example.com;lr>',
    'To: <sip:alice@127.0.0.1:5080>;tag=a6c85cf',
    'From: "Click-To-Call: 1002" <sip:click2call@127.0.0.1>;tag=1928301774',
    'Call-ID: a84b4c76e66710@127.0.0.1',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@127.0.0.1:5080>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY',
    'Supported: replaces, timer',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
)
const FRAG = 'SIP/2.0 180 Ringing\r\n'
const NOTIFY = Buffer.from(
  [
    'NOTIFY sip:click2call@127.0.0.1:5060 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKnashds8',
    'Max-Forwards: 70',
    'To: <sip:click2call@127.0.0.1>;tag=1928301774',
    'From: <sip:alice@127.0.0.1:5080>;tag=a6c85cf',
    'Call-ID: a84b4c76e66710@127.0.0.1',
    'CSeq: 2 NOTIFY',
    'Contact: <sip:alice@127.0.0.1:5080>',
    'Event: refer;id=1',
    'Subscription-State: active;expires=60',
    'Content-Type: message/sipfrag;version=2.0',
    `Content-Length: ${Buffer.byteLength(FRAG)}`,
    '',
    FRAG,
  ].join('\r\n'),
)
const TRYING = Buffer.from(
  [
    'SIP/2.0 100 Trying',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport=5060',
    'To: <sip:alice@127.0.0.1:5080>',
    'From: "Click-To-Call: 1002" <sip:click2call@127.0.0.1>;tag=1928301774',
    'Call-ID: a84b4c76e66710@127.0.0.1',
    'CSeq: 314159 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
)
const XML = '<ClickToCall><Request><Initiator>sip:alice@127.0.0.1:5080</Initiator><Destination>1002</Destination><AnchorCall>false</AnchorCall></Request></ClickToCall>'

interface Case {
  name: string
  count: number
  run(): unknown
}

export function microCases(): Case[] {
  const parsed: SipMessage = parseDatagram(INVITE)
  const ok: SipMessage = parseDatagram(OK_SDP)
  const notify: SipMessage = parseDatagram(NOTIFY)
  const trying: SipMessage = parseDatagram(TRYING)
  const rules = compileRules([
    { pattern: '^(sips?:.*)$', output: '$1', file: 'bench', line: 1 },
    { pattern: '^(\\d{4})$', output: 'sip:$1@pbx.example.com', file: 'bench', line: 2 },
  ])
  return [
    { name: 'sip.parse INVITE+SDP', count: 20_000, run: () => parseDatagram(INVITE) },
    { name: 'sip.serialize INVITE+SDP', count: 20_000, run: () => serialize(parsed) },
    { name: 'sip.parse 200+SDP', count: 20_000, run: () => parseDatagram(OK_SDP) },
    { name: 'sip.serialize 200+SDP', count: 20_000, run: () => serialize(ok) },
    { name: 'sip.parse NOTIFY+sipfrag', count: 20_000, run: () => parseDatagram(NOTIFY) },
    { name: 'sip.serialize NOTIFY+sipfrag', count: 20_000, run: () => serialize(notify) },
    { name: 'sip.parse 100 Trying', count: 20_000, run: () => parseDatagram(TRYING) },
    { name: 'sip.serialize 100 Trying', count: 20_000, run: () => serialize(trying) },
    { name: 'old sip.parse INVITE+SDP', count: 5_000, run: () => parseDatagramReference(INVITE) },
    { name: 'old sip.serialize INVITE+SDP', count: 5_000, run: () => serializeReference(parsed) },
    { name: 'old sip.parse 200+SDP', count: 5_000, run: () => parseDatagramReference(OK_SDP) },
    { name: 'old sip.serialize 200+SDP', count: 5_000, run: () => serializeReference(ok) },
    { name: 'old sip.parse NOTIFY+sipfrag', count: 5_000, run: () => parseDatagramReference(NOTIFY) },
    { name: 'old sip.serialize NOTIFY+sipfrag', count: 5_000, run: () => serializeReference(notify) },
    { name: 'old sip.parse 100 Trying', count: 5_000, run: () => parseDatagramReference(TRYING) },
    { name: 'old sip.serialize 100 Trying', count: 5_000, run: () => serializeReference(trying) },
    { name: 'xml.parseRequest', count: 20_000, run: () => parseRequest(XML) },
    { name: 'xml.parseRequest, validator and parser (before)', count: 20_000, run: () => parseFully(XML) },
    { name: 'xml.renderResult', count: 100_000, run: () => renderResult(XML, { code: 180, leg: 'Initiator', text: 'Ringing initiator' }) },
    { name: 'translate', count: 100_000, run: () => rules.translate('1002') },
  ]
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export function runMicro(): Record<string, { nsPerOp: number; runs: number[] }> {
  const out: Record<string, { nsPerOp: number; runs: number[] }> = {}
  let sink: unknown
  for (const c of microCases()) {
    for (let i = 0; i < Math.min(c.count, 2000); i++) sink = c.run() // warm-up
    const runs: number[] = []
    for (let r = 0; r < RUNS; r++) {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < c.count; i++) sink = c.run()
      runs.push(Number(process.hrtime.bigint() - t0) / c.count)
    }
    out[c.name] = { nsPerOp: Math.round(median(runs)), runs: runs.map((x) => Math.round(x)) }
  }
  void sink
  return out
}

// ------------------------------------------------------------ transactions
// The sip package's makeTransactionLayer against ours (lib/sip/transaction.ts):
// NICT, ICT, IST = non-INVITE client, INVITE client, INVITE server (§17).
// The package sends a client request on the next tick, so these cases run in
// batches: create BATCH transactions, let the ticks run, then the responses.
// Each op also does the lookups the stack does (getServer before creating,
// getClient per response) and ends with shutdown(), which is what Timer K or
// Timer L does when it fires.

interface LayerUnderTest {
  createServerTransaction(rq: SipMessage, cn: BenchConnection): { send(m: SipMessage): void; shutdown(): void }
  createClientTransaction(cn: BenchConnection, rq: SipMessage, cb: (rs: SipMessage) => void): { shutdown(): void }
  getServer(m: SipMessage): unknown
  getClient(m: SipMessage): { message(m: SipMessage, remote?: unknown): void } | undefined
}

interface BenchConnection {
  protocol: string
  send(m: SipMessage): void
  release(): void
}

interface TransactionCase {
  name: string
  /** ops per batch; the case runs whole batches */
  batch(tl: LayerUnderTest, first: number): Promise<void>
}

const BATCH = 1000
const TXN_OPS = 20_000
const REMOTE = { protocol: 'UDP', address: '127.0.0.1', port: 5080 }
let sentCount = 0
const benchConnection: BenchConnection = { protocol: 'UDP', send: () => void sentCount++, release: () => undefined }
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function benchRequest(method: string, n: number): SipMessage {
  return {
    method,
    uri: 'sip:alice@127.0.0.1:5080',
    headers: {
      via: [{ version: '2.0', protocol: 'UDP', host: '127.0.0.1', port: 5060, params: { branch: `z9hG4bK${n}x7f3a9c`, rport: null } }],
      to: { uri: 'sip:alice@127.0.0.1:5080', params: {} },
      from: { uri: 'sip:click2call@127.0.0.1', params: { tag: '1928301774' } },
      'call-id': `${n}a84b4c76e66710@127.0.0.1`,
      cseq: { seq: 1, method },
      'max-forwards': 70,
    },
  }
}

function benchResponse(rq: SipMessage, status: number): SipMessage {
  const h = rq.headers
  return { status, reason: 'X', headers: { via: h.via, to: { ...h.to, params: { tag: 'abc' } }, from: h.from, 'call-id': h['call-id'], cseq: h.cseq } }
}

function clientCase(name: string, method: string, statuses: number[]): TransactionCase {
  return {
    name,
    async batch(tl, first) {
      const rqs: SipMessage[] = []
      const ts: Array<{ shutdown(): void }> = []
      for (let i = 0; i < BATCH; i++) {
        const rq = benchRequest(method, first + i)
        rqs.push(rq)
        ts.push(tl.createClientTransaction(benchConnection, rq, () => undefined))
      }
      await nextTurn()
      for (let i = 0; i < BATCH; i++) {
        for (const status of statuses) {
          const rs = benchResponse(rqs[i]!, status)
          tl.getClient(rs)?.message(rs, REMOTE)
        }
        ts[i]!.shutdown()
      }
    },
  }
}

function transactionCases(): TransactionCase[] {
  return [
    clientCase('txn NICT create +200', 'OPTIONS', [200]),
    clientCase('txn ICT create +180 +200', 'INVITE', [180, 200]),
    {
      name: 'txn IST create +180 +200',
      async batch(tl, first) {
        for (let i = 0; i < BATCH; i++) {
          const rq = benchRequest('INVITE', first + i)
          tl.getServer(rq)
          const st = tl.createServerTransaction(rq, benchConnection)
          st.send(benchResponse(rq, 180))
          st.send(benchResponse(rq, 200))
          st.shutdown()
        }
        await nextTurn()
      },
    },
  ]
}

/** each transaction case with the package's layer and with ours: median ns per op */
export async function runTransactionMicro(): Promise<Record<string, { nsPerOp: number; runs: number[] }>> {
  const out: Record<string, { nsPerOp: number; runs: number[] }> = {}
  const layers: Array<[string, () => LayerUnderTest]> = [
    ['pkg', () => sip.makeTransactionLayer({}, undefined) as unknown as LayerUnderTest],
    ['ours', () => new TransactionLayer({ T1: 500, T2: 4000, T4: 5000 })],
  ]
  let n = 0
  for (const c of transactionCases()) {
    for (const [which, make] of layers) {
      const tl = make()
      for (let b = 0; b < 2; b++, n += BATCH) await c.batch(tl, n) // warm-up
      const runs: number[] = []
      for (let r = 0; r < RUNS; r++) {
        const t0 = process.hrtime.bigint()
        for (let done = 0; done < TXN_OPS; done += BATCH, n += BATCH) await c.batch(tl, n)
        runs.push(Number(process.hrtime.bigint() - t0) / TXN_OPS)
      }
      out[`${c.name} (${which})`] = { nsPerOp: Math.round(median(runs)), runs: runs.map((x) => Math.round(x)) }
    }
  }
  return out
}
