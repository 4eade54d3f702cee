/**
 * The XML thread: the XML listener of server.ts, unchanged, run on a worker
 * thread of its own. It frames, parses, translates and checks each request
 * and writes the `100 In progress` at once, whatever the main thread is
 * doing (SIP work, a garbage collection); the main thread starts the call
 * and sends the later results over. See thread.ts.
 */
import { writeFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { CallHandle, CallRequest, CallResult, CallService, StartOutcome } from '../call'
import { Texts, capacityRefusal, translateCall, type AdmissionPolicy } from '../call'
import { compileRules } from '../translate'
import { BindError, ConfigError } from '../errors'
import { createXmlFrontEnd, type XmlFrontEnd } from './server'
import { RequestFramer } from './framer'
import { parseRequest } from './request'
import { renderResult } from './render'
import { ThreadNice } from './thread-nice'
import { LEVEL_VALUES, Slot, type AdmissionData, type FromThread, type LogLevelName, type ThreadData, type ToThread } from './thread-protocol'

/** `top -H`, `ps -L` and the benchmark's CPU split tell this thread by its name (Linux) */
try {
  writeFileSync('/proc/thread-self/comm', 'ctc-xml')
} catch {
  // not Linux: the name is cosmetic
}

const port = parentPort!
const data = workerData as ThreadData
const shared = new Int32Array(data.shared)

function post(m: FromThread): void {
  port.postMessage(m)
}

/** A call as the XML connection sees it: its results, fed by the main thread. */
class ThreadCall {
  id = ''
  readonly results: CallResult[]
  private listener: ((r: CallResult) => void) | undefined

  constructor(first: CallResult) {
    this.results = [first]
  }

  on(_event: 'result', listener: (r: CallResult) => void): this {
    this.listener = listener
    return this
  }

  off(_event: 'result', listener: (r: CallResult) => void): this {
    if (this.listener === listener) this.listener = undefined
    return this
  }

  deliver(r: CallResult): void {
    this.results.push(r)
    this.listener?.(r)
  }
}

/**
 * The part of the call layer the XML connection uses: start() translates and
 * checks as the call manager does, answers with the 100, and hands the
 * request to the main thread. The main thread decides for good: should it
 * refuse (MaxCalls reached meanwhile), the client gets that final result
 * after the 100.
 */
class ThreadCalls {
  /** the compiled rules and URI policy, as of the last reload */
  policy: AdmissionPolicy
  private nextKey = 1
  readonly pending = new Map<number, ThreadCall>()

  constructor(admission: AdmissionData) {
    this.policy = policyOf(admission)
  }

  /** new rules and URI policy (a reload); the main thread has set the new MaxCalls in its slot already */
  setAdmission(admission: AdmissionData): void {
    this.policy = policyOf(admission)
  }

  start(request: CallRequest): StartOutcome {
    const closing = Atomics.load(shared, Slot.closing) === 1
    const max = Atomics.load(shared, Slot.maxCalls)
    const full = capacityRefusal(closing, Atomics.load(shared, Slot.live), max)
    if (full) {
      if (!closing) log.warn({ max, origin: request.origin }, 'call refused: too many calls in progress')
      return full
    }
    const t = translateCall(request.initiator, request.destination, this.policy)
    if (!t.ok) {
      if (t.reason === 'no-translation') log.info({ initiator: request.initiator, destination: request.destination, origin: request.origin }, 'no translation rule')
      return t
    }
    const k = this.nextKey++
    const call = new ThreadCall({
      code: 100,
      text: Texts.inProgress,
      final: false,
      translatedInitiator: t.initiator,
      translatedDestination: t.destination,
      at: Date.now(),
    })
    this.pending.set(k, call)
    if (this.starts.length === 0) setImmediate(this.postStarts)
    this.starts.push(k, request.initiator, request.destination, request.anchor ? 1 : 0, request.origin.remoteAddress, t.initiator, t.destination)
    return { ok: true, call: call as unknown as CallHandle }
  }

  /** the requests admitted since the last post (see FromThread 'starts') */
  private starts: Array<number | string> = []

  /**
   * Once a loop turn, in its check phase: by then every socket read in the
   * turn has had its requests' 100s written, and the main thread, woken by
   * this one message, does not compete with those writes for a core.
   */
  readonly postStarts = (): void => {
    if (this.starts.length === 0) return
    const r = this.starts
    this.starts = []
    post({ t: 'starts', r })
  }

  /** a batch of results from the main thread (see ToThread) */
  deliver(r: Array<number | string>): void {
    const now = Date.now()
    for (let i = 0; i + 4 < r.length; i += 5) {
      const k = r[i] as number
      const call = this.pending.get(k)
      if (!call) continue
      const code = r[i + 1] as number
      if (code === 0) {
        call.id = r[i + 3] as string
        continue
      }
      const leg = r[i + 2] as string
      const final = r[i + 4] === 1
      if (final) this.pending.delete(k)
      const result: CallResult = { code, text: r[i + 3] as string, final, at: now }
      if (leg) result.leg = leg as CallResult['leg']
      call.deliver(result)
    }
  }
}

function policyOf(admission: AdmissionData): AdmissionPolicy {
  const translator = compileRules(admission.rules)
  return { translate: (a) => translator.translate(a)?.output, allowUriHeaders: admission.allowUriHeaders }
}

/**
 * Lines the thread may hand to the main thread in one second. The thread
 * reads as fast as clients write; the main thread writes the lines when its
 * loop gets to them. Without a bound, a client sending garbage (a line per
 * chunk) could queue lines faster than a busy main thread takes them: the
 * queue between two threads has no limit of its own.
 */
const LOG_LINES_PER_SECOND = 500

const logBudget = { second: 0, used: 0, dropped: 0 }

function reportDropped(): void {
  if (logBudget.dropped === 0) return
  post({ t: 'log', level: 'warn', bindings: { module: 'xml' }, obj: { dropped: logBudget.dropped, max: LOG_LINES_PER_SECOND }, msg: 'XML thread: log lines dropped (too many in one second)' })
  logBudget.dropped = 0
}

/** true when one more line fits this second's budget; the drops of a second are reported once it is over */
function spendLogLine(): boolean {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== logBudget.second) {
    reportDropped()
    logBudget.second = second
    logBudget.used = 0
  }
  if (logBudget.used >= LOG_LINES_PER_SECOND) {
    if (logBudget.dropped++ === 0) setTimeout(reportDropped, 1000 - (now % 1000) + 1).unref()
    return false
  }
  logBudget.used += 1
  return true
}

