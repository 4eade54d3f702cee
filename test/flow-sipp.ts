/**
 * End to end: XML client -> server -> real sipp phones on loopback, for the
 * REFER flow, the anchored flow, the fallback and the failure paths.
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'

const SIPP = path.join(__dirname, 'sipp')
/** the original's result sequence of a successful call */
const SUCCESS = [
  '100 In progress',
  '180 Initiator Ringing initiator',
  '200 Initiator Connected to initiator',
  '180 Destination Ringing destination',
  '200 Destination Connected to destination',
]

if (!sippAvailable()) {
  if (process.env.CI === 'true') t.fail('sipp is required under CI (apt-get install sip-tester)')
  else t.plan(0, 'sipp is not installed')
} else {
  t.jobs = 1
  run()
}

async function phone(t: Test, scenario: string, extra: string[] = []): Promise<SippProcess> {
  const p = await startSipp({ scenario: path.join(SIPP, scenario), args: extra })
  t.teardown(() => p.kill())
  return p
}

function codes(c: XmlClient): string[] {
  return c.summary()
}

function run(): void {
  let server: TestServer
  t.before(async () => {
    server = await startTestServer({ initiatorRingTimeout: 3, destinationRingTimeout: 3, referNotifyTimeout: 10 })
  })
  t.teardown(async () => {
    await server.close()
  })

  t.test('REFER: NOTIFY 100/180/200 gives the full result sequence', async (t) => {
    const dest = await phone(t, 'destination.xml', ['-d', '1000'])
    const init = await phone(t, 'initiator.xml', ['-d', '1000'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob')))
    await c.finals(1, 20000)
    t.same(codes(c), SUCCESS)
    t.match(c.docs[0], `<TranslatedInitiator>${init.uri('alice')}</TranslatedInitiator>`)
    t.equal((await init.exit).code, 0, 'initiator phone scenario completed')
    t.equal((await dest.exit).code, 0, 'destination phone scenario completed')
  })

  t.test('REFER to a busy destination: the 486 fragment is the final result', async (t) => {
    const dest = await phone(t, 'busy.xml')
    const init = await phone(t, 'initiator.xml')
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob')))
    await c.finals(1, 20000)
    t.same(codes(c), [
      '100 In progress',
      '180 Initiator Ringing initiator',
      '200 Initiator Connected to initiator',
      '486 Destination Failed to connect to destination',
    ])
    t.equal((await init.exit).code, 0, 'initiator got its BYE')
  })

  t.test('REFER refused (603): the call falls back to anchored, one result stream', async (t) => {
    const dest = await phone(t, 'destination.xml', ['-d', '1000'])
    const init = await phone(t, 'refer-refused.xml', ['-d', '60000'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob'), false))
    await c.finals(1, 20000)
    t.same(codes(c), SUCCESS)
    // the destination hangs up after 1 s; the server relays the BYE to the initiator
    t.equal((await dest.exit).code, 0, 'destination completed')
    t.equal((await init.exit).code, 0, 'initiator got the relayed BYE')
  })

  t.test('anchored: each phone gets the other one\'s SDP; BYE relayed from the initiator', async (t) => {
    const dest = await phone(t, 'destination.xml', ['-d', '60000'])
    const init = await phone(t, 'destination.xml', ['-d', '1500'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob'), true))
    await c.finals(1, 20000)
    t.same(codes(c), SUCCESS)
    t.equal((await init.exit).code, 0, 'initiator hung up')
    t.equal((await dest.exit).code, 0, 'destination got the relayed BYE')
    const initLog = readFileSync(init.messageLog, 'utf8')
    const destLog = readFileSync(dest.messageLog, 'utf8')
    t.match(initLog, new RegExp(`m=audio ${dest.mediaPort} RTP/AVP 0`), 'initiator re-INVITEd with the destination offer')
    t.match(destLog, new RegExp(`m=audio ${init.mediaPort} RTP/AVP 0`), 'destination ACKed with the initiator answer')
  })

  t.test('busy initiator: 486 on the Initiator leg', async (t) => {
    const init = await phone(t, 'busy.xml')
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), 'sip:bob@127.0.0.1:9', false))
    await c.finals(1, 20000)
    t.same(codes(c), ['100 In progress', '486 Initiator Failed to connect to initiator'])
  })

  t.test('no answer: ring timeout, CANCEL, 408', async (t) => {
    const init = await phone(t, 'noanswer.xml')
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), 'sip:bob@127.0.0.1:9', false))
    await c.finals(1, 20000)
    t.same(codes(c), ['100 In progress', '180 Initiator Ringing initiator', '408 Initiator Failed to connect to initiator'])
    t.equal((await init.exit).code, 0, 'the phone saw the CANCEL')
  })

  t.test('anchored: initiator hangs up while the destination rings: CANCEL, 487', async (t) => {
    const dest = await phone(t, 'noanswer.xml')
    const init = await phone(t, 'destination.xml', ['-d', '300'])
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(init.uri('alice'), dest.uri('bob'), true))
    await c.finals(1, 20000)
    const s = codes(c)
    t.equal(s.at(-1), '487 Destination Failed to connect to destination')
    t.equal((await dest.exit).code, 0, 'destination saw the CANCEL')
  })

  t.test('netcat-style client: the original\'s indented CRLF request, the raw stream read back', async (t) => {
    const dest = await phone(t, 'destination.xml', ['-d', '500'])
    const init = await phone(t, 'initiator.xml', ['-d', '500'])
    const sock = net.connect(server.xmlPort, '127.0.0.1')
    t.teardown(() => sock.destroy())
    let stream = ''
    sock.setEncoding('utf8')
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final result: ${stream}`)), 20000)
      sock.on('data', (d: string) => {
        stream += d
        if (/Leg="Destination">Connected to destination/.test(stream) || /Code="[3-6]\d\d"/.test(stream)) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    sock.write(request(init.uri('alice'), dest.uri('bob'), false, true))
    await done
    const docs = stream.split('</ClickToCall>').filter((d) => d.length > 0)
    t.equal(docs.length, 5, 'five documents, no separator after </ClickToCall>')
    for (const d of docs) t.match(d, /<\/Request>\r\n\r\n  <Response>\r\n/, 'blank line before <Response>, as the original')
    t.match(docs[4], /    <Result Code="200" Leg="Destination">Connected to destination<\/Result>\r\n  <\/Response>\r\n$/)
  })

  t.test('the client leaves mid-call: the call goes on to its end', async (t) => {
    const dest = await phone(t, 'destination.xml', ['-d', '500'])
    const init = await phone(t, 'initiator.xml', ['-d', '500'])
    const c = await XmlClient.connect(server.xmlPort)
    c.write(request(init.uri('alice'), dest.uri('bob')))
    await c.until((r) => r.length >= 1)
    c.close()
    t.equal((await init.exit).code, 0, 'the transfer completed without the client')
    t.equal((await dest.exit).code, 0)
  })

  t.test('several requests on one connection, written in one packet', async (t) => {
    const i1 = await phone(t, 'busy.xml')
    const i2 = await phone(t, 'busy.xml')
    const c = await XmlClient.connect(server.xmlPort)
    t.teardown(() => c.close())
    c.write(request(i1.uri('a'), 'sip:x@127.0.0.1:9') + '\r\n' + request(i2.uri('b'), 'sip:y@127.0.0.1:9', false, true))
    await c.finals(2, 20000)
    t.equal(c.results.filter((r) => r.code === 100).length, 2)
    t.equal(c.results.filter((r) => r.code === 486).length, 2)
  })
}
