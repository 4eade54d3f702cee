/**
 * SIGHUP on a spawned daemon, one test per class of setting:
 * - applied: rules, AllowUriHeaders, XmlRpcAllow (open connections from a
 *   revoked address are closed), HTTP password (when the HTTP front-end can
 *   take it; otherwise it must be named as needing a restart);
 * - restart-warned: ports and bind addresses are named in a warning and the
 *   running listeners keep serving;
 * - refused: a file with no rule, HttpAuth without a password, a broken line:
 *   "configuration not reloaded", the running configuration stays in force.
 */
import t, { type Test } from 'tap'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import tls from 'node:tls'
import path from 'node:path'
import { startDaemon, freePort, type Daemon } from './helpers/daemon'
import { XmlClient, request } from './helpers/xml-client'
import { startTestServer } from './helpers/server'

interface Conf {
  xmlPort: number
  httpPort?: number
  host?: string
  allow?: string
  pwd?: string
  uriHeaders?: boolean
  rules?: string
  extra?: string
}

function rules(host: string): string {
  return `TranslationPattern = ^(sip:.*)$\nTranslationOutput = $1\nTranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@${host}:9\n`
}

function text(c: Conf): string {
  return (
    `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nLogFilename =\nXmlRpcPort = ${c.xmlPort}\nHttpPort = ${c.httpPort ?? 0}\n` +
    `HttpAuth = enable\nHttpAuthPwd = ${c.pwd ?? 'old-secret'}\nXmlRpcAllow = ${c.allow ?? '127.0.0.0/8'}\n` +
    `AllowUriHeaders = ${c.uriHeaders ? 'enable' : 'disable'}\nInitiatorRingTimeout = 2\n${c.extra ?? ''}` +
    (c.rules ?? rules('127.0.0.1'))
  )
}

async function setup(t: Test, c: Conf): Promise<{ d: Daemon; write: (c: Conf) => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-reload-'))
  const file = path.join(dir, 'c.conf')
  const write = (x: Conf): void => writeFileSync(file, text(x))
  write(c)
  const d = await startDaemon((fn) => t.teardown(fn), file)
  t.teardown(() => d.stop())
  return { d, write }
}

/** the first result document for one request on a new connection */
async function firstResult(port: number, initiator: string, destination: string): Promise<string> {
  const c = await XmlClient.connect(port)
  try {
    c.write(request(initiator, destination))
    await c.until((r) => r.length >= 1, 5000)
    return c.docs[0]!
  } finally {
    c.close()
  }
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('curl', ['-s', '-i', '--max-time', '5', ...args], { encoding: 'utf8' }, (_e, stdout) => resolve(stdout)))
}

function status(out: string): number {
  return Number(/^HTTP\/1\.1 (\d+)/m.exec(out.split(/\r\n\r\n(?=HTTP\/)/).at(-1) ?? '')?.[1] ?? 0)
}

