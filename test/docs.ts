/**
 * Every example in docs/ is exercised: config blocks parse, the worked
 * translations hold, the XML session and the curl lines run against a
 * server with phones, the status JSON has the real shape, and the settings
 * table matches the code's defaults.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import { parseConfig, SETTINGS, defaultConfig } from '../lib/config'
import { compileRules } from '../lib/translate'
import { createPhone } from '../lib/phone'
import { startTestServer } from './helpers/server'
import { XmlClient } from './helpers/xml-client'

const DOCS = path.join(__dirname, '..', 'docs')
const logger = pino({ level: 'silent' })

/** The fenced block that follows `<!-- example: NAME -->`. */
function example(file: string, name: string): string {
  const text = readFileSync(path.join(DOCS, file), 'utf8')
  const at = text.indexOf(`<!-- example: ${name} -->`)
  if (at < 0) throw new Error(`${file}: no example ${name}`)
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at))
  if (!m) throw new Error(`${file}: example ${name} has no code block`)
  return m[1]!
}

function table(file: string, name: string): string[][] {
  const text = readFileSync(path.join(DOCS, file), 'utf8')
  const at = text.indexOf(`<!-- example: ${name} -->`)
  const rows: string[][] = []
  for (const line of text.slice(at).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (rows.length) break
      continue
    }
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()))
  }
  return rows.slice(2)
}

t.test('configuration.md: examples parse; worked translations hold; every setting with its default', async (t) => {
  const auto = parseConfig(example('configuration.md', 'config auto-answer'), 'doc')
  t.same(auto.warnings, [])
  t.same(auto.config.initiatorHeaders.map((h) => h.name), ['Call-Info', 'Answer-Mode'])
  const rules = parseConfig(example('configuration.md', 'rules'), 'doc')
  t.same(rules.warnings, [])
  const tr = compileRules(rules.config.translationRules)
  const rows = table('configuration.md', 'translations')
  t.ok(rows.length >= 5)
  for (const [address, result] of rows) {
    const a = address!.replace(/`/g, '')
    const got = tr.translate(a)?.output
    if (result!.startsWith('(no rule')) t.equal(got, undefined, a)
    else t.equal(got, result!.replace(/`/g, ''), a)
  }
  const doc = readFileSync(path.join(DOCS, 'configuration.md'), 'utf8')
  const d = defaultConfig() as unknown as Record<string, unknown>
  for (const s of SETTINGS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${s.name}\` |`))
    t.ok(row, `${s.name} is documented`)
    const v = d[s.field]
    if (typeof v === 'number') t.match(row, `| \`${v}\` |`, `${s.name} default`)
    if (typeof v === 'boolean') t.match(row, `| \`${v ? 'enable' : 'disable'}\` |`, `${s.name} default`)
  }
})

t.test('migrating.md: its config example parses', async (t) => {
  const r = parseConfig(example('migrating.md', 'config migrating'), 'doc')
  t.same(r.warnings, [])
  t.equal(r.config.xmlRpcBindAddress, '192.0.2.10')
})

t.test('protocol.md: the netcat session, the curl lines and the status JSON, against a running server', async (t) => {
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', followRefer: true, logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  t.teardown(() => bob.close())
  const server = await startTestServer({
    httpPort: 5095,
    httpAuth: true,
    httpAuthPwd: 'secret',
    translationRules: [
      { pattern: '^(1001)$', output: `sip:$1@127.0.0.1:${alice.stack.port}`, file: 't', line: 1 },
      { pattern: '^(1002)$', output: `sip:$1@127.0.0.1:${bob.stack.port}`, file: 't', line: 2 },
    ],
  })
  t.teardown(() => server.close())
  const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n')
  const ports = (s: string): string => s.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
  const req = crlf(example('protocol.md', 'xml-request'))
  const expected = crlf(example('protocol.md', 'xml-results')).replace(/\r\n$/, '')
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(req)
  await c.finals(1, 15000)
  t.equal(ports(c.docs.join('')), ports(expected), 'the documented session, byte for byte (ports aside)')

  const lines = example('protocol.md', 'http').trim().split('\n')
  let callId = ''
  for (const line of lines) {
    const args = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1)
    const withPort = args.map((a) => a.replace('127.0.0.1:5095', `127.0.0.1:${server.httpPort}`))
    const out = await new Promise<string>((resolve) =>
      execFile('curl', ['-s', '-i', '--max-time', '10', ...withPort], (_e, stdout) => resolve(stdout)),
    )
    t.match(out, /HTTP\/1\.1 200 OK\r\n(?:[\s\S]*)X-Call-Id: \w+/, line)
    t.match(out, 'Initiating ClickToCall from sip:1001@127.0.0.1:')
    callId = /X-Call-Id: (\w+)/.exec(out)?.[1] ?? callId
  }

  const documented = JSON.parse(example('protocol.md', 'status')) as Record<string, unknown>
  const body = await new Promise<string>((resolve) =>
    execFile('curl', ['-s', '--max-time', '10', '--digest', '-u', 'admin:secret', `http://127.0.0.1:${server.httpPort}/calls/${callId}`], (_e, stdout) => resolve(stdout)),
  )
  const real = JSON.parse(body) as Record<string, unknown>
  t.equal(real.id, callId)
  const keys = (o: Record<string, unknown>): string[] => Object.keys(o).sort()
  t.same(keys(real), keys(documented), 'the status JSON has the documented fields')
  t.same(keys((real.results as Array<Record<string, unknown>>)[0]!), keys((documented.results as Array<Record<string, unknown>>)[0]!), 'and so do its results')
})
