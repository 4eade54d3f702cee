/**
 * What reaches the SIP wire is a clean URI: control characters, DEL, raw
 * non-ASCII, characters a user part (and so the From display name) cannot
 * hold, URI headers and maddr in a translated address get the original's
 * `400 Invalid URI format ...`, through the XML port (raw socket) and the
 * HTTP port (curl); AllowUriHeaders lets headers and maddr through. A phone
 * behind the rules proves that a refused request sends nothing.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import pino from 'pino'
import { addressProblem, checkAddress } from '../lib/call'
import { createPhone } from '../lib/phone'
import { escapeXml } from '../lib/xml'
import { startTestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'

const logger = pino({ level: 'silent' })

t.test('addressProblem: the unit', async (t) => {
  const clean = ['sip:alice@example.com', 'sip:+1%20555@gw.example.com;user=phone', 'sips:1001@[::1]:5061;transport=tls', 'sip:a.b-c_d!~*\'()&=+$,;x@h', 'sip:user:pass@h', 'sip:h']
  for (const u of clean) t.equal(addressProblem(u), undefined, `clean: ${u}`)
  const refused: Array<[string, RegExp]> = [
    ['sip:a\x00b@h', /control character U\+0000/],
    ['sip:a\r\nRoute: <sip:x>@h', /control character U\+000D/],
    ['sip:a\x1b[31m@h', /control character U\+001B/],
    ['sip:a\x7f@h', /control character U\+007F/],
    ['sip:jöhn@h', /non-ASCII character U\+00F6/],
    ['sip:a@h\u2028', /non-ASCII/],
    ['sip:a"b@h', /character """ not allowed in the user part/],
    ['sip:a\\b@h', /character "\\" not allowed in the user part/],
    ['sip:a b@h', /character " " not allowed/],
    ['sip:a%zz@h', /bad percent-encoding/],
    ['sip:2002@h?X-Evil=1&Route=%3Csip:evil%3E', /URI headers/],
    ['sip:2002@h;maddr=10.0.0.1', /maddr/],
    ['sip:2002@h;MADDR=10.0.0.1;lr', /maddr/],
    ['sip:2002@h;x="y"', /malformed URI parameter/],
  ]
  for (const [u, why] of refused) t.match(addressProblem(u), why, JSON.stringify(u).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
  t.equal(addressProblem('sip:2002@h?X-Evil=1&Route=%3Csip:evil%3E', { allowUriHeaders: true }), undefined, 'headers when allowed')
  t.equal(addressProblem('sip:2002@h;maddr=10.0.0.1', { allowUriHeaders: true }), undefined, 'maddr when allowed')
  t.match(addressProblem('sip:2002@h?X=\x00', { allowUriHeaders: true }), /control character/, 'control characters never')
  t.match(checkAddress('http://x'), /not a sip/, 'parseSipUri still decides the shape')
  t.equal(escapeXml('a\x00b\x1bc\td'), 'a\ufffdb\ufffdc\td', 'a NUL echoed in an XML result becomes U+FFFD')
})

t.test('XML and HTTP: dirty addresses get 400 Invalid URI format and never reach the phone', async (t) => {
  const phone = await createPhone({ name: 'p', behaviour: 'answer', logger })
  t.teardown(() => phone.close())
  const target = `127.0.0.1:${phone.stack.port}`
  const server = await startTestServer({
    translationRules: [
      { pattern: '^(sips?:.*)$', output: '$1', file: 't', line: 1 },
      { pattern: '^([^@]+)$', output: `sip:$1@${target}`, file: 't', line: 2 },
    ],
  })
  t.teardown(() => server.close())

  // XML: raw bytes in the element text, as a hostile client writes them
  const xmlCases: Array<[string, RegExp]> = [
    [`sip:2002@${target}?X-Evil=1&amp;Route=%3Csip:evil.example%3E`, /URI headers/],
    [`sip:2002@${target};maddr=192.0.2.66`, /maddr/],
    ['20\x0002', /control character U\+0000/],
    ['20\x1b02', /control character U\+001B/],
    ['20\x7f02', /control character U\+007F/],
    ['jöhn', /non-ASCII character U\+00F6/],
    ['a\\"b', /not allowed in the user part/],
  ]
  for (const [destination, why] of xmlCases) {
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request('1001', destination))
    await c.until((r) => r.length >= 1, 5000)
    t.equal(c.results[0]!.code, 400, `XML ${JSON.stringify(destination)}: 400`)
    t.match(c.results[0]!.text, /^Invalid URI format in initiator /)
    t.match(c.results[0]!.text, why)
    t.notMatch(c.docs[0]!.split('<Response>')[1] ?? '', /[\x00-\x08\x0b\x0c\x0e-\x1f]/, 'the result holds no character XML cannot')
  }

  const curl = (query: string): Promise<string> =>
    new Promise((resolve) =>
      execFile('curl', ['-s', '-i', '--max-time', '5', `http://127.0.0.1:${server.httpPort}/clicktocall.html?${query}`], { encoding: 'latin1' }, (_e, out) => resolve(out)),
    )
  const httpCases: Array<[string, RegExp]> = [
    [`initiator=1001&destination=${encodeURIComponent(`sip:2002@${target}?X-Evil=1&Route=<sip:evil.example>`)}`, /URI headers/],
    [`initiator=1001&destination=${encodeURIComponent(`sip:2002@${target};maddr=192.0.2.66`)}`, /maddr/],
    ['initiator=1001&destination=20%0002', /control character U\+0000/],
    ['initiator=10%0D%0ARoute:%20x01&destination=2002', /control character U\+000D/],
    ['initiator=1001&destination=20%7F02', /control character U\+007F/],
    ['initiator=1001&destination=j%C3%B6hn', /non-ASCII character U\+00F6/],
    ['initiator=1001&destination=a%5Cb', /not allowed in the user part/],
  ]
  for (const [query, why] of httpCases) {
    const out = await curl(query)
    t.match(out, /^HTTP\/1\.1 400 /, `HTTP ${query}: 400`)
    t.match(out, 'Invalid URI format in initiator ')
    t.match(out, why)
  }
  await new Promise((r) => setTimeout(r, 300))
  t.equal(phone.events.filter((e) => e.type === 'invite').length, 0, 'no refused request reached the phone')

  // the control: a clean address with a percent-encoded character goes through to the phone
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(request('1001', `sip:20%2002@${target}`))
  await c.until((r) => r.length >= 1, 5000)
  t.equal(c.results[0]!.code, 100, 'percent-encoded: accepted')
  await phone.waitFor('invite', 5000)
  await c.finals(1, 10_000)
})

t.test('AllowUriHeaders: headers and maddr pass when the operator allows them', async (t) => {
  const busy = await createPhone({ name: 'b', behaviour: 'busy', logger })
  t.teardown(() => busy.close())
  const server = await startTestServer({ allowUriHeaders: true })
  t.teardown(() => server.close())
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(request(`sip:1001@127.0.0.1:${busy.stack.port}`, 'sip:2002@127.0.0.1:9?X-Info=1'))
  await c.finals(1, 5000)
  t.equal(c.results[0]!.code, 100, 'accepted')
  t.equal(c.results.at(-1)!.code, 486, 'and called (the initiator is busy)')
  const c2 = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c2.close())
  c2.write(request('sip:1001@127.0.0.1:9', 'sip:2002@127.0.0.1:9?X=%00\x01'))
  await c2.until((r) => r.length >= 1, 5000)
  t.match(c2.results[0]!.text, /control character U\+0001/, 'control characters are refused all the same')
})
