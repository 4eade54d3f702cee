/**
 * The XML port on its own thread (XmlRpcThread, issue 16): the 100 does not
 * wait for the main thread, the documents are the bytes the main-thread
 * front-end writes, refusals and limits hold, settings reach the thread.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { Writable } from 'node:stream'
import { startTestServer, type TestServer } from './helpers/server'
import { XmlClient, request } from './helpers/xml-client'
import { freePort } from './helpers/daemon'
import { createPhone, type Phone } from '../lib/phone'
import { defaultConfig, type Config } from '../lib/config'
import { startServer, type RunningServer } from '../lib/server'

const logger = pino({ level: 'silent' })

async function server(t: Test, settings: Partial<Config> = {}, maxCalls?: number): Promise<TestServer> {
  const s = await startTestServer(settings, { referByeGraceMs: 200, ...(maxCalls !== undefined ? { maxCalls } : {}) })
  t.teardown(() => s.close())
  return s
}

async function phone(t: Test, name: string): Promise<Phone> {
  const p = await createPhone({ name, behaviour: 'answer', logger, answerAfterMs: 20 })
  t.teardown(() => p.close())
  return p
}

async function client(t: Test, port: number): Promise<XmlClient> {
  const c = await XmlClient.connect(port)
  t.teardown(() => c.close())
  return c
}

/** a server logging at INFO into `lines` (one JSON line each), for tests that read what the thread logged */
async function serverWithLog(t: Test, settings: Partial<Config>): Promise<{ running: RunningServer; config: Config; lines: string[] }> {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  const config: Config = { ...defaultConfig(), ipAddress: '127.0.0.1', udpTcpPort: 0, cdrDatabase: '', logFilename: '', ...settings }
  const running = await startServer(config, pino({ level: 'info' }, sink), { ephemeralPorts: true, advertisedHost: '127.0.0.1' })
  t.teardown(() => running.close(2000))
  return { running, config, lines }
}

t.test('the 100 comes while the main thread is busy', async (t) => {
  const s = await server(t)
  t.equal(s.config.xmlRpcThread, true, 'on by default')
  // the client is another process: it writes its request on "go" and prints when the 100 came
  const script = `
    const net = require('node:net')
    const so = net.connect(${s.xmlPort}, '127.0.0.1', () => process.stdout.write('connected\\n'))
    so.setEncoding('utf8')
    let buf = ''
    so.on('data', (d) => {
      buf += d
      if (buf.includes('Code="100"')) { process.stdout.write('t100 ' + Date.now() + '\\n'); so.destroy() }
    })
    process.stdin.once('data', () => so.write(${JSON.stringify(request('sip:a@127.0.0.1:9', '2000', false))}))
    setTimeout(() => process.exit(3), 10000)
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => child.kill())
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => (out += d))
  const deadline = Date.now() + 10_000
  while (!out.includes('connected') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  t.match(out, /connected/, 'the client is connected')
  child.stdin.write('go\n')
  // the main thread now does nothing but spin: no timer, no socket, no SIP
  const blockedFrom = Date.now()
  while (Date.now() - blockedFrom < 1500) {
    // busy
  }
  const blockedTo = Date.now()
  while (!out.includes('t100') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  const t100 = Number(/t100 (\d+)/.exec(out)?.[1])
  t.ok(t100 >= blockedFrom && t100 < blockedTo, `the 100 was read ${t100 - blockedFrom} ms into the main thread's 1500 ms of work`)
})

