/**
 * lib/sip/codec.ts against the `sip` package it replaces: for a corpus of
 * real messages (the sipp scenarios' messages, the wire tests' messages,
 * hand-written edge cases) and a seeded random mutation of them, the new
 * parser gives what the old one gave (deep-equal, or the same SipParseError)
 * and serialize() writes the same bytes as the old sip.stringify path.
 */
import t from 'tap'
import * as sip from 'sip'
import fs from 'node:fs'
import path from 'node:path'
import { isDeepStrictEqual, inspect } from 'node:util'
import {
  SipParseError,
  headerEnd,
  makeResponse,
  nameAddr,
  parseDatagram,
  parseDatagramReference,
  parseParts,
  parsePartsReference,
  serialize,
  serializeReference,
  viaParams,
  type SipMessage,
} from '../lib/sip/message'
import { parseHead, stringifyHead } from '../lib/sip/codec'
import { parseSipUri, unbracket } from '../lib/sip/uri'

const SDP = 'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'

/** sipp keywords and scenario variables, with plausible values */
const KEYWORDS: Record<string, string> = {
  local_ip: '127.0.0.1',
  local_port: '5080',
  transport: 'UDP',
  'last_Call-ID:': 'Call-ID: 1-4242@127.0.0.1',
  'last_Via:': 'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKd3a1c0ffee;rport=5060;received=127.0.0.1',
  'last_To:': 'To: <sip:alice@127.0.0.1:5080>',
  'last_From:': 'From: "Click-To-Call: 1002" <sip:click2call@127.0.0.1:5060>;tag=srv77',
  'last_CSeq:': 'CSeq: 1 INVITE',
  pid: '4242',
  call_number: '1',
  branch: 'z9hG4bK-4242-1-0',
  call_id: '1-4242@127.0.0.1',
  media_port: '6000',
  media_ip_type: '4',
  media_ip: '127.0.0.1',
  local_ip_type: '4',
  $remote_contact: 'sip:click2call@127.0.0.1:5060',
  $ref_port: '5090',
  $ref_host: '127.0.0.1',
  $srv_contact: 'sip:click2call@127.0.0.1:5060',
  $srv_from: '"Click-To-Call: 1002" <sip:click2call@127.0.0.1:5060>;tag=srv77',
  $remote_to: '<sip:bob@127.0.0.1:5090>;tag=b1',
  $my_to: '<sip:alice@127.0.0.1:5080>',
  $srv_port: '5060',
  $srv_host: '127.0.0.1',
  $remote_from: '"Click-To-Call" <sip:click2call@127.0.0.1:5060>;tag=srv78',
  $refer_uri: 'sip:bob@127.0.0.1:5090',
  $local_to: '<sip:alice@127.0.0.1:5080>;tag=l1',
  service: 'alice',
  remote_port: '5060',
  remote_ip: '127.0.0.1',
  $dest_to: '<sip:bob@127.0.0.1:5090>',
  $dest_contact: 'sip:bob@127.0.0.1:5090',
  $invite_cseq: '1 INVITE',
  $bye_port: '5060',
  $bye_host: '127.0.0.1',
}

/** The <send> messages of test/sipp/*.xml with the keywords substituted, as sipp sends them. */
function sippMessages(): string[] {
  const dir = path.join(__dirname, 'sipp')
  const out: string[] = []
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.xml')).sort()) {
    const xml = fs.readFileSync(path.join(dir, f), 'utf8')
    for (const m of xml.matchAll(/<send[^>]*>\s*<!\[CDATA\[([\s\S]*?)\]\]>/g)) {
      const lines = m[1]!
        .split('\n')
        .map((l) => l.trim())
        .join('\n')
        .trim()
        .replace(/\[([^\]\s]+)\]/g, (all, k: string) => KEYWORDS[k] ?? all)
      const [head, ...rest] = lines.split('\n\n')
      const body = rest.length ? `${rest.join('\r\n\r\n').split('\n').join('\r\n')}\r\n` : ''
      const text = `${head!.split('\n').join('\r\n')}\r\n\r\n${body}`
      out.push(text.replace('[len]', String(Buffer.byteLength(body))))
    }
  }
  return out
}

