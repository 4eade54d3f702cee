/**
 * `npm run bench`: clicktocall against sipp phones on loopback, driven by a
 * load client of our own over the XML interface. Modes:
 *   setup (default): N calls, C in flight, K connections, REFER or anchored
 *   --capacity H1,H2..: hold H anchored calls up at once, RSS per live call
 *   --ramp: the highest offered rate with >= 99% success (median of 3 runs)
 *   --rate R: offer R calls per second instead of keeping C in flight
 *   --pin: the server on CPU 0, phones and load client on the others
 *   --drain-heap S (setup mode): S seconds after the drain, the heap after a full GC (ResultCacheTime passed)
 *   --probe-rate R (setup mode, default 100): a second client of its own, R refused requests a second, times its first documents
 *   --micro: the hot functions alone (SIP parse/serialize, XML parse/render, translate, the transaction layer: the sip package's and ours)
 * Prints a table and one JSON line. Everything it starts, it stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import net from 'node:net'
import dgram from 'node:dgram'
import os from 'node:os'
import path from 'node:path'
import { runMicro, runTransactionMicro } from './micro'
import { udpFloor } from './udp-floor'

const ROOT = path.join(__dirname, '..', '..')
const SIPP_DIR = path.join(ROOT, 'test', 'sipp')

interface Options {
  mode: 'refer' | 'anchored'
  calls: number
  concurrency: number
  connections: number
  ringMs: number
  talkMs: number
  rate: number
  capacity: number[]
  ramp: boolean
  profile: boolean
  json: boolean
  /** --mode was given: the ramp runs that mode only */
  modeGiven: boolean
  /** capacity mode: calls placed per second while filling */
  fill: number
  /** capacity mode: seconds the calls are held before memory is read */
  holdS: number
  /** the server on CPU 0, the phones and the load client on the other CPUs */
  pin: boolean
  /** micro-benchmarks of the hot functions instead of a load run */
  micro: boolean
  /** setup mode: calls run (same C and K) before the measured ones, to measure a warm server (--warmup N) */
  warmup: number
  /** extra node flags for the server (--server-flag, repeatable) */
  serverFlags: string[]
  /** extra config lines for the server (--set Key=Value, repeatable): LogLevel=INFO, CdrDatabase= ... */
  set: string[]
  /** setup mode (--drain-heap S): S seconds after the drain (past ResultCacheTime), the heap after a full collection */
  drainHeapS: number
  /** setup mode: requests per second of the second, idle client (bench/probe-client.ts); 0 = none */
  probeRate: number
}

function parse(argv: string[]): Options {
  const o: Options = { mode: 'refer', calls: 200, concurrency: 20, connections: 4, ringMs: 100, talkMs: 200, rate: 0, capacity: [], ramp: false, profile: false, json: false, modeGiven: false, fill: 200, holdS: 35, pin: false, micro: false, serverFlags: [], set: [], warmup: 0, drainHeapS: 0, probeRate: 100 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const v = (): string => argv[++i] ?? ''
    if (a === '--mode') {
      o.mode = v() === 'anchored' ? 'anchored' : 'refer'
      o.modeGiven = true
    } else if (a === '--calls') o.calls = Number(v())
    else if (a === '--concurrency') o.concurrency = Number(v())
    else if (a === '--connections') o.connections = Number(v())
    else if (a === '--ring') o.ringMs = Number(v())
    else if (a === '--talk') o.talkMs = Number(v())
    else if (a === '--rate') o.rate = Number(v())
    else if (a === '--capacity') o.capacity = v().split(',').map(Number)
    else if (a === '--ramp') o.ramp = true
    else if (a === '--profile') o.profile = true
    else if (a === '--json') o.json = true
    else if (a === '--fill') o.fill = Number(v())
    else if (a === '--hold') o.holdS = Number(v())
    else if (a === '--pin') o.pin = true
    else if (a === '--probe-rate') o.probeRate = Number(v())
    else if (a === '--micro') o.micro = true
    else if (a === '--server-flag') o.serverFlags.push(v())
    else if (a === '--set') o.set.push(v())
    else if (a === '--warmup') o.warmup = Number(v())
    else if (a === '--drain-heap') o.drainHeapS = Number(v())
  }
  serverExtra = o
  return o
}

