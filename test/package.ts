/**
 * The package as an operator installs it: `npm pack`, then `npm install -g`
 * of the tarball into a temporary prefix, then the installed command.
 * Also: what the tarball holds, the demo, and the systemd unit's keys.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const ROOT = path.join(__dirname, '..')
// installing a package may compile native code on a machine without a prebuilt one
t.setTimeout(360000)

function sh(cmd: string, args: string[], cwd: string, timeout = 240000, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_loglevel: 'error', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

t.test('npm pack, npm install -g into a temporary prefix, then the command works', { timeout: 300000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-pack-'))
  // the package and its global install: ~90 MB a run, left in the temporary folder until now
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // --ignore-scripts: `prepack` would run `npm run build`, and tsc rewriting dist/ in place under the
  // other test files (tap runs two at once) made a daemon they spawned read a half-written file
  // ("the compiled code is missing", seen once in CI). `npm test` has built dist/ already (pretest).
  const pack = await sh('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], ROOT)
  t.equal(pack.code, 0, pack.stderr)
  const tgz = path.join(dir, pack.stdout.trim().split('\n').pop()!)
  const list = await sh('tar', ['tzf', tgz], dir)
  const files = list.stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''))
  for (const f of ['bin/clicktocall', 'dist/lib/cli/index.js', 'etc/clicktocall.service', 'clicktocall.conf.example', 'README.md', 'CHANGELOG.md', 'LICENSE', 'package.json']) {
    t.ok(files.includes(f), `packed: ${f}`)
  }
  t.same(files.filter((f) => /^(lib|test|bench|docs|types)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no sources, tests or docs in the package')
  const prefix = path.join(dir, 'prefix')
  // re2 fetches a prebuilt binary from GitHub or else compiles for minutes: hand
  // it the one this checkout already built, through its own mirror setting
  const mirror = path.join(dir, 're2-mirror')
  mkdirSync(mirror)
  copyFileSync(path.join(ROOT, 'node_modules', 're2', 'build', 'Release', 're2.node'), path.join(mirror, `${process.platform}-${process.arch}-${process.versions.modules}`))
  // better-sqlite3 (prebuild-install) likewise: a local prebuild of the binary this checkout built
  const sqliteVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string }).version
  const prebuilds = path.join(dir, 'sqlite-prebuilds')
  mkdirSync(prebuilds)
  const sqliteTgz = path.join(prebuilds, `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`)
  t.equal((await sh('tar', ['-C', path.join(ROOT, 'node_modules', 'better-sqlite3'), '-czf', sqliteTgz, 'build/Release/better_sqlite3.node'], dir)).code, 0)
  const re2Env = {
    RE2_DOWNLOAD_MIRROR: mirror,
    RE2_DOWNLOAD_SKIP_PATH: '1',
    RE2_DOWNLOAD_SKIP_VER: '1',
    npm_config_better_sqlite3_local_prebuilds: prebuilds,
  }
  const started = Date.now()
  const inst = await sh('npm', ['install', '-g', '--prefix', prefix, tgz, '--prefer-offline', '--no-audit', '--no-fund'], dir, 240000, re2Env)
  t.comment(`npm install -g took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  t.equal(inst.code, 0, inst.stderr.slice(-2000))
  const bin = path.join(prefix, 'bin', 'clicktocall')
  const v = await sh(bin, ['--version'], dir)
  t.match(v.stdout, /^clicktocall \d+\.\d+\.\d+/)
  const c = await sh(bin, ['--check-config', '--config', path.join(ROOT, 'clicktocall.conf.example')], dir)
  t.equal(c.code, 0)
  t.match(c.stdout, /OK/)
  // the native SQLite binding loads in the installed package: a missing database is a clean 66
  const cdr = await sh(bin, ['cdr', '--database', path.join(dir, 'none.sqlite')], dir)
  t.equal(cdr.code, 66, cdr.stderr)
  t.match(cdr.stderr, /cannot read the CDR database/)
  const h = await sh(bin, ['--help'], dir)
  t.match(h.stdout, /demo/)
})

t.test('the demo places an unanchored and an anchored call and exits 0', { timeout: 60000 }, async (t) => {
  const r = await sh(process.execPath, [path.join(ROOT, 'bin', 'clicktocall'), 'demo'], ROOT, 60000)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /summary: unanchored 100, 180 Initiator, 200 Initiator, 180 Destination, 200 Destination; anchored 100, 180 Initiator, 200 Initiator, 180 Destination, 200 Destination/)
  t.match(r.stdout, /alice +INVITE from "Click-To-Call: bob" \(held offer\) -> answered -> REFER to sip:bob@/)
  t.match(r.stdout, /bob +INVITE from "Click-To-Call: alice" \(no SDP\) -> answered/)
})

t.test('the systemd unit: unprivileged, /etc/clicktocall, restart on failure, SIGTERM', async (t) => {
  const unit = readFileSync(path.join(ROOT, 'etc', 'clicktocall.service'), 'utf8')
  const keys = new Map<string, string>()
  let section = ''
  for (const line of unit.split('\n')) {
    const l = line.trim()
    if (!l || l.startsWith('#')) continue
    const sec = /^\[(\w+)\]$/.exec(l)
    if (sec) {
      section = sec[1]!
      continue
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(l)
    t.ok(kv, `a Key=Value line: ${l}`)
    if (kv) keys.set(`${section}.${kv[1]}`, kv[2]!)
  }
  t.same([...new Set([...keys.keys()].map((k) => k.split('.')[0]))], ['Unit', 'Service', 'Install'])
  t.equal(keys.get('Service.User'), 'clicktocall')
  t.match(keys.get('Service.ExecStart'), /clicktocall --config \/etc\/clicktocall\/clicktocall\.config/)
  t.equal(keys.get('Service.Restart'), 'on-failure')
  t.equal(keys.get('Service.KillSignal'), 'SIGTERM')
  t.equal(keys.get('Service.NoNewPrivileges'), 'true')
  t.equal(keys.get('Install.WantedBy'), 'multi-user.target')
})
