/**
 * `--check-config` checks what start-up checks (one validateConfig()): every
 * configuration start-up refuses with 78 is refused by --check-config with
 * the same message, and the shipped example passes and dials this machine
 * only (its open rules are present, commented out, under a toll-fraud
 * warning). Spawned from the compiled output, as an operator runs it.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, parseConfig } from '../lib/config'
import { compileRules } from '../lib/translate'
import { addressProblem } from '../lib/call'

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'clicktocall')
const EXAMPLE = path.join(ROOT, 'clicktocall.conf.example')
const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-check-'))

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

const BASE = 'IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = 0\nHttpPort = 0\nLogFilename =\nTranslationPattern = ^(\\d{4})$\nTranslationOutput = sip:$1@127.0.0.1:5080\n'

const BAD: Array<[string, string, RegExp]> = [
  ['HttpAuth on, blank password, HTTP port open', 'HttpPort = 58123\nHttpAuth = enable\nHttpAuthPwd =\n', /HttpAuth is on but HttpAuthPwd is blank/],
  ['a pattern RE2 refuses', 'TranslationPattern = ^(a)\\1$\nTranslationOutput = x\n', /not accepted by RE2/],
  ['unreadable XML TLS files', 'XmlRpcPort = 58124\nXmlRpcTLSCertificate = /nonexistent/cert.pem\nXmlRpcTLSPrivateKey = /nonexistent/key.pem\n', /XmlRpcTLSCertificate: .*ENOENT/],
  ['an XML TLS certificate without its key', 'XmlRpcPort = 58125\nXmlRpcTLSCertificate = /etc/hostname\n', /go together/],
  ['a DNS server that is not an address', 'DNSServers = dns.example\n', /DNSServers/],
  ['an identity with maddr', 'ClickToCallIdentity = sip:c2c@127.0.0.1;maddr=198.51.100.7\n', /ClickToCallIdentity: maddr/],
]

for (const [what, extra, why] of BAD) {
  t.test(`refused alike by --check-config and start-up: ${what}`, async (t) => {
    const f = path.join(dir, `${what.replace(/\W+/g, '-')}.conf`)
    writeFileSync(f, BASE + extra)
    const check = await run(['--check-config', '--config', f])
    const start = await run(['--config', f])
    t.equal(check.code, 78, '--check-config: 78')
    t.match(check.stderr, why)
    t.equal(start.code, 78, 'start-up: 78')
    t.match(start.stderr, why)
    t.equal(check.stderr.replace(/^clicktocall: /, ''), start.stderr.replace(/^clicktocall: /, ''), 'the same message')
  })
}

t.test('a file with no translation rule: a warning at check and start, not an error', async (t) => {
  const f = path.join(dir, 'norules.conf')
  writeFileSync(f, 'IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = 0\nHttpPort = 0\nLogFilename =\n')
  const check = await run(['--check-config', '--config', f])
  t.equal(check.code, 0)
  t.match(check.stderr, /warning: no translation rule/)
})

t.test('XmlRpcThreadNice without an XML thread: a warning that it does nothing', async (t) => {
  const rule = 'TranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@127.0.0.1:9\n'
  const cases: Array<[string, RegExp]> = [
    ['XmlRpcThread = disable\nXmlRpcThreadNice = -5\n', /warning: XmlRpcThreadNice has no effect: there is no XML thread \(XmlRpcThread = disable\)/],
    ['XmlRpcPort = 0\nXmlRpcThreadNice = 5\n', /warning: XmlRpcThreadNice has no effect: the XML port is off/],
  ]
  for (const [i, [extra, why]] of cases.entries()) {
    const f = path.join(dir, `nice-${i}.conf`)
    writeFileSync(f, `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nHttpPort = 0\nLogFilename =\n${rule}${extra}`)
    const check = await run(['--check-config', '--config', f])
    t.equal(check.code, 0, 'not an error')
    t.match(check.stderr, why)
  }
  const f = path.join(dir, 'nice-ok.conf')
  writeFileSync(f, `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nHttpPort = 0\nLogFilename =\n${rule}XmlRpcThreadNice = 5\n`)
  const check = await run(['--check-config', '--config', f])
  t.equal(check.stderr, '', 'with the thread on: no warning')
})

t.test('the shipped example: passes, dials this machine only, open rules commented under a toll-fraud warning', async (t) => {
  const check = await run(['--check-config', '--config', EXAMPLE])
  t.equal(check.code, 0, check.stderr)
  t.equal(check.stderr, '', 'no warning')
  const { config } = loadConfig(EXAMPLE)
  const tr = compileRules(config.translationRules)
  const reached: Array<[string, string]> = [
    ['1001', 'sip:1001@127.0.0.1:5080'],
    ['sip:alice@127.0.0.1:5080', 'sip:alice@127.0.0.1:5080'],
    ['sip:bob@127.0.0.1:5081', 'sip:bob@127.0.0.1:5081'],
  ]
  for (const [a, out] of reached) t.equal(tr.translate(a)?.output, out, `${a} reaches a local phone`)
  const refused = ['+4930123456', '00900123456', '0900123456', '12345', '*72#', 'sip:x@evil.example', 'sips:x@198.51.100.7:5061', 'sip:x@127.0.0.1:5060', 'sip:x@127.0.0.1:5080;maddr=198.51.100.7', 'sip:x@127.0.0.1:5080?Route=%3Csip:evil%3E', 'sip:x@127.0.0.1.evil.example:5080', '1001\n']
  for (const a of refused) t.equal(tr.translate(a), undefined, `${JSON.stringify(a)} has no rule`)
  for (const r of config.translationRules) {
    const probe = r.output.replace(/\$\d/g, '1001')
    t.equal(addressProblem(probe), undefined, `the output of line ${r.line} is a clean URI`)
  }

  const text = readFileSync(EXAMPLE, 'utf8')
  t.match(text, /^#TranslationPattern = \^\(sips\?:\.\*\)\$$/m, 'the open URI rule is there, commented out')
  t.match(text, /^#TranslationPattern = \^\(\[0-9\*#\+\]\+\)\$$/m, 'the open number rule is there, commented out')
  const warning = text.indexOf('TOLL FRAUD')
  t.ok(warning > 0 && warning < text.indexOf('#TranslationPattern = ^(sips?:.*)$'), 'under a toll-fraud warning')
  // uncommented, the open rules would dial anywhere: the warning is about something real
  const open = parseConfig(text.replace(/^#(Translation(?:Pattern|Output) = )/gm, '$1'), 'open')
  const openTr = compileRules(open.config.translationRules)
  t.equal(openTr.translate('+4930123456')?.output, 'sip:+4930123456@gateway.example.com;user=phone', 'uncommented: international numbers go out')
})