async function freeUdpTcpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4')
      s.once('error', () => resolve(false))
      s.bind(port, '127.0.0.1', () => {
        const t = net.createServer()
        t.once('error', () => s.close(() => resolve(false)))
        t.listen(port, '127.0.0.1', () => t.close(() => s.close(() => resolve(true))))
      })
    })
    if (ok) return port
  }
  throw new Error('no free port')
}

/** a copy of a test scenario with its ringing pause set to ringMs */
function scenario(dir: string, name: string, ringMs: number): string {
  const text = readFileSync(path.join(SIPP_DIR, name), 'utf8').replace(/<pause milliseconds="\d+"\/>/, `<pause milliseconds="${ringMs}"/>`)
  const out = path.join(dir, name)
  writeFileSync(out, text)
  return out
}

interface Sipp {
  child: ChildProcess
  port: number
  exit: Promise<number | null>
  /** the signal that ended it, if one did before the run was over (sipp 3.6.1 aborts on an assertion) */
  died: () => string | null
}

/** the run's --server-flag and --set, for every server it starts */
let serverExtra: Pick<Options, 'serverFlags' | 'set'> = { serverFlags: [], set: [] }

/** CPUs for the load generators when --pin is given (all but CPU 0) */
let loadCpus = ''

async function sipp(dir: string, file: string, calls: number, talkMs: number, timeoutS: number): Promise<Sipp> {
  const port = await freeUdpTcpPort()
  const mp = await freeUdpTcpPort()
  const child = spawn(loadCpus ? 'taskset' : 'sipp', [...(loadCpus ? ['-c', loadCpus, 'sipp'] : []), '-sf', file, '-i', '127.0.0.1', '-p', String(port), '-mp', String(mp), '-m', String(calls), '-d', String(talkMs), '-timeout', `${timeoutS}s`, '-nostdin', '-buff_size', '4194304', '-max_socket', '60000', '-l', '100000', '-watchdog_interval', '600000'], { cwd: dir, stdio: 'ignore' })
  let died: string | null = null
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (c, signal) => {
      // SIGKILL is the harness's own, at the end of a run
      if (signal && signal !== 'SIGKILL') died = signal
      resolve(c)
    }),
  )
  await new Promise((r) => setTimeout(r, 300))
  return { child, port, exit, died: () => died }
}

/** CPU seconds of each thread of the process, summed by thread name (main, V8 GC workers, libuv pool, CDR writer) */
function threadCpu(pid: number): Record<string, { user: number; sys: number }> {
  const out: Record<string, { user: number; sys: number }> = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const raw = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = tid === String(pid) ? 'main' : raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')')).replace(/[0-9]+$/, '').trim()
      const f = raw.slice(raw.lastIndexOf(') ') + 2).split(' ')
      const e = (out[name] ??= { user: 0, sys: 0 })
      e.user += Number(f[11]) / 100
      e.sys += Number(f[12]) / 100
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out
}

function threadDelta(a: Record<string, { user: number; sys: number }>, b: Record<string, { user: number; sys: number }>, per: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(b)) {
    const u = v.user - (a[k]?.user ?? 0)
    const s = v.sys - (a[k]?.sys ?? 0)
    if (u + s > 0) out[k] = `user ${((u / per) * 1000).toFixed(2)} sys ${((s / per) * 1000).toFixed(2)}`
  }
  return out
}