/** the documents of one request, with the thread or without */
async function documents(t: Test, thread: boolean, text: (a: Phone, b: Phone) => string, finals = 1): Promise<string[]> {
  const s = await server(t, { xmlRpcThread: thread })
  const alice = await phone(t, 'alice')
  const bob = await phone(t, 'bob')
  const c = await client(t, s.xmlPort)
  c.write(text(alice, bob))
  await c.finals(finals, 10_000)
  return c.docs.map((d) => d.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT'))
}

t.test('the same bytes with and without the thread', async (t) => {
  const cases: Array<[string, (a: Phone, b: Phone) => string, number]> = [
    ['an anchored call', (a, b) => request(a.uri, b.uri, true, true), 1],
    ['a REFER call', (a, b) => request(a.uri, b.uri, false), 1],
    ['no translation rule', () => request('alice', 'bob', true), 1],
    ['an invalid translated URI', () => request('sip:a b@127.0.0.1', '2000', true), 1],
    ['two requests in one write, one refused', (a, b) => request(a.uri, b.uri, true) + request('x', 'y'), 2],
  ]
  for (const [name, text, finals] of cases) {
    const on = await documents(t, true, text, finals)
    const off = await documents(t, false, text, finals)
    t.same(on, off, `${name}: ${on.length} documents, the same bytes`)
    t.ok(on.length >= 1, `${name}: documents came`)
  }
  const anchored = await documents(t, true, (a, b) => request(a.uri, b.uri, true), 1)
  t.same(
    anchored.map((d) => /<Result Code="(\d+)"(?: Leg="(\w+)")?>/.exec(d)?.slice(1, 3).join(' ').trim()),
    ['100', '180 Initiator', '200 Initiator', '180 Destination', '200 Destination'],
    'the whole sequence of an anchored call',
  )
  t.match(anchored[0], /<TranslatedInitiator>sip:alice@127\.0\.0\.1:PORT<\/TranslatedInitiator>/, 'the 100 carries the translation')
})

t.test('MaxCalls and per-connection limits are checked on the thread', async (t) => {
  const s = await server(t, { xmlRpcMaxCallsPerConnection: 1 }, 1)
  const alice = await phone(t, 'alice')
  const c = await client(t, s.xmlPort)
  // a call that rings until the server ends it: alice answers only after 20 ms, and the destination never answers
  c.write(request(alice.uri, 'sip:nobody@127.0.0.1:9', true))
  await c.until((r) => r.some((x) => x.code === 200 && x.leg === 'Initiator'), 10_000, 'the initiator answered')
  c.write(request(alice.uri, 'sip:nobody@127.0.0.1:9', true))
  await c.until((r) => r.some((x) => x.code === 503), 5000, 'a 503')
  t.match(c.results.find((x) => x.code === 503)?.text, /Too many calls in progress on this connection/, 'the connection cap, from the thread')
  const other = await client(t, s.xmlPort)
  other.write(request(alice.uri, '2000', true))
  const [r] = await other.finals(1, 5000)
  t.same([r!.code, r!.text], [503, 'Too many calls in progress'], 'MaxCalls (1): refused at once, no 100 first')
  t.equal(other.results.length, 1, 'one document')
  // once the first call ends, the thread counts the slot free again
  const first = s.server.calls.list()[0]!
  await s.server.calls.find(first.id)!.end()
  const deadline = Date.now() + 5000
  while (s.server.calls.liveCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  const again = await client(t, s.xmlPort)
  await new Promise((r) => setTimeout(r, 50))
  again.write(request('x', 'y'))
  const [n] = await again.finals(1, 5000)
  t.equal(n!.code, 400, `a new request is admitted again (then refused for its address: ${n!.text})`)
})

t.test('a reload reaches the thread: rules, limits; the log lines come through the main logger', async (t) => {
  const { running, config, lines } = await serverWithLog(t, {
    translationRules: [{ pattern: '^(\\d+)$', output: 'sip:$1@127.0.0.1:9', file: 'test', line: 1 }],
  })
  const c = await client(t, running.xml!.port)
  c.write(request('alice', '2000', true))
  const [r1] = await c.finals(1, 5000)
  t.equal(r1!.code, 400, 'alice has no rule yet')
  running.reload({
    ...config,
    xmlRpcMaxRequestSize: 100,
    translationRules: [
      { pattern: '^alice$', output: 'sip:alice@127.0.0.1:9', file: 'test', line: 1 },
      { pattern: '^(\\d+)$', output: 'sip:$1@127.0.0.1:9', file: 'test', line: 2 },
    ],
  })
  await new Promise((r) => setTimeout(r, 100))
  const c2 = await client(t, running.xml!.port)
  c2.write(request('alice', '2000', true))
  await c2.until((r) => r.length > 0, 5000)
  t.match(c2.results[0], { code: 400, text: 'Request too large' }, 'the new request size limit applies on the thread')
  const c3 = await client(t, running.xml!.port)
  running.reload({ ...config, translationRules: [{ pattern: '^alice$', output: 'sip:alice@127.0.0.1:9', file: 'test', line: 1 }, { pattern: '^(\\d+)$', output: 'sip:$1@127.0.0.1:9', file: 'test', line: 2 }] })
  await new Promise((r) => setTimeout(r, 100))
  c3.write(request('alice', '2000', true))
  await c3.until((r) => r.length > 0, 5000)
  t.same([c3.results[0]!.code, c3.docs[0]!.includes('<TranslatedInitiator>sip:alice@127.0.0.1:9</TranslatedInitiator>')], [100, true], 'the new rule translates on the thread')
  const fromThread = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'no translation rule' || l.msg === 'XML request too large: closing the connection')
  t.equal(fromThread.length, 2, 'both lines of the thread are in the main log')
  for (const l of fromThread) t.equal(l.pid, process.pid, `"${String(l.msg)}" has the main logger's bindings`)
  t.same(
    fromThread.map((l) => l.module),
    ['call', 'xml'],
    'each once, with its module',
  )
})

/** the ctc-xml threads of a process (this one by default) and their nice values, read from /proc (field 19 of stat) */
function xmlThreads(pid: number | 'self' = 'self'): Array<{ tid: number; nice: number }> {
  const out: Array<{ tid: number; nice: number }> = []
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== 'ctc-xml') continue
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      out.push({ tid: Number(tid), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) })
    } catch {
      // the thread ended meanwhile
    }
  }
  return out
}

