/**
 * The CDR of the daemon as an operator runs it (spawned, its config's
 * relative CdrDatabase under its working directory): a call that SIGTERM
 * ends is recorded before the process exits, and `clicktocall cdr` run from
 * the same directory with the same config prints it.
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { createPhone } from '../lib/phone'
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

t.test('SIGTERM with a call ringing: its record is in data/cdr.sqlite when the process has exited', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctc-cdrd-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const ringing = await createPhone({ name: 'r', behaviour: 'no-answer', logger })
  t.teardown(() => ringing.close())
  const xmlPort = await freePort()
  const conf = path.join(dir, 'c.conf')
  fs.writeFileSync(
    conf,
    `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = ${xmlPort}\nHttpPort = 0\nLogFilename =\nCdrDatabase = data/cdr.sqlite\n` +
      `TranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@127.0.0.1:${ringing.stack.port}\n`,
  )
  const child = spawn(process.execPath, [BIN, '--config', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  for (let i = 0; i < 150 && !/"msg":"ready"/.test(out); i++) await new Promise((r) => setTimeout(r, 100))
  // the writer thread opens the file just after start
  for (let i = 0; i < 100 && !/"msg":"CDR database open"/.test(out); i++) await new Promise((r) => setTimeout(r, 50))
  t.match(out, /"msg":"CDR database open"/)
  const c = await XmlClient.connect(xmlPort)
  t.teardown(() => c.close())
  c.write(request('1001', '2002'))
  await c.until((r) => r.some((x) => x.code === 180))
  child.kill('SIGTERM')
  await c.finals(1, 10_000)
  t.equal(await exit, 0, 'exit 0')
  t.ok(fs.existsSync(path.join(dir, 'data', 'cdr.sqlite')), 'the file is under the working directory')

  const cdr = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [BIN, 'cdr', '--config', conf, '--format', 'json'], { cwd: dir, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  )
  t.equal(cdr.code, 0, cdr.stderr)
  const rows = JSON.parse(cdr.stdout) as Array<Record<string, unknown>>
  t.equal(rows.length, 1)
  t.match(rows[0], {
    frontEnd: 'xml',
    clientAddress: '127.0.0.1',
    initiator: '1001',
    destination: '2002',
    translatedInitiator: `sip:1001@127.0.0.1:${ringing.stack.port}`,
    // a call ended by shutdown before it was up is `cancelled` (lib/call/api.ts), its result the 503
    outcome: 'cancelled',
    endedBy: 'server',
    initiatorAnsweredAt: null,
    resultCode: 503,
    resultLeg: 'Initiator',
  })
  t.match(rows[0]!.initiatorSipCallId, /\S+/)
})