function procStat(pid: number): { cpuS: number; rss: number; hwm: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const ticks = Number(stat[11]) + Number(stat[12]) // utime + stime (fields 14, 15)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024
  return { cpuS: ticks / 100, rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

interface Server {
  child: ChildProcess
  xmlPort: number
  probe(): Promise<{ p50: number; p99: number; max: number; rss: number; heapUsed: number }>
  stop(): Promise<void>
}

async function startServer(dir: string, rules: string, profile: boolean, pin = false, nodeFlags: string[] = []): Promise<Server> {
  const xmlPort = await freeUdpTcpPort()
  const sipPort = await freeUdpTcpPort()
  const conf = path.join(dir, 'bench.conf')
  writeFileSync(
    conf,
    `IPAddress = 127.0.0.1\nUDPTCPPort = ${sipPort}\nXmlRpcPort = ${xmlPort}\nHttpPort = 0\nJsonRpcPort = 0\nLogLevel = WARNING\nLogFilename =\n` +
      `XmlRpcRateLimit = 0\nXmlRpcMaxCallsPerConnection = 100000\nXmlRpcMaxConnections = 1000\nXmlRpcMaxConnectionsPerAddress = 1000\nMaxCalls = 100000\nKeepAlives = disable\n` +
      // a call that fails should fail fast: the benchmark counts failures, it does not wait for them
      `InitiatorRingTimeout = 5\nDestinationRingTimeout = 5\nReferNotifyTimeout = 8\n${rules}` +
      serverExtra.set.map((kv) => `${kv.replace('=', ' = ')}\n`).join(''),
  )
  const probeFile = path.join(dir, 'probe.json')
  const args = [...nodeFlags, ...serverExtra.serverFlags, '-r', path.join(__dirname, 'probe.js'), ...(profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(dir, 'prof')] : []), path.join(ROOT, 'bin', 'clicktocall'), '--config', conf]
  const child = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '0', process.execPath, ...args] : args, { env: { ...process.env, CTC_PROBE_FILE: probeFile, CTC_ANSWER_FILE: path.join(dir, 'answered.txt') }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const keep = process.env.BENCH_SERVER_STDOUT
  child.stdout!.on('data', (d: Buffer) => {
    if (keep) require('node:fs').appendFileSync(keep, d)
    if (out.length < 65536) out += d.toString()
  })
  for (let i = 0; i < 100 && !existsSync(conf + '.never'); i++) {
    await new Promise((r) => setTimeout(r, 100))
    if (/"msg":"ready"/.test(out)) break
    try {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(xmlPort, '127.0.0.1', () => s.destroy() && resolve())
        s.on('error', reject)
        s.on('close', () => resolve())
      })
      break
    } catch {
      // not yet
    }
  }
  return {
    child,
    xmlPort,
    probe: async () => {
      child.kill('SIGUSR2')
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setTimeout(r, 50))
        if (existsSync(probeFile)) {
          const p = JSON.parse(readFileSync(probeFile, 'utf8'))
          writeFileSync(probeFile + '.last', JSON.stringify(p))
          require('node:fs').unlinkSync(probeFile)
          return p
        }
      }
      return { p50: NaN, p99: NaN, max: NaN, rss: NaN, heapUsed: NaN }
    },
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.on('exit', r))
      child.kill('SIGTERM')
      // a graceful stop hangs up every call; do not wait for ever
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
      await exited
      clearTimeout(timer)
    },
  }
}

interface Sample {
  start: number
  t100?: number
  tInit?: number
  tDest?: number
  final?: string
}