t.test('applied at once: rules, AllowUriHeaders, HTTP password, XmlRpcAllow', async (t) => {
  const xmlPort = await freePort()
  const httpPort = await freePort()
  const base: Conf = { xmlPort, httpPort }
  const { d, write } = await setup(t, base)
  const url = `http://127.0.0.1:${httpPort}/clicktocall.html?initiator=1001&destination=1002`

  t.match(await firstResult(xmlPort, '1001', '2002'), '<TranslatedDestination>sip:2002@127.0.0.1:9<', 'the first rules')
  t.match(await firstResult(xmlPort, '1001', 'sip:2002@127.0.0.1:9?X-Evil=1'), /<Result Code="400">Invalid URI format in initiator .*URI headers/, 'URI headers refused')
  t.equal(status(await curl(['-u', 'admin:old-secret', url])), 200, 'the old password works')

  write({ ...base, rules: rules('127.0.0.2'), uriHeaders: true, pwd: 'new-secret' })
  const log = await d.reload()
  t.match(log, /"msg":"configuration reloaded"/)
  t.match(log, /"applied":\[[^\]]*"TranslationPattern\/TranslationOutput"/, 'the rules are listed as applied')
  t.match(log, /"applied":\[[^\]]*"AllowUriHeaders"/)
  t.notMatch(log, /new-secret/, 'the password is not logged')
  t.match(await firstResult(xmlPort, '1001', '2002'), '<TranslatedDestination>sip:2002@127.0.0.2:9<', 'the new rules apply to new requests')
  t.match(await firstResult(xmlPort, '1001', 'sip:2002@127.0.0.1:9?X-Evil=1'), '<Result Code="100">', 'URI headers now allowed')

  // the HTTP front-end takes a new password when it has reconfigure(); until then it must say "restart"
  const probe = await startTestServer({ httpAuth: true, httpAuthPwd: 'x' })
  const httpLive = typeof (probe.server.http as { reconfigure?: unknown } | undefined)?.reconfigure === 'function'
  await probe.close()
  if (httpLive) {
    t.equal(status(await curl(['-u', 'admin:new-secret', url])), 200, 'the new password works')
    t.equal(status(await curl(['-u', 'admin:old-secret', url])), 401, 'the old password is refused')
  } else {
    t.match(log, /"msg":"HttpAuthPwd changed: restart to apply"/, 'no HTTP reconfigure(): the password change is named as needing a restart')
    t.equal(status(await curl(['-u', 'admin:old-secret', url])), 200, 'and the running password stays')
  }

  // access revocation: the open connection is closed, a new one is refused
  const idle = await XmlClient.connect(xmlPort)
  t.teardown(() => idle.close())
  write({ ...base, rules: rules('127.0.0.2'), uriHeaders: true, pwd: 'new-secret', allow: '10.0.0.0/8' })
  const log2 = await d.reload()
  t.match(log2, /"applied":\["XmlRpcAllow"\]/, 'only XmlRpcAllow changed')
  await new Promise<void>((resolve) => (idle.closed ? resolve() : idle.socket.once('close', () => resolve())))
  t.ok(idle.closed, 'the connection from the revoked address is closed')
  const c = await XmlClient.connect(xmlPort)
  t.teardown(() => c.close())
  c.write(request('1001', '2002'))
  await new Promise<void>((resolve) => (c.closed ? resolve() : c.socket.once('close', () => resolve())))
  t.equal(c.docs.length, 0, 'a new connection from it is refused')
})

