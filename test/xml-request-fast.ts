/**
 * The XML request's fast path (plain `<ClickToCall><Request>` with text
 * leaves) must give exactly what the validator and the parser give, for
 * every input: the canonical requests, then thousands of seeded mutations
 * of them (case, whitespace, markup, entities, duplicates, truncation).
 */
import t from 'tap'
import { parseRequest, parseFully, plainRequest } from '../lib/xml/request'

const BASE = [
  '<ClickToCall><Request><Initiator>sip:alice@127.0.0.1:5080</Initiator><Destination>1002</Destination><AnchorCall>false</AnchorCall></Request></ClickToCall>',
  '<ClickToCall>\n  <Request>\n    <Initiator> 1001 </Initiator>\n    <Destination>0049123</Destination>\n    <AnchorCall>TRUE</AnchorCall>\n    <Tag>17</Tag>\n  </Request>\n</ClickToCall>\n',
  '<clicktocall><request><initiator>a</initiator><destination>b</destination></request></clicktocall>',
  '<ClickToCall><Request><Initiator>1001</Initiator></Request></ClickToCall>',
  '<ClickToCall><Request><Initiator>1001</Initiator><Destination></Destination></Request></ClickToCall>',
  '<ClickToCall><Request><Initiator>a</Initiator><initiator>b</initiator><Destination>c</Destination><Destination>d</Destination></Request></ClickToCall>',
  '<Hangup><Request><Initiator>a</Initiator><Destination>b</Destination></Request></Hangup>',
  '<ClickToCall><Request><Initiator>a&amp;b</Initiator><Destination>c</Destination></Request></ClickToCall>',
  '<?xml version="1.0"?><ClickToCall><Request><Initiator>a</Initiator><Destination>b</Destination></Request></ClickToCall>',
  '<ClickToCall><Request><Initiator><![CDATA[x]]></Initiator><Destination>b</Destination></Request></ClickToCall>',
  '<ClickToCall><Request a="1"><Initiator>a</Initiator><Destination>b</Destination></Request></ClickToCall>',
  '<ClickToCall><Request><Initiator>a</Initiator><Destination>b</Destination><Extra><X>1</X></Extra></Request></ClickToCall>',
  '<ClickToCall><Request><Initiator>a</Initiator><Destination>b</Destination><Empty/></Request></ClickToCall>',
  '<ClickToCall><Request><Initiator>a\r\nb</Initiator><Destination>\t\u00a0b\u00a0 </Destination></Request></ClickToCall>',
]

// a small seeded generator (mulberry32): the same cases every run
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const PIECES = ['<', '>', '/', '&', ';', '&lt;', '"', '=', ' ', '\n', '\t', '\r', 'a', 'Z', '!', '?', '-', ']]>', '\u00a0', '<!-- c -->', '<X>', '</X>', '<Y/>', 'é', '<Initiator>', '</Initiator>', '<Destination>z</Destination>']

function mutate(s: string, r: () => number): string {
  const at = Math.floor(r() * (s.length + 1))
  switch (Math.floor(r() * 6)) {
    case 0:
      return s.slice(0, at) + PIECES[Math.floor(r() * PIECES.length)] + s.slice(at)
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3))
    case 2: {
      const c = s.charAt(at)
      return s.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(at + 1)
    }
    case 3:
      return s.slice(0, at)
    case 4:
      return s.slice(0, at) + ' '.repeat(1 + Math.floor(r() * 3)) + s.slice(at)
    default: {
      // duplicate a stretch
      const len = Math.floor(r() * 40)
      return s.slice(0, at) + s.slice(at, at + len) + s.slice(at)
    }
  }
}

t.test('the fast path and the full parser agree on the canonical requests', async (t) => {
  for (const xml of BASE) t.same(parseRequest(xml), parseFully(xml), JSON.stringify(xml).slice(0, 90))
  t.same(parseRequest(BASE[0]!), { ok: true, request: { initiator: 'sip:alice@127.0.0.1:5080', destination: '1002', anchor: false } })
  t.same(parseRequest(BASE[1]!), { ok: true, request: { initiator: '1001', destination: '0049123', anchor: true } }, 'trimmed, kept as text, TRUE is true')
  t.equal(parseRequest(BASE[3]!).ok, false)
  // the fast path itself reads the plain shapes (else every comparison above holds trivially) ...
  t.same(plainRequest(BASE[0]!), { initiator: 'sip:alice@127.0.0.1:5080', destination: '1002', anchor: false })
  t.same(plainRequest(BASE[1]!), { initiator: '1001', destination: '0049123', anchor: true })
  t.equal(plainRequest(BASE[3]!), 'missing')
  // ... and leaves markup it does not read to the parser
  for (const i of [7, 8, 9, 10, 11, 12, 13]) t.equal(plainRequest(BASE[i]!), undefined, `not read by the fast path: ${BASE[i]!.slice(0, 60)}`)
})

t.test('the fast path and the full parser agree on 6,000 seeded mutations', async (t) => {
  const r = rng(16)
  let differences = 0
  let fastOk = 0
  for (let i = 0; i < 6000; i++) {
    let xml = BASE[i % BASE.length]!
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) xml = mutate(xml, r)
    const fast = parseRequest(xml)
    const full = parseFully(xml)
    const plain = plainRequest(xml)
    if (plain !== undefined && plain !== 'missing') fastOk++
    if (JSON.stringify(fast) !== JSON.stringify(full)) {
      differences++
      if (differences <= 5) t.same(fast, full, `differs on ${JSON.stringify(xml)}`)
    }
  }
  t.equal(differences, 0, 'no input where the two differ')
  t.ok(fastOk > 50, `mutations the fast path reads itself are covered too (${fastOk})`)
})