function withBody(head: string, body = ''): string {
  return `${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

const BASE_INVITE = [
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
].join('\r\n')

const DIALOG = 'To: <sip:x@127.0.0.1>;tag=t1\r\nFrom: <sip:a@127.0.0.1>;tag=f1\r\nCall-ID: c1\r\nCSeq: 7 BYE'
const VIA = 'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKe1'

/** Messages like the wire tests' (test/sip-wire.ts, test/helpers/raw-sip.ts) and edge cases of the package's grammar. */
function handMessages(): string[] {
  return [
    withBody(BASE_INVITE, SDP),
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\n${DIALOG}\r\nContact: <sip:bob@127.0.0.1:5090>\r\nContent-Type: application/sdp`, SDP),
    withBody(`SIP/2.0 100 Trying\r\n${VIA}\r\n${DIALOG}`),
    withBody(`NOTIFY sip:x@127.0.0.1:5060 SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nEvent: refer;id=99\r\nSubscription-State: active\r\nContent-Type: message/sipfrag`, 'SIP/2.0 180 Ringing\r\n'),
    withBody(`OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nMax-Forwards: 70\r\nX-Padding: ${'p'.repeat(200)}`),
    // the wire tests' challenges: auth headers, left to the package
    withBody(`SIP/2.0 407 Proxy Authentication Required\r\n${VIA}\r\n${DIALOG}\r\nProxy-Authenticate: Digest realm="r", nonce="n1", algorithm=MD5`),
    withBody(`SIP/2.0 401 Unauthorized\r\n${VIA}\r\n${DIALOG}\r\nWWW-Authenticate: Digest realm="r", nonce="n2"`),
    withBody(`INVITE sip:a@b SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nAuthorization: Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="abc"`),
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\n${DIALOG}\r\nAuthentication-Info: nextnonce="x", qop=auth`),
    // Record-Route with and without lr, and a Route set over two lines
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\n${DIALOG}\r\nRecord-Route: <sip:127.0.0.1:5070;lr>\r\nRecord-Route: <sip:p2.example.com;lr>, <sip:p3.example.com:5080;transport=tcp>`),
    withBody(`BYE sip:b@127.0.0.1 SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nRoute: <sip:127.0.0.1:5070>\r\nRoute: <sip:user:pw@p.example.com:5060;lr;maddr=1.2.3.4?h=v&x=y>`),
    // compact forms (RFC 3261 §20) and names in any case
    withBody(`MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h.example.com;branch=z9hG4bKc\r\nf: <sip:a@b>;tag=1\r\nt: sip:b@c\r\ni: compact-1\r\nCSEQ: 1 MESSAGE\r\nm: <sip:a@h>\r\nc: text/plain\r\ns: hi\r\nk: timer\r\ne: gzip\r\no: refer\r\nr: sip:x@y\r\nu: refer\r\nx: 90\r\nb: sip:z@y`, 'hello'),
    withBody(`invite sip:a@b SIP/2.0\r\nvIa: SIP/2.0/UDP h;branch=z9hG4bKa\r\nFROM: <sip:a@b>;TAG=1\r\nto: <sip:b@b>\r\nCALL-ID: x\r\ncseq: 1 invite\r\nCONTACT: <sip:a@h>\r\nContent-length: 0\r\nl: 0`),
    // repeated generic headers (joined with ','), an empty one first
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\n${DIALOG}\r\nAllow: INVITE\r\nAllow: BYE, ACK\r\nX-Empty:\r\nX-Empty: later\r\nX-Last: a\r\nX-Last: `),
    // Via / Contact lists over several lines, params with and without values, quoted values
    withBody(
      `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com:5060;branch=z9hG4bK1;rport=5060;received=10.0.0.1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\nVia: SIP / 2.0 / UDP c.example.com : 5070 ; branch = z9hG4bK3 ; hidden\r\nv: SIP/2.0/UDP d;branch="quoted;value"\r\n${DIALOG}\r\n` +
        'Contact: "Alice, \\"the\\" first; really" <sip:alice@a.example.com>;expires=60;q=0.5, Bob Smith <sip:bob@b.example.com>, <sip:c@c>;+sip.instance="<urn:uuid:1>"\r\nContact: sip:d@d.example.com;expires=10',
    ),
    // Contact: * (an entry with uri '*', the package's `== '*'` never matches)
    withBody(`REGISTER sip:r SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nContact: *\r\nExpires: 0`),
    // folded lines (RFC 3261 §7.3.1): kept as they are in generic values, white space in structured ones
    withBody(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1,\r\n SIP/2.0/UDP b;branch=z9hG4bK2\r\n${DIALOG}\r\nSubject: I know you're there,\r\n\tpick up the phone\r\n   and talk to me!\r\nContact: <sip:a@a>,\r\n <sip:b@b>`),
    // IPv6 hosts in Via (parseParts' own fix), and a '[' elsewhere only
    withBody(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK6;rport=5060;received=::1\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK7\r\n${DIALOG}\r\nContact: <sip:a@[::1]:5080>`),
    withBody(`OPTIONS sip:a@[2001:db8::1] SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nX-Note: [x]`),
    withBody(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK8, SIP/2.0/UDP host;branch=z9hG4bK9\r\n${DIALOG}`),
    // display names: tokens, quoted with escapes, none; bare URIs with params
    withBody(`SIP/2.0 180 Ringing\r\n${VIA}\r\nTo: Bob  Smith<sip:bob@b>;tag=x\r\nFrom: sip:a@b;tag=y;lr\r\nCall-ID: q\r\nCSeq: 3 INVITE\r\nRefer-To: <sip:c@d?Replaces=abc%40def>`),
    withBody(`SIP/2.0 180 Ringing\r\n${VIA}\r\nTo: "" <sip:bob@b>\r\nFrom: "a\\\\" <sip:a@b>;tag=y\r\nCall-ID: q\r\nCSeq: 3 INVITE\r\nReferred-By: <sip:r@r>`),
    // odd but accepted start lines and values
    withBody(`SIP/2.0 200\r\n${VIA}\r\n${DIALOG}`),
    withBody(`SIP/2.0 183 Session  Progress  \r\n${VIA}\r\n${DIALOG}`),
    withBody(`INFO sip:a@b SIP / 2.0\r\n${VIA}\r\n${DIALOG}\r\nCSeq: 12   INFO  extra\r\nMax-Forwards:70\r\nX-Colon: a:b:c\r\nX-Spaces :  v  `),
    withBody(`ACK sip:a@b SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nContent-Length: 0`),
    // what must fail: no Via, no Call-ID, not SIP, bad request line
    withBody(`SIP/2.0 200 OK\r\n${DIALOG}`),
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\nTo: <sip:x@y>\r\nFrom: <sip:a@b>;tag=1\r\nCSeq: 1 BYE`),
    withBody(`HTTP/1.1 200 OK\r\n${VIA}\r\n${DIALOG}`),
    withBody(`INVITE  sip:a@b SIP/2.0\r\n${VIA}\r\n${DIALOG}`),
    withBody(`INVITE sip:a@b SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nno colon here`),
    withBody(`INVITE sip:a@b SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\nVia: garbage`),
    withBody(`INVITE sip:a@b SIP/2.0\r\nVia: ${Array.from({ length: 70 }, (_, i) => `SIP/2.0/UDP h${i};branch=z9hG4bK${i}`).join(', ')}\r\n${DIALOG}`),
    withBody(`INVITE sip:a@b SIP/2.0\r\n${VIA}\r\n${DIALOG}\r\n${Array.from({ length: 65 }, (_, i) => `Route: <sip:r${i}>`).join('\r\n')}`),
    // names the package would resolve through Object.prototype, and a %-escaped one
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\n${DIALOG}\r\nconstructor: x\r\nX%41: y`),
    withBody(`SIP/2.0 200 OK\r\n${VIA}\r\n${DIALOG}\r\n__proto__: x`),
  ]
}