/** whether this process may lower a thread's nice value to `n`: CAP_SYS_NICE in effect, or RLIMIT_NICE */
function mayLowerTo(n: number): boolean {
  const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))
  if (cap && (BigInt(`0x${cap[1]}`) & (1n << 23n)) !== 0n) return true
  const limit = /^Max nice priority\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  return limit !== null && n >= 20 - Number(limit[1])
}

const linux = process.platform === 'linux'

t.test('XmlRpcThreadNice sets the XML thread\'s priority alone; a reload changes it or says why not', { skip: linux ? false : 'Linux only' }, async (t) => {
  const start = os.getPriority()
  const wanted = Math.min(19, start + 5)
  const { running, config, lines } = await serverWithLog(t, { xmlRpcThreadNice: wanted, translationRules: [{ pattern: '^(\\d+)$', output: 'sip:$1@127.0.0.1:9', file: 'test', line: 1 }] })
  const threads = xmlThreads()
  t.equal(threads.length, 1, 'one XML thread')
  t.equal(threads[0]!.nice, wanted, 'a higher value is always allowed: the thread runs at it')
  t.equal(os.getPriority(), start, 'the main thread keeps its priority')
  const logged = (): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith('XML thread: '))
  t.match(logged()[0], { msg: 'XML thread: nice value set', nice: wanted, module: 'xml' }, 'the change is logged')

  /**
   * Reload with `setting`, wait (bounded) until the thread runs at `target` or logs a line about it,
   * then check: permitted, it runs at `target`; not, it keeps its value and the warning says why.
   */
  const reloadTo = async (setting: number | null, target: number, what: string): Promise<void> => {
    const before = xmlThreads()[0]!.nice
    const seen = logged().length
    running.reload({ ...config, xmlRpcThreadNice: setting })
    for (let i = 0; i < 80 && xmlThreads()[0]!.nice !== target && logged().length === seen; i++) await new Promise((r) => setTimeout(r, 25))
    if (mayLowerTo(target)) {
      t.equal(xmlThreads()[0]!.nice, target, `${what}, permitted: applied`)
    } else {
      t.equal(xmlThreads()[0]!.nice, before, `${what}, not permitted: the thread keeps its value`)
      t.match(logged().at(-1), { msg: 'XML thread: XmlRpcThreadNice not applied', wanted: target, nice: before, reason: /CAP_SYS_NICE/ }, 'and the warning says why')
    }
  }
  // blank goes back to the value the thread started with: a lower value than now
  await reloadTo(null, start, 'blank: back to the value it started with')
  await reloadTo(Math.max(-20, start - 3), Math.max(-20, start - 3), 'a value below the process\'s')
  t.equal(os.getPriority(), start, 'the main thread still keeps its priority')
})