/** The load client: N requests, C in flight, over K connections; optional offered rate (calls/s). */
async function load(port: number, o: Options, onFinal?: (s: Sample) => void, shards = 1): Promise<Sample[]> {
  const samples: Sample[] = []
  const sockets: net.Socket[] = []
  const bufs: string[] = []
  let next = 0
  let inFlight = 0
  let done = 0
  return new Promise((resolve) => {
    // call i goes to phone pair i % shards (translation rules i<n> and d<n>)
    const request = (i: number): string =>
      `<ClickToCall><Request><Initiator>i${i % shards}</Initiator><Destination>d${i % shards}</Destination><AnchorCall>${o.mode === 'anchored'}</AnchorCall><Tag>${i}</Tag></Request></ClickToCall>`
    const launchOne = (): void => {
      const i = next++
      inFlight++
      samples[i] = { start: performance.now() }
      sockets[i % sockets.length]!.write(request(i))
    }
    const launch = (): void => {
      while (inFlight < o.concurrency && next < o.calls) launchOne()
    }
    const onDoc = (doc: string, at: number): void => {
      const tag = Number(/<Tag>(\d+)<\/Tag>/.exec(doc)?.[1])
      const m = /<Result Code="(\d+)"(?: Leg="(\w+)")?>/.exec(doc)
      const s = samples[tag]
      if (!s || !m) return
      const now = at - s.start
      const code = Number(m[1])
      if (code === 100) s.t100 = now
      else if (code === 200 && m[2] === 'Initiator') s.tInit = now
      else if (code === 200 && m[2] === 'Destination') s.tDest = now
      if (code >= 300 || (m[2] === 'Destination' && code >= 200)) {
        s.final = `${code}${m[2] ? ` ${m[2]}` : ''}`
        inFlight--
        done++
        onFinal?.(s)
        if (done === o.calls) {
          for (const so of sockets) so.destroy()
          resolve(samples)
          return
        }
        if (o.rate === 0) launch()
      }
    }
    let connected = 0
    for (let k = 0; k < o.connections; k++) {
      const so = net.connect(port, '127.0.0.1', () => {
        if (++connected === o.connections) {
          if (o.rate > 0) {
            // paced by the clock, not by the timer's period: every tick sends
            // the calls that are due by now, so the offered rate holds even
            // when timers fire late or the rate exceeds 1,000/s
            const t0 = performance.now()
            const timer = setInterval(() => {
              const due = Math.min(o.calls, Math.floor(((performance.now() - t0) * o.rate) / 1000) + 1)
              while (next < due && inFlight < o.concurrency) launchOne()
              if (next >= o.calls) clearInterval(timer)
            }, 2)
          } else launch()
        }
      })
      so.setEncoding('utf8')
      bufs[k] = ''
      so.on('data', (d: string) => {
        // when the bytes reached this loop: a document is not timed later for the ones parsed before it
        const at = performance.now()
        bufs[k] += d
        for (let e = bufs[k]!.indexOf('</ClickToCall>'); e >= 0; e = bufs[k]!.indexOf('</ClickToCall>')) {
          onDoc(bufs[k]!.slice(0, e), at)
          bufs[k] = bufs[k]!.slice(e + 14)
        }
      })
      so.on('error', () => undefined)
      sockets.push(so)
    }
  })
}

/**
 * The time to each 100 (after the first burst) in three parts, from the XML
 * thread's own times (bench/probe.ts, `clicktocall:xml:answered`) and this
 * client's, on the `performance.timeOrigin` clock both processes share:
 * written here -> read by the server; read -> the 100's write returned (the
 * server's own work); written -> read here (this client's loop).
 */
function to100Split(dir: string, samples: Sample[], skip: number): Record<string, unknown> | undefined {
  let text: string
  try {
    text = readFileSync(path.join(dir, 'answered.txt'), 'utf8')
  } catch {
    return undefined
  }
  const server = new Map<number, [number, number]>()
  for (const line of text.split('\n')) {
    const [tag, read, written] = line.split(' ').map(Number)
    if (written !== undefined) server.set(tag!, [read!, written])
  }
  const toServer: number[] = []
  const inServer: number[] = []
  const toClient: number[] = []
  samples.forEach((s, i) => {
    const t = server.get(i)
    if (i < skip || !t || s.t100 === undefined) return
    const sent = performance.timeOrigin + s.start
    toServer.push(t[0] - sent)
    inServer.push(t[1] - t[0])
    toClient.push(sent + s.t100 - t[1])
  })
  if (inServer.length === 0) return undefined
  return { requests: inServer.length, writtenToRead: dist(toServer), readTo100Written: dist(inServer), writtenToClientRead: dist(toClient) }
}

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const v = [...values].sort((a, b) => a - b)
  return Math.round(v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))]! * 100) / 100
}

function dist(values: number[]): { p50: number; p90: number; p99: number; max: number } {
  return { p50: pct(values, 50), p90: pct(values, 90), p99: pct(values, 99), max: pct(values, 100) }
}