const CORPUS = [...sippMessages(), ...handMessages()]

type Outcome = { ok: true; m: SipMessage } | { ok: false; error: string }

function outcome(f: () => SipMessage): Outcome {
  try {
    return { ok: true, m: f() }
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err
    return { ok: false, error: err.message }
  }
}

function serialized(f: () => Buffer): string {
  try {
    return f().toString('latin1')
  } catch (err) {
    return `throws ${String(err)}`
  }
}

/** Both parsers on one datagram: same result or same error; then the same bytes out. */
function compare(buf: Buffer): { same: boolean; detail: string; ok: boolean } {
  const a = outcome(() => parseDatagram(buf))
  const b = outcome(() => parseDatagramReference(buf))
  if (!a.ok || !b.ok) {
    const same = !a.ok && !b.ok && a.error === b.error
    return { same, ok: false, detail: same ? '' : `new ${inspect(a, { depth: 6 })}\nold ${inspect(b, { depth: 6 })}` }
  }
  if (!isDeepStrictEqual(a.m, b.m)) return { same: false, ok: true, detail: `new ${inspect(a.m, { depth: 6 })}\nold ${inspect(b.m, { depth: 6 })}` }
  const sa = serialized(() => serialize(a.m))
  const sb = serialized(() => serializeReference(b.m))
  if (sa !== sb) return { same: false, ok: true, detail: `serialize new ${JSON.stringify(sa)}\nold ${JSON.stringify(sb)}` }
  return { same: true, ok: true, detail: '' }
}