// without CAP_SYS_NICE: as root, setpriv takes it out of the bounding set of the process it starts
const SETPRIV = '/usr/bin/setpriv'
const unprivileged = process.getuid?.() === 0 ? (existsSync(SETPRIV) ? [SETPRIV, '--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice'] : undefined) : []

t.test('XmlRpcThreadNice below the process\'s, without CAP_SYS_NICE: the server starts, says why, the thread keeps its priority', { skip: !linux ? 'Linux only' : unprivileged === undefined ? 'root without setpriv: cannot drop CAP_SYS_NICE' : false }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-nice-'))
  const conf = path.join(dir, 'c.conf')
  writeFileSync(conf, `IPAddress = 127.0.0.1\nUDPTCPPort = 0\nXmlRpcPort = ${await freePort()}\nHttpPort = 0\nJsonRpcPort = 0\nLogFilename =\nXmlRpcThreadNice = -5\nTranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@127.0.0.1:9\n`)
  const argv = [...unprivileged!, process.execPath, path.join(__dirname, '..', 'bin', 'clicktocall'), '--config', conf]
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  for (let i = 0; i < 150 && !(/"msg":"ready"/.test(out) && /XmlRpcThreadNice not applied/.test(out)); i++) await new Promise((r) => setTimeout(r, 100))
  t.match(out, /"msg":"ready"/, 'the server starts')
  const line = out.split('\n').find((l) => l.includes('XmlRpcThreadNice not applied'))
  t.ok(line, 'a warning says the setting was not applied')
  t.match(JSON.parse(line ?? '{}'), { level: 40, module: 'xml', wanted: -5, nice: os.getPriority(), reason: /^EACCES: .*CAP_SYS_NICE/ }, 'with the value wanted, the value kept and why')
  const threads = xmlThreads(child.pid!)
  t.equal(threads.length, 1, 'its XML thread')
  t.equal(threads[0]!.nice, os.getPriority(), 'runs at the priority it started with')
  child.kill('SIGTERM')
  t.equal(await new Promise((r) => child.on('exit', r)), 0, 'and stops cleanly')
})

t.test('a port in use: the start fails with the XML port\'s bind error', async (t) => {
  const s = await server(t)
  const { BindError } = await import('../lib/errors')
  const err = await startServer({ ...defaultConfig(), ipAddress: '127.0.0.1', udpTcpPort: 0, cdrDatabase: '', httpPort: 0, jsonRpcPort: 0, xmlRpcPort: s.xmlPort, xmlRpcBindAddress: '127.0.0.1' }, logger, { advertisedHost: '127.0.0.1' }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof BindError, 'a BindError')
  t.match((err as Error).message, new RegExp(`cannot listen for XML requests on 127\\.0\\.0\\.1:${s.xmlPort}: .*EADDRINUSE`), (err as Error).message)
})

