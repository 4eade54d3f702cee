/**
 * The daemon's signals, on a spawned server: SIGTERM with a call in progress
 * (final result to the client, CANCEL to the phone, exit 0, logs flushed);
 * SIGHUP reloads translation rules without dropping calls.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { createPhone, type Phone } from '../lib/phone'
import { XmlClient, request } from './helpers/xml-client'

const BIN = path.join(__dirname, '..', 'bin', 'clicktocall')
const logger = pino({ level: 'silent' })

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

interface Daemon {
  child: ChildProcess
  out: () => string
  exit: Promise<number | null>
}

async function daemon(t: Test, conf: string): Promise<Daemon> {
  const child = spawn(process.execPath, [BIN, '--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  for (let i = 0; i < 150 && !/"msg":"ready"/.test(out); i++) await new Promise((r) => setTimeout(r, 100))
  if (!/"msg":"ready"/.test(out)) throw new Error(`server did not start: ${out}`)
  return { child, out: () => out, exit }
}

function config(xmlPort: number, target: Phone, extra = ''): string {
  return `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = ${xmlPort}\nHttpPort = 0\nJsonRpcPort = 0\nLogFilename =\nInitiatorRingTimeout = 4\n${extra}TranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@127.0.0.1:${target.stack.port}\n`
}

/** a daemon whose rules send every number to a phone that rings for ever, and one request ringing there */
async function daemonWithCallRinging(t: Test): Promise<{ ringing: Phone; conf: string; xmlPort: number; d: Daemon; c: XmlClient }> {
  const ringing = await createPhone({ name: 'r', behaviour: 'no-answer', logger })
  t.teardown(() => ringing.close())
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-sig-'))
  const xmlPort = await freePort()
  const conf = path.join(dir, 'c.conf')
  writeFileSync(conf, config(xmlPort, ringing))
  const d = await daemon(t, conf)
  const c = await XmlClient.connect(xmlPort)
  t.teardown(() => c.close())
  c.write(request('1001', '2002'))
  await c.until((r) => r.some((x) => x.code === 180))
  return { ringing, conf, xmlPort, d, c }
}

t.test('SIGTERM with a call ringing: final 503 to the client, CANCEL to the phone, exit 0', async (t) => {
  const { ringing, d, c } = await daemonWithCallRinging(t)
  const started = Date.now()
  d.child.kill('SIGTERM')
  await c.finals(1, 10000)
  t.same(c.summary().at(-1), '503 Initiator Failed to connect to initiator')
  t.equal(await d.exit, 0, 'exit 0')
  t.ok(Date.now() - started < 8000, 'bounded shutdown')
  await ringing.waitFor('cancelled', 5000)
  t.match(d.out(), /"msg":"stopped"/, 'last log line flushed')
})

t.test('SIGHUP: new translation rules apply to new requests; the call in progress goes on', async (t) => {
  const busy = await createPhone({ name: 'b', behaviour: 'busy', logger })
  t.teardown(() => busy.close())
  const { conf, xmlPort, d, c } = await daemonWithCallRinging(t)
  writeFileSync(conf, config(xmlPort, busy))
  d.child.kill('SIGHUP')
  for (let i = 0; i < 50 && !/configuration reloaded/.test(d.out()); i++) await new Promise((r) => setTimeout(r, 100))
  t.match(d.out(), /configuration reloaded/)
  const c2 = await XmlClient.connect(xmlPort)
  t.teardown(() => c2.close())
  c2.write(request('1001', '2002'))
  await c2.finals(1, 10000)
  t.equal(c2.summary().at(-1), '486 Initiator Failed to connect to initiator', 'the new rule sent it to the busy phone')
  await c.finals(1, 15000)
  t.equal(c.summary().at(-1), '408 Initiator Failed to connect to initiator', 'the first call ran to its own end')
  // a broken file on SIGHUP keeps the old rules
  writeFileSync(conf, 'TranslationPattern = ^(a)\\1$\nTranslationOutput = x\n')
  d.child.kill('SIGHUP')
  for (let i = 0; i < 50 && !/configuration not reloaded/.test(d.out()); i++) await new Promise((r) => setTimeout(r, 100))
  t.match(d.out(), /configuration not reloaded/)
  d.child.kill('SIGTERM')
  t.equal(await d.exit, 0)
})
