/**
 * `clicktocall demo`: the server on free loopback ports with two simulated
 * phones in the same process (alice answers and performs the REFER herself;
 * bob answers), one unanchored and one anchored call through the XML
 * interface, the result documents as they arrive, a line per SIP leg.
 * Real SIP over real sockets; nothing to install, no config file.
 */
import net from 'node:net'
import pino from 'pino'
import { defaultConfig, type Config } from '../config'
import { startServer } from '../server'
import { createPhone, type Phone, type PhoneEvent } from '../phone'

type Out = (line: string) => void

function requestText(initiator: string, destination: string, anchor: boolean): string {
  return (
    `<ClickToCall>\r\n  <Request>\r\n    <Initiator>${initiator}</Initiator>\r\n` +
    `    <Destination>${destination}</Destination>\r\n    <AnchorCall>${anchor}</AnchorCall>\r\n  </Request>\r\n</ClickToCall>\r\n`
  )
}

/** Send one request, print each document, resolve on the final result. */
function placeCall(port: number, text: string, out: Out, timeoutMs = 20000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const codes: string[] = []
    let buf = ''
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text))
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`no final result within ${timeoutMs} ms`))
    }, timeoutMs)
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      buf += d
      for (let end = buf.indexOf('</ClickToCall>'); end >= 0; end = buf.indexOf('</ClickToCall>')) {
        const doc = buf.slice(0, end + '</ClickToCall>'.length)
        buf = buf.slice(end + '</ClickToCall>'.length)
        out(doc)
        out('')
        const m = /<Result Code="(\d+)"(?: Leg="(\w+)")?>/.exec(doc)
        if (!m) continue
        const code = Number(m[1])
        codes.push(`${code}${m[2] ? ` ${m[2]}` : ''}`)
        if (code >= 300 || (m[2] === 'Destination' && code >= 200)) {
          clearTimeout(timer)
          sock.end()
          resolve(codes)
        }
      }
    })
    sock.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

function legSummary(phone: Phone): string {
  const parts = phone.events.map((e: PhoneEvent) => {
    switch (e.type) {
      case 'invite':
        return `INVITE from "${e.detail}" (${e.sdp ? (/a=inactive/.test(e.sdp) ? 'held offer' : 'offer') : 'no SDP'})`
      case 'reinvite':
        return `re-INVITE (${e.sdp && /m=audio (\d+)/.exec(e.sdp) ? `media to port ${/m=audio (\d+)/.exec(e.sdp)![1]}` : 'no SDP'})`
      case 'transfer-result':
        return `transfer ${e.status}`
      case 'refer':
        return `REFER to ${e.detail}`
      default:
        return e.type
    }
  })
  return `  ${phone.name.padEnd(6)} ${parts.join(' -> ') || 'nothing'}`
}

export async function runDemo(out: Out = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const logger = pino({ level: 'silent' })
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', followRefer: true, answerAfterMs: 300, logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', answerAfterMs: 300, logger })
  const config: Config = {
    ...defaultConfig(),
    ipAddress: '127.0.0.1',
    udpTcpPort: 0,
    clickToCallIdentity: 'sip:click2call@127.0.0.1',
    logFilename: '',
    cdrDatabase: '', // the demo leaves no files behind
    httpPort: 0,
    translationRules: [
      { pattern: '^alice$', output: alice.uri, file: 'demo', line: 1 },
      { pattern: '^bob$', output: bob.uri, file: 'demo', line: 2 },
    ],
  }
  const server = await startServer(config, logger, { ephemeralPorts: true, advertisedHost: '127.0.0.1' })
  const xmlPort = server.xml!.port
  let ok = true
  try {
    out(`clicktocall demo: server on 127.0.0.1 (SIP ${server.sip.port}, XML ${xmlPort}); phones alice ${alice.uri}, bob ${bob.uri}`)
    out('')
    out('1) unanchored: alice is called, then REFERred to bob')
    out('')
    const first = await placeCall(xmlPort, requestText('alice', 'bob', false), out)
    ok &&= first.at(-1) === '200 Destination'
    await new Promise((r) => setTimeout(r, 300))
    out('SIP legs:')
    out(legSummary(alice))
    out(legSummary(bob))
    await alice.hangUp()
    await bob.hangUp()
    alice.events.length = 0
    bob.events.length = 0
    out('')
    out('2) anchored: alice is called, then bob; the server bridges them (media flows phone to phone)')
    out('')
    const second = await placeCall(xmlPort, requestText('alice', 'bob', true), out)
    ok &&= second.at(-1) === '200 Destination'
    await new Promise((r) => setTimeout(r, 300))
    out('SIP legs:')
    out(legSummary(alice))
    out(legSummary(bob))
    await alice.hangUp()
    await new Promise((r) => setTimeout(r, 300))
    out('')
    out(`summary: unanchored ${first.join(', ')}; anchored ${second.join(', ')}`)
  } catch (err) {
    ok = false
    out(`demo failed: ${(err as Error).message}`)
  } finally {
    await server.close(2000)
    await alice.close()
    await bob.close()
  }
  return ok ? 0 : 1
}