/**
 * The logger of this thread: a line at or above the main logger's level
 * (shared slot) goes to the main thread, which writes it to its own
 * destination with these bindings; at most LOG_LINES_PER_SECOND a second.
 */
class ThreadLogger {
  constructor(private readonly bindings: Record<string, unknown>) {}

  child(b: Record<string, unknown>): ThreadLogger {
    return new ThreadLogger({ ...this.bindings, ...b })
  }

  isLevelEnabled(level: string): boolean {
    const v = LEVEL_VALUES[level as LogLevelName]
    return v !== undefined && v >= Atomics.load(shared, Slot.level)
  }

  private line(level: LogLevelName, a: unknown, b: unknown): void {
    if (LEVEL_VALUES[level] < Atomics.load(shared, Slot.level)) return
    if (!spendLogLine()) return
    const obj = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : undefined
    const msg = typeof a === 'string' ? a : typeof b === 'string' ? b : undefined
    post({ t: 'log', level, bindings: this.bindings, obj, msg })
  }

  trace(a: unknown, b?: unknown): void {
    this.line('trace', a, b)
  }
  debug(a: unknown, b?: unknown): void {
    this.line('debug', a, b)
  }
  info(a: unknown, b?: unknown): void {
    this.line('info', a, b)
  }
  warn(a: unknown, b?: unknown): void {
    this.line('warn', a, b)
  }
  error(a: unknown, b?: unknown): void {
    this.line('error', a, b)
  }
  fatal(a: unknown, b?: unknown): void {
    this.line('fatal', a, b)
  }
}