t.test('the corpus parses and serializes as with the package', async (t) => {
  t.ok(CORPUS.length > 60, `${CORPUS.length} messages`)
  let ok = 0
  for (const text of CORPUS) {
    const buf = Buffer.from(text, 'latin1')
    const r = compare(buf)
    if (!r.same) t.fail(`differs: ${JSON.stringify(text.slice(0, 200))}\n${r.detail}`)
    if (r.ok) ok++
    // parseParts (the stream path) too
    const end = headerEnd(buf)
    if (end >= 0) {
      const head = buf.subarray(0, end)
      const body = buf.subarray(end + 4)
      const a = outcome(() => parseParts(head, body))
      const b = outcome(() => parsePartsReference(head, body))
      t.ok(a.ok === b.ok && (a.ok && b.ok ? isDeepStrictEqual(a.m, b.m) : !a.ok && !b.ok && a.error === b.error), 'parseParts as before')
    }
  }
  t.ok(ok > 50, `${ok} accepted`)
})

t.test('the fast paths take the ordinary messages (no silent fallback)', async (t) => {
  for (const text of sippMessages()) {
    const head = text.slice(0, text.indexOf('\r\n\r\n'))
    const m = parseHead(head)
    t.ok(m, `parsed by codec: ${head.slice(0, 40)}`)
    if (m) t.ok(stringifyHead(m, 0) !== undefined, 'stringified by codec')
  }
})

t.test('edge cases of the package grammar, one by one', async (t) => {
  const p = (text: string): SipMessage => parseDatagram(Buffer.from(text, 'latin1'))
  const contact = p(handMessages()[15]!).headers.contact
  t.same(contact, [{ name: undefined, uri: '*', params: {} }], 'Contact: * is an entry')
  const rep = p(handMessages()[13]!).headers
  t.equal(rep.allow, 'INVITE,BYE, ACK', 'repeated generic headers joined with ","')
  t.equal(rep['x-empty'], 'later', 'an empty first value is dropped')
  t.equal(rep['x-last'], 'a,', 'an empty last value leaves a trailing ","')
  const lists = p(handMessages()[14]!).headers
  t.equal(lists.via.length, 4, 'Vias over several lines')
  t.equal(lists.via[2].port, 5070, 'spaces around ":" in Via')
  t.equal(lists.via[2].params.hidden, null, 'a param without value is null')
  t.equal(lists.via[3].params.branch, '"quoted;value"', 'quoted param values keep their quotes')
  t.equal(lists.contact[0].name, '"Alice, \\"the\\" first; really"', 'quoted display name with commas and semicolons')
  t.equal(lists.contact.length, 4, 'Contact entries over two lines')
  const folded = p(handMessages()[16]!).headers
  t.equal(folded.subject, "I know you're there,\r\n\tpick up the phone\r\n   and talk to me!", 'folded generic value kept as is')
  t.equal(folded.via.length, 2, 'a Via list folded over two lines')
  const v6 = p(handMessages()[17]!).headers
  t.equal(v6.via[0].host, '[::1]', 'IPv6 Via host')
  t.notOk('port' in v6.via[1], 'the IPv6 fix leaves out absent ports')
  const compact = p(handMessages()[11]!).headers
  t.equal(compact['contact-encoding'], 'gzip', "'e' is the package's contact-encoding")
  t.equal(compact.o, 'refer', "'o' is not expanded by the package")
  t.equal(compact.subject, 'hi')
  t.throws(() => p(handMessages()[32]!), new SipParseError('too many entries in Via'))
  t.throws(() => p(handMessages()[33]!), new SipParseError('too many entries in Route'))
})