/** bench/probe-client.ts in a process of its own, for the length of the load */
async function probeClient(port: number, rate: number): Promise<{ stop(): Promise<Record<string, number> | undefined> }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'probe-client.js'), String(port), String(rate)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => (out += d))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  // started and connected before the load: its own start-up does not fall on the first burst
  const connected = await Promise.race([
    new Promise<boolean>((resolve) => child.stdout!.on('data', () => out.includes('connected\n') && resolve(true))),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000)),
  ])
  if (!connected) throw new Error('the probe client did not connect')
  return {
    stop: async () => {
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
      try {
        return JSON.parse(out.slice(out.indexOf('connected\n') + 'connected\n'.length)) as Record<string, number>
      } catch {
        return undefined
      }
    },
  }
}

async function setupRun(o: Options, dir: string): Promise<Record<string, unknown>> {
  const phoneCalls = o.calls + o.warmup
  const timeoutS = Math.ceil(60 + phoneCalls / 20)
  const initScenario = scenario(dir, o.mode === 'refer' ? 'initiator.xml' : 'destination.xml', o.ringMs)
  const destScenario = scenario(dir, 'destination.xml', o.ringMs)
  // REFER: the initiator phone hangs up the transferred call after the talk time. Were the destination
  // to hang up first, its BYE could reach the initiator phone before the server's BYE on the first
  // dialog, take that BYE's place in the scenario and leave the server's BYE unanswered (retransmitted
  // for 32 s, the call kept all that time): a load the server would not see with real phones
  const dest = await sipp(dir, destScenario, phoneCalls, o.mode === 'refer' ? o.talkMs + 10000 : o.talkMs, timeoutS)
  // anchored: the initiator phone must not hang up on its own while the server is still reaching the
  // destination (that is a 603 the phone caused); the server relays the destination's BYE to it
  const init = await sipp(dir, initScenario, phoneCalls, o.mode === 'refer' ? o.talkMs : o.talkMs + 10000, timeoutS)
  const server = await startServer(dir, rules([init], [dest]), o.profile, o.pin, o.drainHeapS > 0 ? ['--expose-gc'] : [])
  let warmupFailed = 0
  if (o.warmup > 0) {
    // the same load, not measured; then wait for its calls to end (talk time, BYEs)
    const warm = await load(server.xmlPort, { ...o, calls: o.warmup, rate: 0 })
    warmupFailed = warm.filter((s) => s.final !== '200 Destination').length
    await new Promise((r) => setTimeout(r, o.talkMs + 1500))
  }
  const before = procStat(server.child.pid!)
  const threadsBefore = threadCpu(server.child.pid!)
  const phonesBefore = [init, dest].map((p) => procStat(p.child.pid!).cpuS)
  // a phone exits as soon as its last call is done: its CPU is read every 200 ms while it runs
  const phonesLast = [...phonesBefore]
  const phoneSampler = setInterval(() => {
    ;[init, dest].forEach((p, i) => {
      try {
        if (p.child.exitCode === null) phonesLast[i] = procStat(p.child.pid!).cpuS
      } catch {
        // it exited between the check and the read
      }
    })
  }, 200)
  const startProbe = await server.probe()
  const second = o.probeRate > 0 ? await probeClient(server.xmlPort, o.probeRate) : undefined
  const clientBefore = process.cpuUsage()
  const t0 = performance.now()
  let lastOk = t0
  const samples = await load(server.xmlPort, o, (s) => {
    if (s.final === '200 Destination') lastOk = performance.now()
  })
  // the rate of successful setups, up to the last one (a failing call that waits out a
  // timeout is counted as a failure, not as time)
  const elapsed = Math.max(0.001, (lastOk - t0) / 1000)
  const clientCpu = process.cpuUsage(clientBefore)
  const firstDocumentProbe = await second?.stop()
  const probe = await server.probe()
  const peak = procStat(server.child.pid!)
  clearInterval(phoneSampler)
  // let the calls drain (talk time, BYEs)
  await Promise.race([Promise.all([init.exit, dest.exit]), new Promise((r) => setTimeout(r, o.talkMs + 5000))])
  await new Promise((r) => setTimeout(r, 500))
  const after = procStat(server.child.pid!)
  const threadsAfter = threadCpu(server.child.pid!)
  let drained: Record<string, unknown> = {}
  if (o.drainHeapS > 0) {
    // what is left once the finished calls' results are forgotten
    await new Promise((r) => setTimeout(r, o.drainHeapS * 1000))
    const late = await server.probe()
    drained = { heapMiB: { start: mib(startProbe.heapUsed), afterDrainWait: mib(late.heapUsed) }, rssMiBAfterDrainWait: mib(procStat(server.child.pid!).rss) }
  }
  await server.stop()
  for (const s of [init, dest]) if (s.child.exitCode === null) s.child.kill('SIGKILL')
  const byCode = countCodes(samples)
  const ok = samples.filter((s) => s.final === '200 Destination')
  const split = to100Split(dir, samples, o.concurrency)
  return {
    mode: o.mode,
    calls: o.calls,
    concurrency: o.concurrency,
    connections: o.connections,
    peerDelays: { initiatorRingMs: o.mode === 'refer' ? o.ringMs : o.ringMs, destinationRingMs: o.ringMs, talkMs: o.talkMs },
    warmup: { calls: o.warmup, failed: warmupFailed },
    completed: ok.length,
    failed: samples.length - ok.length,
    byCode,
    setupsPerSecond: Math.round((ok.length / elapsed) * 10) / 10,
    latencyMs: {
      to100: dist(samples.filter((s) => s.t100 !== undefined).map((s) => s.t100!)),
      // the first C requests are written at once, to a server that has not run a call yet: their
      // 100s queue behind one another; the rest arrive one by one, as each call finishes
      to100AfterFirstBurst: dist(samples.slice(o.concurrency).filter((s) => s.t100 !== undefined).map((s) => s.t100!)),
      to100FirstBurst: dist(samples.slice(0, o.concurrency).filter((s) => s.t100 !== undefined).map((s) => s.t100!)),
      // the same server path (read, parse, translate, write) timed by a client with nothing else to do
      ...(firstDocumentProbe ? { firstDocumentProbe } : {}),
      // where the time to the 100 after the first burst went: to the server, in it, back to this client
      ...(split ? { to100Split: split } : {}),
      to200Initiator: dist(samples.filter((s) => s.tInit !== undefined).map((s) => s.tInit!)),
      to200Destination: dist(ok.map((s) => s.tDest!)),
    },
    cpuSecondsPer1000: Math.round(((after.cpuS - before.cpuS) / Math.max(1, ok.length)) * 1000 * 100) / 100,
    cpuPer1000ByThread: threadDelta(threadsBefore, threadsAfter, Math.max(1, ok.length)),
    // the phones share the machine: who is the bottleneck (read every 200 ms up to the last setup:
    // a lower bound, without the last talk times and BYEs)
    // this process: the load client, on the same cores
    loadClientCpuSecondsPer1000: per1000((clientCpu.user + clientCpu.system) / 1e6, ok.length),
    // a phone that crashed mid-run fails every call after it: such a run is the phone's failure, not the server's
    ...(init.died() || dest.died() ? { phoneDied: { initiator: init.died(), destination: dest.died() } } : {}),
    phoneCpuSecondsPer1000: { initiator: per1000(phonesLast[0]! - phonesBefore[0]!, ok.length), destination: per1000(phonesLast[1]! - phonesBefore[1]!, ok.length) },
    rssMiB: { start: mib(before.rss), peak: mib(peak.hwm), afterDrain: mib(after.rss) },
    eventLoopDelayMs: { p99: probe.p99, max: probe.max },
    ...drained,
  }
}