const root = new ThreadLogger({})
const log = root.child({ module: 'call' })
const calls = new ThreadCalls(data.admission)
let frontEnd: XmlFrontEnd | undefined

const priority = new ThreadNice()
const xmlLog = root.child({ module: 'xml' })
/** XmlRpcThreadNice, at start and on each reload (null: back to the value the thread started with) */
function applyNice(wanted: number | null): void {
  const o = priority.apply(wanted)
  if (!o) return
  if (!o.ok) xmlLog.warn({ nice: o.nice, wanted: o.wanted, reason: o.reason }, 'XML thread: XmlRpcThreadNice not applied')
  else if (o.changed) xmlLog.info({ nice: o.nice }, 'XML thread: nice value set')
}
applyNice(data.nice)

port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'results':
      calls.deliver(m.r)
      return
    case 'reconfigure':
      if (m.admission) calls.setAdmission(m.admission)
      if (m.nice !== undefined) applyNice(m.nice)
      try {
        frontEnd?.reconfigure(m.limits)
      } catch (err) {
        log.error({ err: (err as Error).message }, 'XML settings not applied')
      }
      return
    case 'stop-accepting':
      frontEnd?.stopAccepting()
      return
    case 'close':
      void (frontEnd ? frontEnd.close() : Promise.resolve()).then(() => {
        // requests answered with a 100 before the close: the main thread decides them (it refuses once closing)
        calls.postStarts()
        post({ t: 'closed' })
      })
      return
  }
})

/**
 * Before it listens, the thread runs its own path (framing, parsing, the
 * rules, the documents) on made-up requests, so that a burst of clients at
 * start-up (CRMs reconnecting after a restart) meets code the JIT has
 * seen: the first 200 requests of the benchmark's load waited 36-40 ms for
 * their 100 (median) without it, 23-25 ms with it. 42-61 ms of start-up
 * (docs/benchmarks.md, issue 16).
 */
function warmUp(rounds: number, policy: AdmissionPolicy): void {
  const framer = new RequestFramer(65536)
  for (let i = 0; i < rounds; i++) {
    const anchor = i % 2 === 0
    const text = `<ClickToCall><Request><Initiator>sip:warm${i}@127.0.0.1</Initiator><Destination>${i}</Destination><AnchorCall>${anchor}</AnchorCall></Request></ClickToCall>`
    for (const ev of framer.push(i % 3 === 0 ? `\r\n${text}` : text)) {
      if (ev.kind !== 'request') continue
      const parsed = parseRequest(ev.text)
      if (!parsed.ok) continue
      const t = translateCall(parsed.request.initiator, parsed.request.destination, policy)
      renderResult(ev.text, t.ok ? { code: 100, text: Texts.inProgress, translatedInitiator: t.initiator, translatedDestination: t.destination } : { code: t.code, text: t.text })
      renderResult(ev.text, { code: 200, leg: 'Destination', text: Texts.connectedDestination })
    }
  }
}
warmUp(1000, calls.policy)

createXmlFrontEnd({
  ...data.options,
  calls: calls as unknown as CallService,
  logger: root as unknown as Logger,
  onConnections: (n) => Atomics.store(shared, Slot.connections, n),
}).then(
  (fe) => {
    frontEnd = fe
    post({ t: 'ready', port: fe.port })
  },
  (err: unknown) => {
    const kind = err instanceof BindError ? 'bind' : err instanceof ConfigError ? 'config' : 'other'
    // a BindError is made anew on the main thread from its cause
    const shown = err instanceof BindError && err.cause instanceof Error ? err.cause : err
    post({ t: 'failed', kind, message: shown instanceof Error ? shown.message : String(shown) })
  },
)