/** Messages as lib/ builds them: strings and objects, name-addrs, Via params with a fixed branch, uri objects. */
function builtMessages(): SipMessage[] {
  const rq = parseDatagram(Buffer.from(withBody(BASE_INVITE, SDP), 'latin1'))
  const uri = parseSipUri('sip:bob:pw@127.0.0.1:5090;transport=udp;lr')!
  const bye: SipMessage = {
    method: 'BYE',
    uri: uri as unknown as string, // lib/ passes parsed URIs where the type says string (see stringifyUri)
    headers: {
      via: [{ version: '2.0', protocol: 'udp', host: '127.0.0.1', port: 5060, params: viaParams('z9hG4bKfixed', { rport: null }) }],
      'max-forwards': 70,
      to: nameAddr('sip:bob@127.0.0.1', 'Bob "B"', { tag: 't1' }),
      from: nameAddr('sip:c2c@127.0.0.1', undefined, { tag: 'f1' }),
      'call-id': 'bye-1',
      cseq: { seq: 2, method: 'BYE' },
      route: [{ uri: parseSipUri('sip:p.example.com;lr')!, params: {} }, { name: '"P"', uri: 'sip:q.example.com', params: { x: '' } }],
      'record-route': [],
      contact: [{ uri: 'sip:c2c@127.0.0.1:5060', params: { expires: '60', '+sip.instance': '"<urn:x>"' } }],
      supported: ['replaces', 'timer'],
      'x-null': null,
      'x-flag': true,
      'p-asserted-identity': '<sip:1002@pbx>',
      'www-authenticate': 'Digest realm="r"',
    },
    content: 'héllo ✓',
  }
  const refer: SipMessage = {
    method: 'REFER',
    uri: 'sip:alice@127.0.0.1:5080',
    version: '2.0',
    headers: {
      via: [{ protocol: 'UDP', host: 'h', params: {} }, { protocol: 'UDP', host: '', params: {} }],
      to: { name: 'Alice', uri: 'sip:alice@h', params: {} },
      from: { uri: 'sip:c2c@h', params: { tag: 'x' } },
      'call-id': 'r1',
      cseq: { seq: 3, method: 'REFER' },
      'refer-to': { uri: 'sip:bob@h?Replaces=a%40b', params: {} },
      'referred-by': '<sip:c2c@h>',
      contact: '*',
      'content-length': 99,
    },
  }
  const response = makeResponse(rq, 200, 'OK', { contact: [nameAddr('sip:alice@127.0.0.1:5080')], 'content-type': 'application/sdp' }, SDP)
  const empty = makeResponse(rq, 486, 'Busy Here')
  const star: SipMessage = { ...makeResponse(rq, 200, 'OK'), headers: { ...rq.headers, contact: [] } }
  const auth: SipMessage = { ...bye, headers: { ...bye.headers, authorization: [{ scheme: 'Digest', username: '"u"', realm: '"r"' }] } }
  return [rq, bye, refer, response, empty, star, auth]
}

