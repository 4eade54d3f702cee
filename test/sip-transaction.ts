/**
 * The transaction layer (lib/sip/transaction.ts, RFC 3261 §17) driven
 * directly: fake connections record what is sent and when, timers are small.
 * Retransmission schedules, ACK of a non-2xx, answers to retransmitted
 * requests, the timers that end each kind, our Via branch kept, destroy().
 */
import t from 'tap'
import { TransactionLayer, transactionId, type TransactionConnection, type TransactionTimers } from '../lib/sip/transaction'
import { viaParams, wireOf, type SipMessage } from '../lib/sip/message'

class FakeConnection implements TransactionConnection {
  readonly sent: Array<{ m: SipMessage; at: number }> = []
  released = 0
  private readonly t0 = performance.now()
  constructor(readonly protocol: string = 'UDP') {}
  send(m: SipMessage): void {
    this.sent.push({ m, at: performance.now() - this.t0 })
  }
  release(): void {
    this.released++
  }
  count(pred: (m: SipMessage) => boolean = () => true): number {
    return this.sent.filter((s) => pred(s.m)).length
  }
  /** intervals between successive sends */
  gaps(): number[] {
    return this.sent.slice(1).map((s, i) => s.at - this.sent[i]!.at)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

let serial = 0
function request(method: string, extra: Record<string, unknown> = {}): SipMessage {
  serial++
  return {
    method,
    uri: 'sip:bob@192.0.2.1',
    headers: {
      via: [{ version: '2.0', protocol: 'UDP', host: '127.0.0.1', port: 5060, params: { branch: `z9hG4bKtest${serial}`, rport: null } }],
      to: { uri: 'sip:bob@192.0.2.1', params: {} },
      from: { uri: 'sip:alice@127.0.0.1', params: { tag: 'fromtag' } },
      'call-id': `call-${serial}@test`,
      cseq: { seq: 7, method },
      'max-forwards': 70,
      ...extra,
    },
  }
}

function response(rq: SipMessage, status: number, toTag = 'totag'): SipMessage {
  const h = rq.headers
  return {
    status,
    reason: 'X',
    headers: { via: h.via, to: { ...h.to, params: { tag: toTag } }, from: h.from, 'call-id': h['call-id'], cseq: h.cseq },
  }
}

const REMOTE = { protocol: 'UDP', address: '192.0.2.1', port: 5060 }
const isRequest = (method: string) => (m: SipMessage): boolean => m.method === method
const isStatus = (status: number) => (m: SipMessage): boolean => m.status === status

function layer(timers: Partial<TransactionTimers> = {}): TransactionLayer {
  return new TransactionLayer({ T1: 20, T2: 80, T4: 40, D: 60, ...timers })
}

t.test('transaction ids: CSeq method, Call-ID, branch; an ACK maps to its INVITE', async (t) => {
  const inv = request('INVITE')
  const ack = request('ACK')
  ack.headers.via = inv.headers.via
  ack.headers['call-id'] = inv.headers['call-id']
  t.equal(transactionId(inv), `INVITE ${inv.headers['call-id']} ${inv.headers.via[0].params.branch}`)
  t.equal(transactionId(ack), transactionId(inv))
  t.equal(transactionId(response(inv, 200)), transactionId(inv), 'a response by its CSeq method')
  const cancel = { ...inv, method: 'CANCEL', headers: { ...inv.headers, cseq: { seq: 7, method: 'CANCEL' } } }
  t.not(transactionId(cancel), transactionId(inv), 'a CANCEL is a transaction of its own')
})

t.test('non-INVITE client over UDP: Timer E doubles from T1 to T2, stops at the final, Timer K ends it', async (t) => {
  const tl = layer()
  const cn = new FakeConnection()
  const rq = request('OPTIONS')
  const seen: number[] = []
  tl.createClientTransaction(cn, rq, (rs) => seen.push(rs.status!))
  t.equal(cn.count(), 1, 'sent at once')
  await sleep(20 + 40 + 80 + 80 + 40) // sends at 0, 20, 60, 140, 220
  const gaps = cn.gaps()
  t.ok(cn.count() >= 5, `retransmitted (${cn.count()} sends, gaps ${gaps.map(Math.round).join(' ')})`)
  const expected = [20, 40, 80, 80]
  expected.forEach((e, i) => t.ok(gaps[i]! >= e - 2, `gap ${i + 1} >= ${e} (${Math.round(gaps[i]!)})`))
  t.ok(gaps[3]! < 150, 'capped at T2, not doubled to 160')
  t.ok(cn.sent.every((s) => s.m === rq), 'the same request each time')
  const ct = tl.getClient(response(rq, 200))
  t.ok(ct, 'found by its response')
  ct!.message(response(rq, 200), REMOTE)
  t.same(seen, [200], 'the final reaches the TU')
  const n = cn.count()
  ct!.message(response(rq, 200), REMOTE)
  t.same(seen, [200], 'a retransmitted final is absorbed')
  t.ok(tl.getClient(rq), 'kept for Timer K')
  await sleep(200)
  t.equal(cn.count(), n, 'no retransmission after the final')
  t.equal(tl.getClient(rq), undefined, 'gone after Timer K')
  t.equal(cn.released, 1, 'connection released once')
})

t.test('non-INVITE client: a provisional keeps Timer E at T2 (§17.1.2.2)', async (t) => {
  const tl = layer({ T1: 10, T2: 60 })
  const cn = new FakeConnection()
  const rq = request('REFER')
  const seen: number[] = []
  tl.createClientTransaction(cn, rq, (rs) => seen.push(rs.status!))
  await sleep(5)
  tl.getClient(rq)!.message(response(rq, 100), REMOTE)
  t.same(seen, [100])
  await sleep(10 + 60 + 60 + 40) // sends at 0, 10 (Timer E of Trying fires in Proceeding), then every T2: 70, 130
  const gaps = cn.gaps()
  t.ok(cn.count() >= 4, `still retransmitted in Proceeding (${cn.count()} sends, gaps ${gaps.map(Math.round).join(' ')})`)
  t.ok(gaps[1]! >= 58 && gaps[2]! >= 58, 'at T2 in Proceeding')
  tl.getClient(rq)!.message(response(rq, 202), REMOTE)
  t.same(seen, [100, 202])
  tl.destroy()
})

t.test('non-INVITE client over TCP: no retransmission, Timer K is zero', async (t) => {
  const tl = layer()
  const cn = new FakeConnection('TCP')
  const rq = request('BYE')
  const seen: number[] = []
  tl.createClientTransaction(cn, rq, (rs) => seen.push(rs.status!))
  await sleep(70)
  t.equal(cn.count(), 1, 'sent once')
  tl.getClient(rq)!.message(response(rq, 200), REMOTE)
  t.same(seen, [200])
  t.equal(tl.getClient(rq), undefined, 'ended at once')
  t.equal(cn.released, 1)
})

t.test('our Via branch stays; a request without one gets one; a CANCEL keeps its INVITE\'s', async (t) => {
  const tl = layer()
  const cn = new FakeConnection('TCP')
  const rq = request('MESSAGE')
  const branch = rq.headers.via[0].params.branch
  tl.createClientTransaction(cn, rq, () => undefined)
  t.equal(rq.headers.via[0].params.branch, branch, 'not rewritten')
  const ro = request('OPTIONS')
  ro.headers.via[0].params = viaParams('z9hG4bKreadonly', { rport: null })
  tl.createClientTransaction(cn, ro, () => undefined)
  t.equal(ro.headers.via[0].params.branch, 'z9hG4bKreadonly', 'a read-only branch is fine')
  const bare = request('OPTIONS')
  delete bare.headers.via[0].params.branch
  tl.createClientTransaction(cn, bare, () => undefined)
  t.match(bare.headers.via[0].params.branch, /^z9hG4bK[0-9a-f]{20}$/, 'generated when absent')
  t.ok(tl.getClient(bare), 'and found by it')
  const inv = request('INVITE')
  tl.createClientTransaction(cn, inv, () => undefined)
  const cancel = request('CANCEL')
  cancel.headers.via = inv.headers.via
  cancel.headers['call-id'] = inv.headers['call-id']
  tl.createClientTransaction(cn, cancel, () => undefined)
  t.equal(cancel.headers.via[0].params.branch, inv.headers.via[0].params.branch)
  t.not(tl.getClient(cancel), tl.getClient(inv), 'two transactions')
  const str = request('OPTIONS', { cseq: '12 OPTIONS' })
  tl.createClientTransaction(cn, str, () => undefined)
  t.same(str.headers.cseq, { seq: 12, method: 'OPTIONS' }, 'a CSeq given as text is parsed')
  tl.destroy()
  t.same(tl.size, { clients: 0, servers: 0 })
})

t.test('INVITE client over UDP: Timer A doubles without cap, a provisional stops it', async (t) => {
  const tl = layer({ T1: 10, T2: 20 })
  const cn = new FakeConnection()
  const rq = request('INVITE')
  const seen: number[] = []
  tl.createClientTransaction(cn, rq, (rs) => seen.push(rs.status!))
  await sleep(10 + 20 + 40 + 50) // sends at 0, 10, 30, 70
  const gaps = cn.gaps()
  t.ok(cn.count() >= 4, `retransmitted (${cn.count()} sends, gaps ${gaps.map(Math.round).join(' ')})`)
  t.ok(gaps[2]! >= 38, 'the third gap is 4*T1, past T2: INVITE retransmissions are not capped')
  tl.getClient(rq)!.message(response(rq, 180), REMOTE)
  const n = cn.count()
  await sleep(100)
  t.equal(cn.count(), n, 'no retransmission in Proceeding')
  t.same(seen, [180])
  tl.destroy()
})

t.test('INVITE client: the ACK of a non-2xx (§17.1.1.3), again for each retransmission, Timer D', async (t) => {
  const tl = layer({ D: 60 })
  const cn = new FakeConnection()
  const route = [{ uri: 'sip:proxy.example.com;lr', params: {} }]
  const rq = request('INVITE', { route, 'user-agent': 'x' })
  const seen: number[] = []
  tl.createClientTransaction(cn, rq, (rs) => seen.push(rs.status!))
  const ct = tl.getClient(rq)!
  ct.message(response(rq, 183), REMOTE)
  const rs = response(rq, 486, 'busytag')
  ct.message(rs, REMOTE)
  t.same(seen, [183, 486], 'provisional and final reach the TU')
  const acks = cn.sent.filter((s) => s.m.method === 'ACK').map((s) => s.m)
  t.equal(acks.length, 1, 'one ACK')
  const ack = acks[0]!
  t.equal(ack.uri, rq.uri, 'Request-URI of the INVITE')
  t.same(Object.keys(ack.headers), ['from', 'cseq', 'call-id', 'via', 'max-forwards', 'to', 'route'], 'the headers the package built, and Route')
  t.equal(ack.headers.from, rq.headers.from)
  t.same(ack.headers.cseq, { method: 'ACK', seq: 7 })
  t.equal(ack.headers['call-id'], rq.headers['call-id'])
  t.same(ack.headers.via, [rq.headers.via[0]], 'top Via of the INVITE')
  t.equal(ack.headers['max-forwards'], 70)
  t.equal(ack.headers.to.params.tag, 'busytag', 'To of the response')
  t.same(ack.headers.route, route, "the INVITE's Route")
  ct.message(response(rq, 486, 'busytag'), REMOTE)
  t.equal(cn.count(isRequest('ACK')), 2, 'a retransmitted final gets the ACK again')
  t.same(seen, [183, 486], 'and is not passed up')
  ct.message(response(rq, 503))
  t.equal(cn.count(isRequest('ACK')), 2, 'no ACK for a response we made ourselves')
  t.ok(tl.getClient(rq), 'kept until Timer D')
  await sleep(120)
  t.equal(tl.getClient(rq), undefined, 'gone after Timer D')
  t.equal(cn.count(isRequest('INVITE')), 1, 'the INVITE was not retransmitted after its response')
  t.equal(cn.released, 1)
})

t.test('INVITE client: no Route in the ACK when the INVITE had none; over TCP Timer D is zero', async (t) => {
  const tl = layer()
  const cn = new FakeConnection('TLS')
  const rq = request('INVITE')
  tl.createClientTransaction(cn, rq, () => undefined)
  await sleep(50)
  t.equal(cn.count(), 1, 'no Timer A over a reliable transport')
  tl.getClient(rq)!.message(response(rq, 404), REMOTE)
  const ack = cn.sent.find((s) => s.m.method === 'ACK')!.m
  t.notOk('route' in ack.headers)
  t.equal(tl.getClient(rq), undefined, 'ended at once')
})

t.test('INVITE client: Accepted (RFC 6026) passes 2xx retransmissions, absorbs the rest, Timer M', async (t) => {
  const tl = layer({ T1: 2 }) // Timer M = 128 ms
  const cn = new FakeConnection()
  const rq = request('INVITE')
  const seen: number[] = []
  tl.createClientTransaction(cn, rq, (rs) => seen.push(rs.status!))
  const ct = tl.getClient(rq)!
  ct.message(response(rq, 200), REMOTE)
  ct.message(response(rq, 200), REMOTE)
  ct.message(response(rq, 200, 'fork2'), REMOTE)
  ct.message(response(rq, 180), REMOTE)
  ct.message(response(rq, 500), REMOTE)
  t.same(seen, [200, 200, 200], 'every 2xx reaches the TU, nothing else')
  t.equal(cn.count(isRequest('ACK')), 0, 'the 2xx ACK is the TU\'s')
  await sleep(40)
  t.ok(tl.getClient(rq), 'still there before Timer M')
  await sleep(160)
  t.equal(tl.getClient(rq), undefined, 'gone after Timer M (64*T1)')
  t.equal(cn.count(isRequest('INVITE')), 1, 'no retransmission after the 2xx')
})

t.test('a TU that ends the transaction from its callback leaves nothing behind', async (t) => {
  const tl = layer()
  const cn = new FakeConnection()
  const rq = request('INVITE')
  const ct = tl.createClientTransaction(cn, rq, () => ct.shutdown())
  ct.message(response(rq, 486), REMOTE)
  t.equal(tl.getClient(rq), undefined)
  t.equal(cn.released, 1)
  const n = cn.count()
  ct.message(response(rq, 486), REMOTE)
  await sleep(80)
  t.equal(cn.count(), n, 'nothing sent once terminated')
})

t.test('INVITE server: the last provisional again on a retransmitted INVITE; Timer G to T2; ACK; Timer I', async (t) => {
  const tl = layer({ T1: 10, T2: 40, T4: 30 })
  const cn = new FakeConnection()
  const rq = request('INVITE')
  const st = tl.createServerTransaction(rq, cn)
  t.equal(tl.getServer(rq), st)
  st.message(rq)
  t.equal(cn.count(), 0, 'nothing to resend yet (the 100 Trying is the TU\'s)')
  st.send(response(rq, 100))
  st.send(response(rq, 180))
  tl.getServer(rq)!.message(rq)
  t.equal(cn.count(isStatus(180)), 2, 'the 180 again for the retransmitted INVITE')
  const start = cn.count()
  st.send(response(rq, 486))
  await sleep(10 + 20 + 40 + 40 + 20) // Timer G at 10, 30, 70, 110
  const g = cn.sent.slice(start).filter((s) => s.m.status === 486)
  const gaps = g.slice(1).map((s, i) => s.at - g[i]!.at)
  t.ok(g.length >= 4, `486 retransmitted (${g.length} sends, gaps ${gaps.map(Math.round).join(' ')})`)
  ;[10, 20, 40, 40].slice(0, gaps.length).forEach((e, i) => t.ok(gaps[i]! >= e - 2, `gap ${i + 1} >= ${e}`))
  if (gaps[3] !== undefined) t.ok(gaps[3] < 75, 'capped at T2')
  st.send(response(rq, 500))
  t.equal(cn.count(isStatus(500)), 0, 'no second final')
  tl.getServer(rq)!.message(rq)
  t.equal(cn.sent[cn.sent.length - 1]!.m.status, 486, 'a retransmitted INVITE gets the final again')
  const ack = request('ACK')
  ack.headers.via = rq.headers.via
  ack.headers['call-id'] = rq.headers['call-id']
  const found = tl.getServer(ack)
  t.equal(found, st, 'the ACK finds its INVITE transaction')
  found!.message(ack)
  const n = cn.count()
  await sleep(25)
  t.equal(cn.count(), n, 'no Timer G after the ACK')
  found!.message(ack)
  found!.message(rq)
  t.equal(cn.count(), n, 'ACK and INVITE retransmissions absorbed in Confirmed')
  await sleep(40)
  t.equal(tl.getServer(rq), undefined, 'gone after Timer I')
  t.equal(cn.released, 1)
})

t.test('INVITE server: no ACK, Timer H ends it at 64*T1 (over UDP and over TCP)', async (t) => {
  const tl = layer({ T1: 2, T2: 16 }) // H = 128 ms
  const udp = new FakeConnection()
  const tcp = new FakeConnection('TCP')
  const a = request('INVITE')
  const b = request('INVITE')
  tl.createServerTransaction(a, udp).send(response(a, 603))
  tl.createServerTransaction(b, tcp).send(response(b, 603))
  await sleep(60)
  t.ok(tl.getServer(a) && tl.getServer(b), 'both still there')
  await sleep(120)
  t.equal(tl.getServer(a), undefined, 'UDP: gone after Timer H')
  t.equal(tl.getServer(b), undefined, 'TCP: gone after Timer H')
  // G at 2, 6, 14, 30, then every 16 up to 128: about 10
  t.ok(udp.count() >= 6 && udp.count() <= 12, `UDP: retransmitted until H (${udp.count()} sends)`)
  t.equal(tcp.count(), 1, 'TCP: no Timer G')
  const n = udp.count()
  await sleep(40)
  t.equal(udp.count(), n, 'nothing after Timer H')
})

t.test('INVITE server: Accepted passes the TU\'s 2xx retransmissions, absorbs the INVITE, Timer L', async (t) => {
  const tl = layer({ T1: 2 }) // L = 128 ms
  const cn = new FakeConnection()
  const rq = request('INVITE')
  const st = tl.createServerTransaction(rq, cn)
  st.send(response(rq, 180))
  st.send(response(rq, 200))
  st.send(response(rq, 200))
  t.equal(cn.count(isStatus(200)), 2, '2xx retransmissions go out')
  st.message(rq)
  t.equal(cn.count(), 3, 'a retransmitted INVITE is absorbed')
  await sleep(40)
  t.equal(cn.count(), 3, 'no retransmission of our own')
  t.ok(tl.getServer(rq))
  await sleep(160)
  t.equal(tl.getServer(rq), undefined, 'gone after Timer L')
  st.send(response(rq, 200))
  t.equal(cn.count(), 3, 'nothing sent once terminated')
})

t.test('non-INVITE server: the last response again on a retransmission; Timer J', async (t) => {
  const tl = layer({ T1: 2 }) // J = 128 ms
  const cn = new FakeConnection()
  const rq = request('NOTIFY')
  const st = tl.createServerTransaction(rq, cn)
  tl.getServer(rq)!.message(rq)
  t.equal(cn.count(), 0, 'nothing to resend before a response')
  st.send(response(rq, 100))
  tl.getServer(rq)!.message(rq)
  t.equal(cn.count(isStatus(100)), 2, 'the provisional again')
  st.send(response(rq, 200))
  st.send(response(rq, 481))
  t.equal(cn.count(isStatus(481)), 0, 'one final only')
  tl.getServer(rq)!.message(rq)
  tl.getServer(rq)!.message(rq)
  t.equal(cn.count(isStatus(200)), 3, 'the final again for each retransmission')
  const finals = cn.sent.filter((x) => x.m.status === 200).map((x) => wireOf(x.m).toString())
  t.match(finals[0], /^SIP\/2\.0 200 X\r\n[\s\S]*CSeq: \d+ NOTIFY\r\n/, 'kept as its text, the whole response')
  t.same(new Set(finals).size, 1, 'each time the same bytes')
  t.equal(Object.keys(cn.sent.at(-1)!.m.headers).join(), 'call-id', 'and only the Call-ID of its headers: nothing of the request is kept')
  await sleep(40)
  t.equal(cn.count(), 5, 'no retransmission of its own')
  t.ok(tl.getServer(rq))
  await sleep(160)
  t.equal(tl.getServer(rq), undefined, 'gone after Timer J')
  t.equal(cn.released, 1)

  const tcp = new FakeConnection('TCP')
  const rq2 = request('BYE')
  tl.createServerTransaction(rq2, tcp).send(response(rq2, 200))
  t.equal(tl.getServer(rq2), undefined, 'over TCP Timer J is zero')
})

t.test('a second transaction with the same id: ending the first leaves the second', async (t) => {
  const tl = layer()
  const rq = request('OPTIONS')
  const first = tl.createServerTransaction(rq, new FakeConnection('TCP'))
  const second = tl.createServerTransaction(rq, new FakeConnection('TCP'))
  first.shutdown()
  t.equal(tl.getServer(rq), second)
  tl.destroy()
})

t.test('destroy(): every transaction ends, its connection released, no timer left', async (t) => {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timeouts()
  const tl = layer({ T1: 1000, T4: 5000, D: 32_000 })
  const conns: FakeConnection[] = []
  const cn = (): FakeConnection => {
    const c = new FakeConnection()
    conns.push(c)
    return c
  }
  tl.createClientTransaction(cn(), request('INVITE'), () => undefined) // Calling, Timer A
  tl.createClientTransaction(cn(), request('OPTIONS'), () => undefined) // Trying, Timer E
  const done = request('INVITE')
  tl.createClientTransaction(cn(), done, () => undefined)
  tl.getClient(done)!.message(response(done, 404), REMOTE) // Completed, Timer D
  const s1 = request('INVITE')
  tl.createServerTransaction(s1, cn()).send(response(s1, 486)) // Completed, Timer G/H
  const s2 = request('INVITE')
  tl.createServerTransaction(s2, cn()).send(response(s2, 200)) // Accepted, Timer L
  const s3 = request('BYE')
  tl.createServerTransaction(s3, cn()).send(response(s3, 200)) // Completed, Timer J
  tl.createServerTransaction(request('INFO'), cn()) // Trying, no timer
  t.same(tl.size, { clients: 3, servers: 4 })
  // Timers A, E and G/H are each transaction's own; D, L and J are long waits, one queue per length
  t.ok(timeouts() >= before + 3, 'timers running')
  t.equal(tl.waiting, 3, 'Timers D, L and J wait in the queues')
  tl.destroy()
  t.same(tl.size, { clients: 0, servers: 0 }, 'all gone')
  t.equal(timeouts(), before, 'no timer left')
  t.equal(tl.waiting, 0, 'no wait left')
  t.same(conns.map((c) => c.released), [1, 1, 1, 1, 1, 1, 1], 'each connection released once')
  const sent = conns.map((c) => c.count())
  await sleep(30)
  t.same(conns.map((c) => c.count()), sent, 'nothing sent afterwards')
})
