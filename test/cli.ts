/** The clicktocall command, as an operator runs it (spawned, from the compiled output). */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const BIN = path.join(__dirname, '..', 'bin', 'clicktocall')
const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-cli-'))

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

function conf(name: string, text: string): string {
  const f = path.join(dir, name)
  writeFileSync(f, text)
  return f
}

const good = conf('good.conf', 'IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = 0\nHttpPort = 0\nLogFilename =\nTranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@gw.example.com;user=phone\nJsonRpcPort = 0\n')

t.test('--version and --help', async (t) => {
  const v = await run(['--version'])
  t.equal(v.code, 0)
  t.match(v.stdout, /^clicktocall \d+\.\d+\.\d+/)
  const h = await run(['--help'])
  t.equal(h.code, 0)
  t.match(h.stdout, /--check-config/)
})

t.test('--check-config: 0 for a good file; 78 with file:line for a bad one; 66 for a missing one', async (t) => {
  const ok = await run(['--check-config', '--config', good])
  t.equal(ok.code, 0)
  t.match(ok.stdout, /OK \(1 translation rules\)/)
  const bad = conf('bad.conf', '# x\nUDPTCPPort = 99999\n')
  const b = await run(['--check-config', '-c', bad])
  t.equal(b.code, 78)
  t.match(b.stderr, `${bad}:2: UDPTCPPort: port 99999 is out of range`)
  const re2 = conf('re2.conf', 'TranslationPattern = ^(a)\\1$\nTranslationOutput = x\n')
  const r = await run(['--check-config', '-c', re2])
  t.equal(r.code, 78)
  t.match(r.stderr, `${re2}:1: TranslationPattern`)
  const m = await run(['--check-config', '-c', path.join(dir, 'nope.conf')])
  t.equal(m.code, 66)
  const none = await run(['--check-config'])
  t.equal(none.code, 66, 'no ./clicktocall.config in the working directory')
})

t.test('translate ADDRESS shows the rule and the result', async (t) => {
  const r = await run(['translate', '9055551234', '--config', good])
  t.equal(r.code, 0)
  t.match(r.stdout, '9055551234 -> sip:9055551234@gw.example.com;user=phone')
  t.match(r.stdout, `rule ${good}:6`)
  const n = await run(['translate', 'alice', '--config', good])
  t.not(n.code, 0)
  t.match(n.stdout, /no translation rule matches/)
})

t.test('usage errors exit 64', async (t) => {
  t.equal((await run(['frobnicate'])).code, 64)
  t.equal((await run(['--config'])).code, 64)
})

t.test('the server starts, logs ready, and stops on SIGTERM with exit 0', async (t) => {
  const child = spawn(process.execPath, [BIN, '--config', good], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line: ${out}`)), 15000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (/"msg":"ready"/.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  child.kill('SIGTERM')
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  t.equal(code, 0)
  t.match(out, /"msg":"stopped"/)
})

t.test('a taken port is a clear start-up error (exit 69)', async (t) => {
  const net = await import('node:net')
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => srv.close())
  const port = (srv.address() as { port: number }).port
  const taken = conf('taken.conf', `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = ${port}\nHttpPort = 0\nJsonRpcPort = 0\nLogFilename =\n`)
  const r = await run(['-c', taken])
  t.equal(r.code, 69)
  t.match(r.stderr, /cannot listen for XML requests on 127\.0\.0\.1:\d+/)
})

t.test('HttpAuth on without a password refuses to start; HttpAuth off beyond loopback warns loudly', async (t) => {
  const nopw = conf('nopw.conf', 'IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = 0\nHttpPort = 0\nHttpAuth = enable\nHttpAuthPwd =\nLogFilename =\n')
  // HttpPort 0: the HTTP interface is off, so no password is needed
  t.equal((await run(['--check-config', '-c', nopw])).code, 0)
  const nopw2 = conf('nopw2.conf', 'IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = 0\nHttpPort = 58095\nJsonRpcPort = 0\nHttpAuth = enable\nHttpAuthPwd =\nLogFilename =\n')
  const r = await run(['-c', nopw2])
  t.equal(r.code, 78)
  t.match(r.stderr, /HttpAuth is on but HttpAuthPwd is blank/)
  // the warning itself: tested on the rule (binding beyond loopback is not done in tests)
  const { exposureWarning } = await import('../lib/http/server')
  t.match(exposureWarning('', false), /WITHOUT authentication/)
  t.match(exposureWarning('0.0.0.0', false), /WITHOUT authentication/)
  t.equal(exposureWarning('127.0.0.1', false), undefined)
  t.equal(exposureWarning('', true), undefined)
})