/** A deep copy that keeps accessors (viaParams' fixed branch) as they are. */
function copy<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x: unknown) => copy(x)) as T
  if (typeof v !== 'object' || v === null) return v
  const out: Record<string, unknown> = {}
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(v))) {
    if ('value' in d) out[k] = copy(d.value as unknown)
    else Object.defineProperty(out, k, d)
  }
  return out as T
}

t.test('messages built by lib/ serialize to the same bytes', async (t) => {
  for (const m of builtMessages()) {
    const a = copy(m)
    const b = copy(m)
    t.equal(serialized(() => serialize(a)), serialized(() => serializeReference(b)), `${m.method ?? m.status} as before`)
    t.ok(isDeepStrictEqual(a, b), 'the message left as the old path left it (content-length: 0)')
  }
  const odd: SipMessage = { method: 'X', uri: 'sip:a', headers: { to: 'raw <sip:a>', 'Content-Length': '5', via: [] } }
  t.equal(serialized(() => serialize(copy(odd))), serialized(() => serializeReference(copy(odd))), 'an extra Content-Length header name')
})

/** mulberry32: a small seeded generator, so a failure replays */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const COMPACT: Record<string, string> = { via: 'v', from: 'f', to: 't', contact: 'm', 'call-id': 'i', 'content-length': 'l', 'content-type': 'c', supported: 'k', subject: 's' }
const SPECIAL = [' ', '\t', ':', ';', '=', ',', '"', '\\', '<', '>', '[', ']', '%', '\r', '\n', '\r\n', '\r\n ', '@', '*', '\u00a0', '\x0b', '\x00', '\xff']

function mutate(text: string, r: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!
  const head = text.indexOf('\r\n\r\n') >= 0 ? text.slice(0, text.indexOf('\r\n\r\n')) : text
  const tail = text.slice(head.length)
  const lines = head.split('\r\n')
  const i = 1 + Math.floor(r() * Math.max(1, lines.length - 1))
  const line = lines[i] ?? ''
  const colon = line.indexOf(':')
  switch (Math.floor(r() * 12)) {
    case 0: // header name case
      if (colon > 0) lines[i] = (r() < 0.5 ? line.slice(0, colon).toUpperCase() : line.slice(0, colon).toLowerCase()) + line.slice(colon)
      break
    case 1: {
      // compact name (RFC 3261 §20)
      const c = COMPACT[line.slice(0, colon).toLowerCase()]
      if (c) lines[i] = c + line.slice(colon)
      break
    }
    case 2: // white space around ':' ';' '='
      lines[i] = line.replace(pick([/:/, /;/g, /=/g, /,/]), (s) => `${pick(['', ' ', '  ', '\t'])}${s}${pick(['', ' ', '\t '])}`)
      break
    case 3: {
      // fold at a space (RFC 3261 §7.3.1)
      const sp = line.indexOf(' ', Math.floor(r() * line.length))
      if (sp > 0) lines[i] = `${line.slice(0, sp)}\r\n${pick([' ', '\t', '   '])}${line.slice(sp + 1)}`
      break
    }
    case 4: // duplicate a header line
      lines.splice(i, 0, line)
      break
    case 5: // swap two lines
      if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, line]
      break
    case 6: // truncate the header section
      return `${head.slice(0, Math.floor(r() * head.length))}${r() < 0.5 ? tail : '\r\n\r\n'}`
    case 7: {
      // a random byte, or a special character
      const at = Math.floor(r() * head.length)
      const ins = r() < 0.5 ? String.fromCharCode(Math.floor(r() * 256)) : pick(SPECIAL)
      return head.slice(0, at) + ins + head.slice(at) + tail
    }
    case 8: {
      // delete a few characters
      const at = Math.floor(r() * head.length)
      return head.slice(0, at) + head.slice(at + 1 + Math.floor(r() * 3)) + tail
    }
    case 9: // drop a line
      lines.splice(i, 1)
      break
    case 10: // a list entry more
      if (/^(via|v|contact|m|route|record-route)\s*:/i.test(line)) lines[i] = `${line}, ${line.slice(colon + 1).trim()}`
      break
    default: // change the Content-Length
      return text.replace(/Content-Length: \d+/i, `Content-Length: ${Math.floor(r() * 400)}`)
  }
  return lines.join('\r\n') + tail
}