/** how many calls ended with each final result ("200 Destination", "408 Initiator", ...) */
function countCodes(samples: Sample[]): Record<string, number> {
  const byCode: Record<string, number> = {}
  for (const s of samples) byCode[s.final ?? 'none'] = (byCode[s.final ?? 'none'] ?? 0) + 1
  return byCode
}

/** translation rules: i<n> to initiator phone n, d<n> to destination phone n */
function rules(inits: Sipp[], dests: Sipp[]): string {
  return [
    ...inits.map((s, n) => `TranslationPattern = ^i${n}$\nTranslationOutput = sip:i@127.0.0.1:${s.port}\n`),
    ...dests.map((s, n) => `TranslationPattern = ^d${n}$\nTranslationOutput = sip:d@127.0.0.1:${s.port}\n`),
  ].join('')
}

function per1000(cpuS: number, calls: number): number {
  return Math.round((cpuS / Math.max(1, calls)) * 1000 * 100) / 100
}

function mib(b: number): number {
  return Math.round((b / 1048576) * 10) / 10
}

/** calls held by one sipp process in capacity mode: one UAS for every call stalls above ~1,000 */
const CALLS_PER_PHONE = 500

async function capacityRun(o: Options, dir: string): Promise<Record<string, unknown>> {
  const results: Array<Record<string, unknown>> = []
  let stoppedAt: Record<string, unknown> | undefined
  for (const h of o.capacity) {
    const talk = 900_000
    const shards = Math.ceil(h / CALLS_PER_PHONE)
    const dests: Sipp[] = []
    const inits: Sipp[] = []
    for (let n = 0; n < shards; n++) {
      const calls = Math.ceil(h / shards)
      dests.push(await sipp(dir, scenario(dir, 'destination.xml', 10), calls, talk, 1200))
      inits.push(await sipp(dir, scenario(dir, 'destination.xml', 10), calls, talk + 1000, 1200))
    }
    const server = await startServer(dir, rules(inits, dests), false, o.pin, ['--expose-gc'])
    await new Promise((r) => setTimeout(r, 300))
    const base = procStat(server.child.pid!)
    const baseHeap = (await server.probe()).heapUsed
    const t0 = performance.now()
    const samples = await load(server.xmlPort, { ...o, mode: 'anchored', calls: h, concurrency: Math.min(h, 400), rate: o.fill }, undefined, shards)
    const fillS = (performance.now() - t0) / 1000
    const filled = procStat(server.child.pid!)
    const up = samples.filter((s) => s.final === '200 Destination').length
    const byCode = countCodes(samples)
    // held past the transactions' lifetimes (Timer K, and Timer M of RFC 6026
    // at 64*T1 = 32 s): what is left is what a live call costs
    await new Promise((r) => setTimeout(r, o.holdS * 1000))
    const held = procStat(server.child.pid!)
    await new Promise((r) => setTimeout(r, 5000))
    const later = procStat(server.child.pid!)
    const probe = await server.probe()
    const r = {
      wanted: h,
      held: up,
      phones: shards * 2,
      byCode,
      fillSeconds: Math.round(fillS * 10) / 10,
      rssMiB: { start: mib(base.rss), held: mib(held.rss) },
      kibPerCall: Math.round(((held.rss - base.rss) / 1024 / Math.max(1, up)) * 10) / 10,
      // the live JavaScript heap after a full collection, per call
      heapKiBPerCall: Math.round(((probe.heapUsed - baseHeap) / 1024 / Math.max(1, up)) * 10) / 10,
      // CPU of the fill alone: placing the calls, not holding them
      cpuSecondsPer1000: Math.round(((filled.cpuS - base.cpuS) / Math.max(1, up)) * 1000 * 100) / 100,
      eventLoopDelayMs: { p99: probe.p99, max: probe.max },
      // the server's CPU while the calls are merely held (5 s)
      holdCpuPercent: Math.round(((later.cpuS - held.cpuS) / 5) * 1000) / 10,
    }
    process.stderr.write(`capacity ${h}: ${up} held, ${r.kibPerCall} KiB per call, RSS ${r.rssMiB.held} MiB\n`)
    results.push(r)
    await server.stop()
    for (const s of [...inits, ...dests]) s.child.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 1000))
    if (up < h * 0.99) {
      stoppedAt = { wanted: h, held: up, byCode }
      break
    }
  }
  return { capacity: results, ...(stoppedAt ? { stoppedAt } : {}) }
}