t.test('restart-warned: ports and bind addresses are named; the running listeners go on', async (t) => {
  const xmlPort = await freePort()
  const httpPort = await freePort()
  const base: Conf = { xmlPort, httpPort }
  const { d, write } = await setup(t, base)
  const otherXml = await freePort()
  const otherHttp = await freePort()
  write({ ...base, xmlPort: otherXml, httpPort: otherHttp, extra: 'HttpBindAddress = ::1\nUDPTCPPort = 5999\n', rules: rules('127.0.0.2') })
  const log = await d.reload()
  for (const name of ['XmlRpcPort', 'HttpPort', 'HttpBindAddress', 'UDPTCPPort']) {
    t.match(log, new RegExp(`"msg":"${name} changed: restart to apply"`), `${name} is named`)
  }
  t.match(log, /"restartNeeded":\[/)
  t.match(await firstResult(xmlPort, '1001', '2002'), '<TranslatedDestination>sip:2002@127.0.0.2:9<', 'the old XML port serves, with the new rules')
  t.match(await curl([`http://127.0.0.1:${httpPort}/index.html`]), /^HTTP\/1\.1 200/, 'the old HTTP port serves')
  const again = await d.reload()
  t.match(again, /"msg":"XmlRpcPort changed: restart to apply"/, 'a second reload still says so (the running port is what counts)')
  t.notMatch(again, /"applied":\[[^\]]*TranslationPattern/, 'and has nothing new to apply')
})

t.test('refused: no rule, HttpAuth without a password, a broken line; the running configuration stays', async (t) => {
  const xmlPort = await freePort()
  const base: Conf = { xmlPort, httpPort: await freePort() }
  const { d, write } = await setup(t, base)
  const bad: Array<[string, Conf, RegExp]> = [
    ['no translation rule', { ...base, rules: '' }, /no translation rule/],
    ['HttpAuth with a blank password', { ...base, pwd: '', rules: rules('127.0.0.2') }, /HttpAuthPwd is blank/],
    ['a broken line', { ...base, extra: 'XmlRpcRateLimit = many\n', rules: rules('127.0.0.2') }, /XmlRpcRateLimit/],
  ]
  for (const [what, conf, reason] of bad) {
    write(conf)
    const log = await d.reload()
    t.match(log, /"msg":"configuration not reloaded: the running configuration stays in force"/, what)
    t.match(log, reason, `${what}: the reason is logged`)
    t.match(await firstResult(xmlPort, '1001', '2002'), '<TranslatedDestination>sip:2002@127.0.0.1:9<', `${what}: the old rules still apply`)
  }
  t.equal(d.child.exitCode, null, 'the daemon is still running')
})

t.test('XML TLS: new certificate files are swapped in by a reload; turning TLS off needs a restart', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-reload-tls-'))
  const pair = (cn: string): { cert: string; key: string } => {
    const key = path.join(dir, `${cn}.key`)
    const cert = path.join(dir, `${cn}.pem`)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`], { stdio: 'ignore' })
    return { cert, key }
  }
  const first = pair('first.example')
  const second = pair('second.example')
  const server = await startTestServer({ xmlRpcTlsCertificate: first.cert, xmlRpcTlsPrivateKey: first.key })
  t.teardown(() => server.close())
  const peerCn = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ port: server.xmlPort, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        const cn = s.getPeerCertificate().subject?.CN
        s.destroy()
        resolve(String(cn))
      })
      s.on('error', reject)
    })
  t.equal(await peerCn(), 'first.example')
  const plan = server.server.reload({ ...server.config, xmlRpcTlsCertificate: second.cert, xmlRpcTlsPrivateKey: second.key })
  t.same(plan.applied.sort(), ['XmlRpcTLSCertificate', 'XmlRpcTLSPrivateKey'])
  t.equal(await peerCn(), 'second.example', 'a new connection gets the new certificate')
  const off = server.server.reload({ ...server.config, xmlRpcTlsCertificate: '', xmlRpcTlsPrivateKey: '' })
  t.same(off.restart.sort(), ['XmlRpcTLSCertificate', 'XmlRpcTLSPrivateKey'], 'TLS off is named as needing a restart')
  t.equal(await peerCn(), 'second.example', 'and the port keeps speaking TLS')
  t.throws(() => server.server.reload({ ...server.config, xmlRpcTlsCertificate: path.join(dir, 'missing.pem'), xmlRpcTlsPrivateKey: second.key }), { code: 'CTC_ERR_CONFIG' }, 'unreadable files: refused')
  t.equal(await peerCn(), 'second.example', 'and nothing changed')
})

t.test('planReload: live vs restart-only, as docs/configuration.md lists them', async (t) => {
  const { planReload, restartFields } = await import('../lib/server')
  const { defaultConfig, SETTINGS } = await import('../lib/config')
  const doc = readFileSync(path.join(__dirname, '..', 'docs', 'configuration.md'), 'utf8')
  const para = /Settings that need a restart are named[\s\S]*?and turning TLS/.exec(doc)?.[0] ?? ''
  const documented = [...para.matchAll(/`(\w+)`/g)].map((m) => m[1]!).sort()
  const base = defaultConfig()
  const nameOf = (f: string): string => SETTINGS.find((s) => s.field === f)!.name
  t.same(documented, restartFields(Object.keys(base) as Array<keyof typeof base>).map(nameOf).sort(), 'the documented list is the code\'s (a new setting is restart-only: list it in docs/configuration.md "Reloading", or make it live in lib/server/reload.ts)')
  const next = { ...base, httpPort: 1, xmlRpcRateLimit: 7, httpAuthPwd: 'n', maxCalls: 3 }
  const withHttp = planReload(base, next, { httpLive: true })
  t.same(withHttp.restart, ['HttpPort'])
  t.same(withHttp.applied.sort(), ['HttpAuthPwd', 'MaxCalls', 'XmlRpcRateLimit'])
  t.equal(withHttp.effective.httpPort, base.httpPort, 'the running port stays in force')
  t.equal(withHttp.effective.xmlRpcRateLimit, 7)
  const noHttp = planReload(base, next, { httpLive: false })
  t.same(noHttp.restart.sort(), ['HttpAuthPwd', 'HttpPort'], 'without HTTP reconfigure() the password needs a restart')
  t.equal(noHttp.effective.httpAuthPwd, base.httpAuthPwd)
})
