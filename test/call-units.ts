import t from 'tap'
import { parseSipUri } from '../lib/call/uri'
import { SdpOrigin, refusingAnswer } from '../lib/call/sdp'
import { noTranslationText, invalidUriText, Texts } from '../lib/call/texts'

t.test('parseSipUri accepts SIP URIs the translation rules produce', async (t) => {
  const ok = [
    'sip:9055551234@sipdomain.com',
    'sip:3003@gw.example.com;user=phone',
    'sip:alice@127.0.0.1:5090',
    'sips:bob@[::1]:5061;transport=tls',
    'sip:gw.example.com',
    'SIP:Carol@Example.COM',
  ]
  for (const u of ok) {
    const p = parseSipUri(u)
    t.type(p, 'object', u)
  }
  const p = parseSipUri('sip:alice@127.0.0.1:5090') as { user: string; host: string; port: number }
  t.same([p.user, p.host, p.port], ['alice', '127.0.0.1', 5090])
})

t.test('parseSipUri refuses what is not a SIP URI, with a reason', async (t) => {
  for (const u of ['', '9055551234', 'tel:+15551234', 'sip:', 'sip:a@', 'sip:a@host:99999', 'sip:a b@host', 'http://x']) {
    t.type(parseSipUri(u), 'string', JSON.stringify(u))
  }
})

t.test('held offer is the original shape: inactive PCMU on port 8000, c= the server', async (t) => {
  const o = new SdpOrigin('192.0.2.7')
  const sdp = o.heldOffer()
  t.match(sdp, /^v=0\r\no=clicktocall \d+ \d+ IN IP4 192\.0\.2\.7\r\n/)
  t.match(sdp, /\r\nc=IN IP4 192\.0\.2\.7\r\n/)
  t.match(sdp, /\r\nm=audio 8000 RTP\/AVP 0\r\n/)
  t.match(sdp, /\r\na=inactive\r\n$/)
  t.match(new SdpOrigin('::1').heldOffer(), /c=IN IP6 ::1/)
})

t.test('restamp keeps one origin per leg with a rising version, body unchanged', async (t) => {
  const o = new SdpOrigin('10.0.0.1')
  const first = o.heldOffer()
  const phone = 'v=0\no=bob 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\nm=audio 40000 RTP/AVP 0\n'
  const second = o.restamp(phone)
  const id = (s: string): string[] => /o=clicktocall (\d+) (\d+)/.exec(s)!.slice(1)
  t.equal(id(first)[0], id(second)[0], 'same session id')
  t.equal(Number(id(second)[1]), Number(id(first)[1]) + 1, 'version + 1')
  t.match(second, /c=IN IP4 10\.9\.9\.9\r\nt=0 0\r\nm=audio 40000 RTP\/AVP 0\r\n$/)
  t.notMatch(second, /o=bob/)
})

t.test('refusing answer sets every m= port to 0', async (t) => {
  const o = new SdpOrigin('10.0.0.1')
  const offer = 'v=0\r\no=b 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\nm=video 4002 RTP/AVP 96\r\n'
  const a = refusingAnswer(offer, o)
  t.match(a, /m=audio 0 RTP\/AVP 0 8/)
  t.match(a, /m=video 0 RTP\/AVP 96/)
  t.notMatch(a, /rtpmap/)
})

t.test('texts are the original\'s', async (t) => {
  t.equal(noTranslationText('abc', '123'), 'No translation rule for either initiator abc or destination 123')
  t.equal(invalidUriText('x', 'a', 'y', 'b', 'r'), 'Invalid URI format in initiator x(a) or destination y(b): r')
  t.same(Object.values(Texts), [
    'In progress', 'Ringing initiator', 'Connected to initiator', 'Ringing destination',
    'Connected to destination', 'Failed to connect to initiator', 'Failed to connect to destination',
  ])
})