async function rampRun(o: Options, dir: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const mode of o.modeGiven ? [o.mode] : (['refer', 'anchored'] as const)) {
    const best: number[] = []
    for (let run = 0; run < 3; run++) {
      // 3 s at each offered rate: doubling from 100/s until a step falls under
      // 99 %, then three bisections between the last good and the first bad rate
      const passes = async (rate: number): Promise<boolean> => {
        const r = await setupRun({ ...o, mode, rate, calls: rate * 3, concurrency: 100000, connections: 8 }, dir)
        const okShare = (r.completed as number) / (r.calls as number)
        const eld = r.eventLoopDelayMs as { p99: number; max: number }
        process.stderr.write(
          `ramp ${mode} run ${run + 1}: ${rate}/s offered, ${(okShare * 100).toFixed(1)}% ok, ${r.setupsPerSecond} setups/s, ` +
            `${r.cpuSecondsPer1000} CPU s/1000, event loop p99/max ${eld.p99}/${eld.max} ms, ${JSON.stringify(r.byCode)}\n`,
        )
        return okShare >= 0.99
      }
      let good = 0
      let bad = 0
      for (let rate = 100; rate <= 3200; rate *= 2) {
        if (!(await passes(rate))) {
          bad = rate
          break
        }
        good = rate
      }
      for (let i = 0; i < 3 && bad > 0 && good > 0; i++) {
        const mid = Math.round((good + bad) / 2)
        if (await passes(mid)) good = mid
        else bad = mid
      }
      best.push(good)
    }
    best.sort((a, b) => a - b)
    out[mode] = { runs: best, medianRatePerSecond: best[1] }
  }
  return { ramp: out }
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2))
  if (o.micro) {
    const micro: Record<string, { nsPerOp: number; runs: number[] }> = { ...runMicro(), ...(await runTransactionMicro()) }
    // the peer's CPU per datagram received and answered (not wall time): Node's floor per SIP message pair
    const floors: number[] = []
    for (let r = 0; r < 3; r++) {
      const f = await udpFloor()
      floors.push(Math.round((f.userUs + f.sysUs) * 1000))
    }
    micro['node udp: receive + answer (peer CPU)'] = { nsPerOp: pct(floors, 50), runs: floors }
    for (const [name, r] of Object.entries(micro)) console.log(`${name.padEnd(32)} ${String(r.nsPerOp).padStart(8)} ns/op  (runs: ${r.runs.join(' ')})`)
    console.log(JSON.stringify({ micro, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version } }))
    return
  }
  if (o.pin) {
    const n = os.cpus().length
    if (n < 2) throw new Error('--pin needs at least 2 CPUs')
    loadCpus = n === 2 ? '1' : `1-${n - 1}`
    spawnSync('taskset', ['-p', '-c', loadCpus, String(process.pid)], { stdio: 'ignore' })
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-bench-'))
  let result: Record<string, unknown>
  if (o.capacity.length > 0) result = await capacityRun(o, dir)
  else if (o.ramp) result = await rampRun(o, dir)
  else result = await setupRun(o, dir)
  result.machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }
  if (o.profile) result.profileDir = path.join(dir, 'prof')
  // the run's folder (config, scenarios, probe files) goes with it, unless it holds the profiles asked for
  else rmSync(dir, { recursive: true, force: true })
  if (!o.json) printTable(result)
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

function printTable(r: Record<string, unknown>): void {
  const lines: string[] = []
  const walk = (obj: unknown, prefix: string): void => {
    if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
      for (const [k, v] of Object.entries(obj)) walk(v, prefix ? `${prefix}.${k}` : k)
    } else lines.push(`${prefix.padEnd(40)} ${Array.isArray(obj) ? JSON.stringify(obj) : String(obj)}`)
  }
  walk(r, '')
  process.stdout.write(`${lines.join('\n')}\n`)
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack}\n`)
    process.exit(1)
  },
)