t.test('seeded random mutations: same results or same errors', async (t) => {
  // SIP_CODEC_MUTATIONS / SIP_CODEC_SEED for a longer hunt (like FUZZ_COUNT for test/fuzz.ts)
  const r = rng(Number(process.env.SIP_CODEC_SEED ?? 0x5eed))
  const ITER = Number(process.env.SIP_CODEC_MUTATIONS ?? 3000)
  let accepted = 0
  let fast = 0
  let failures = 0
  for (let n = 0; n < ITER; n++) {
    let text = CORPUS[Math.floor(r() * CORPUS.length)]!
    const times = 1 + Math.floor(r() * 3)
    for (let k = 0; k < times; k++) text = mutate(text, r)
    const res = compare(Buffer.from(text, 'latin1'))
    if (res.ok) accepted++
    if (res.ok && text.indexOf('\r\n\r\n') > 0 && parseHead(text.slice(0, text.indexOf('\r\n\r\n')))) fast++
    if (!res.same && failures++ < 5) t.fail(`mutation ${n} differs: ${JSON.stringify(text)}\n${res.detail}`)
  }
  t.equal(failures, 0, `${ITER} mutations, none differs`)
  t.ok(accepted > ITER / 4, `${accepted} of them accepted by both`)
  t.ok(fast > accepted / 2, `${fast} of those read by the codec itself, not its fallback`)
})

t.test('makeResponse builds what the package built: the same keys in the same order', async (t) => {
  const corpusRequests: SipMessage[] = []
  for (const text of CORPUS) {
    try {
      const m = parseDatagram(Buffer.from(text, 'latin1'))
      if (m.method !== undefined) corpusRequests.push(m)
    } catch {
      // the corpus has messages that are refused on purpose
    }
  }
  t.ok(corpusRequests.length >= 5, `${corpusRequests.length} requests of the corpus`)
  const extras: Array<[Record<string, unknown> | undefined, string | undefined, string | undefined]> = [
    [undefined, undefined, undefined],
    [{}, undefined, 'clicktocall/1'],
    [{ contact: [nameAddr('sip:a@127.0.0.1')], 'content-type': 'application/sdp' }, SDP, 'clicktocall/1'],
    // an extra User-Agent keeps the place of the first and takes the value of the second, as the spread did
    [{ 'user-agent': 'other', allow: 'INVITE' }, '', 'clicktocall/1'],
  ]
  for (const rq of corpusRequests) {
    for (const [headers, content, ua] of extras) {
      const ours = makeResponse(rq, 183, 'Session Progress', headers, content, ua)
      const theirs = sip.makeResponse(rq, 183, 'Session Progress', { headers: { ...(ua !== undefined ? { 'user-agent': ua } : {}), ...headers }, ...(content !== undefined ? { content } : {}) })
      t.same(Object.keys(ours), Object.keys(theirs), 'the message keys')
      t.same(Object.keys(ours.headers), Object.keys(theirs.headers), 'the header order')
      t.ok(isDeepStrictEqual(ours, theirs), `${rq.method} ${JSON.stringify(headers)}: deep-equal`)
      t.equal(serialize(ours).toString('latin1'), serializeReference(theirs).toString('latin1'), 'the same bytes')
    }
  }
  t.equal(makeResponse(corpusRequests[0]!, 404, '').reason, '', 'an empty reason stays empty')
})

t.test('unbracket does what the regex replace did', async (t) => {
  const old = (h: string): string => h.replace(/^\[(.*)\]$/, '$1')
  for (const h of ['127.0.0.1', '[::1]', '[]', '[', ']', '[::1', '::1]', 'a[b]', '[2001:db8::1]', '[a\nb]', '[a]b]', 'example.com', ''])
    t.equal(unbracket(h), old(h), JSON.stringify(h))
})