t.test('a thread that stops is started again on the same port; calls go on', async (t) => {
  const s = await server(t)
  const fe = s.server.xml!
  const alice = await phone(t, 'alice')
  const c = await client(t, s.xmlPort)
  c.write(request(alice.uri, 'sip:nobody@127.0.0.1:9', true))
  await c.until((r) => r.some((x) => x.code === 200 && x.leg === 'Initiator'), 10_000, 'the initiator answered')
  t.ok(fe.thread, 'a thread runs')
  await fe.thread!.terminate()
  const deadline = Date.now() + 5000
  while (!c.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.ok(c.closed, 'its connections are gone with it')
  t.equal(fe.restarts, 1, 'counted')
  t.equal(s.server.calls.liveCount, 1, 'the call it started goes on')
  let answered: string | undefined
  while (answered === undefined && Date.now() < deadline + 5000) {
    await new Promise((r) => setTimeout(r, 100))
    const again = await XmlClient.connect(s.xmlPort).catch(() => undefined)
    if (!again) continue
    t.teardown(() => again.close())
    again.write(request('x', 'y'))
    answered = (await again.finals(1, 2000).catch(() => []))[0]?.text
  }
  t.match(answered, /No translation rule/, 'a new thread answers on the same port')
  t.ok(fe.thread, 'and runs')
})

t.test('a client writing garbage cannot queue log lines without bound: at most 500 a second reach the main log', async (t) => {
  const { running, lines } = await serverWithLog(t, { xmlRpcRateLimit: 0 })
  const c = await client(t, running.xml!.port)
  // each "x<a/>" is two info lines on the thread: text outside a request, then a bad request
  const started = Date.now()
  c.write('x<a/>'.repeat(3000))
  await c.until((r) => r.length >= 6000, 20_000, '6,000 refusals')
  // the seconds the thread may have logged in: every one begun between the write and the last refusal
  const seconds = Math.floor(Date.now() / 1000) - Math.floor(started / 1000) + 1
  const deadline = Date.now() + 3000
  const dropped = (): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'XML thread: log lines dropped (too many in one second)')
  const isClientLine = (l: Record<string, unknown>): boolean => l.msg === 'text outside of any XML request' || l.msg === 'bad XML request'
  const accounted = (): number => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter(isClientLine).length + dropped().reduce((n, l) => n + Number(l.dropped), 0)
  // on a slow host the 6,000 lines span more than one second, each with its own warning, sent as that second ends
  while (accounted() < 6000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  const fromClient = parsed.filter(isClientLine)
  t.ok(fromClient.length >= 250 && fromClient.length <= 500 * seconds, `${fromClient.length} of the 6,000 lines reached the log (at most 500 in each of ${seconds} second(s))`)
  const total = dropped().reduce((n, l) => n + Number(l.dropped), 0)
  t.equal(fromClient.length + total, 6000, `the rest are counted: ${total} dropped, in ${dropped().length} warning(s)`)
  t.equal(c.results.filter((r) => r.code === 400).length, 6000, 'every request still got its 400')
})

t.test('shutting down: a request on an open connection gets 503 from the thread, the call in progress its final result', async (t) => {
  const s = await startTestServer({}, { referByeGraceMs: 200 })
  const alice = await phone(t, 'alice')
  const c = await client(t, s.xmlPort)
  c.write(request(alice.uri, 'sip:nobody@127.0.0.1:9', true))
  await c.until((r) => r.some((x) => x.code === 200 && x.leg === 'Initiator'), 10_000, 'the initiator answered')
  const closed = s.close()
  c.write(request(alice.uri, '2000', true))
  await c.finals(2, 10_000)
  await closed
  const finals = c.results.filter((r) => r.final)
  t.ok(
    finals.some((r) => r.code === 503 && r.text === 'Server shutting down' && r.leg === undefined),
    `the new request: 503 Server shutting down (${c.summary().join('; ')})`,
  )
  t.equal(c.results.filter((r) => r.code === 100).length, 1, 'no 100 for the refused request')
  t.ok(finals.some((r) => r.leg === 'Destination' && r.code >= 300), 'the call in progress got its final result on the Destination leg')
})
