/**
 * The XML interface on a thread of its own (issue 16: "the 100 does not
 * wait"). On the main thread a request waited for everything queued before
 * it: the SIP work of the calls in flight, a scavenge of their objects.
 * The XML thread (thread-worker.ts) reads, translates and checks each
 * request and writes its `100 In progress` at once; the main thread starts
 * the call with the translation the 100 carried and sends each later
 * result back, all the results of one loop turn in one message.
 *
 * The XML thread checks what the call manager checks (translation, URI,
 * MaxCalls, shutdown) from the same pure code and the figures the main
 * thread shares with it; the call manager decides for good. Should it
 * refuse a request the thread let through (the last free slot taken
 * meanwhile by another front-end), the client reads that refusal after
 * the 100, as it would read a failure of the call.
 */
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { CallHandle, CallResult } from '../call'
import { BindError, ConfigError } from '../errors'
import { workerEntry } from '../worker-file'
import { readTlsFiles, type XmlFrontEnd, type XmlFrontEndOptions } from './server'
import { levelSlot, Slot, SLOTS, type AdmissionData, type FromThread, type ListenerOptions, type ToThread } from './thread-protocol'

export interface XmlThreadOptions extends XmlFrontEndOptions {
  /** the rules, URI policy and MaxCalls, as the call manager has them */
  admission: AdmissionData
  /** calls in progress now (the call registry's size) */
  liveCalls: () => number
  /** XmlRpcThreadNice: the thread's nice value (Linux); null or absent = the process's */
  nice?: number | null
}

export interface XmlThreadFrontEnd extends XmlFrontEnd {
  /** reconfigure(), and the new rules, URI policy and MaxCalls, and the thread's nice value (SIGHUP) */
  reconfigure(limits: Parameters<XmlFrontEnd['reconfigure']>[0], admission?: AdmissionData, nice?: number | null): void
  /** the XML thread now (its event-loop use, for diagnostics); undefined while it restarts, or on the main thread */
  readonly thread?: Worker | undefined
  /** how often the XML thread stopped and was started again */
  readonly restarts?: number
}

export async function createXmlFrontEndThread(options: XmlThreadOptions): Promise<XmlThreadFrontEnd> {
  const { calls, logger, liveCalls, admission, nice, onConnections: _unused, ...listener } = options
  /** the settings a new thread starts with: the first ones, then each reload's */
  const current: { options: ListenerOptions; admission: AdmissionData; nice: number | null } = { options: listener, admission, nice: nice ?? null }
  const shared = new Int32Array(new SharedArrayBuffer(SLOTS * 4))
  Atomics.store(shared, Slot.maxCalls, current.admission.maxCalls)
  Atomics.store(shared, Slot.level, levelSlot(logger.levelVal))
  Atomics.store(shared, Slot.live, liveCalls())
  const log = logger.child({ module: 'xml' })
  const { file, execArgv } = workerEntry(__dirname, 'thread-worker', path.extname(__filename))

  /** the running thread; undefined between a failure and its restart */
  let worker: Worker | undefined
  let restarts = 0
  let closing: Promise<void> | undefined
  let resolveClosed: (() => void) | undefined
  let restartTimer: NodeJS.Timeout | undefined
  const send = (m: ToThread): void => worker?.postMessage(m)

  /** the thread's requests whose calls have results still to come */
  const subscriptions = new Map<number, { call: CallHandle; listener: (r: CallResult) => void }>()
  let batch: Array<number | string> = []
  let scheduled = false
  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    setImmediate(flush)
  }
  const queue = (k: number, code: number, leg: string, text: string, final: boolean): void => {
    schedule()
    batch.push(k, code, leg, text, final ? 1 : 0)
  }
  /** once a loop turn: the results, and the count of calls the thread admits by (LogLevel needs a restart: its slot is set once) */
  const flush = (): void => {
    scheduled = false
    Atomics.store(shared, Slot.live, liveCalls())
    const r = batch
    batch = []
    if (r.length > 0) send({ t: 'results', r })
  }
  // calls of every front-end come and go: the thread's count of them follows within a loop turn
  const unsubscribeEvents = calls.subscribe((e) => {
    if (e.type === 'created' || e.type === 'ended') schedule()
  })
  /** a thread gone: its clients are gone with it; their calls go on, their results are dropped */
  const dropSubscriptions = (): void => {
    for (const { call, listener } of subscriptions.values()) call.off('result', listener)
    subscriptions.clear()
    batch = []
  }
  /** one request the thread admitted: entries i..i+6 of a 'starts' message */
  const onStart = (starts: Array<number | string>, i: number): void => {
    const k = starts[i] as number
    const outcome = calls.start({
      initiator: starts[i + 1] as string,
      destination: starts[i + 2] as string,
      anchor: starts[i + 3] === 1,
      origin: { frontEnd: 'xml', remoteAddress: starts[i + 4] as string },
      translated: { initiator: starts[i + 5] as string, destination: starts[i + 6] as string },
    })
    if (!outcome.ok) {
      queue(k, outcome.code, '', outcome.text, true)
      return
    }
    const call = outcome.call
    queue(k, 0, '', call.id, false)
    let final = false
    // the thread wrote the 100 already
    for (const r of call.results) {
      if (r.code === 100) continue
      queue(k, r.code, r.leg ?? '', r.text, r.final)
      final ||= r.final
    }
    if (final) return
    const listener = (r: CallResult): void => {
      queue(k, r.code, r.leg ?? '', r.text, r.final)
      if (!r.final) return
      call.off('result', listener)
      subscriptions.delete(k)
    }
    subscriptions.set(k, { call, listener })
    call.on('result', listener)
  }

  /** start a thread on `current` settings; resolves with its port once it listens */
  const spawnThread = (): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const w = new Worker(file, {
        workerData: { options: current.options, admission: current.admission, shared: shared.buffer, nice: current.nice },
        ...(execArgv ? { execArgv } : {}),
      })
      worker = w
      let ready = false
      w.on('message', (m: FromThread) => {
        switch (m.t) {
          case 'starts':
            // requests of a thread already replaced have no client left to answer
            if (worker !== w) return
            for (let i = 0; i + 6 < m.r.length; i += 7) onStart(m.r, i)
            // the thread admits by this count: once for the batch, not once a call
            Atomics.store(shared, Slot.live, liveCalls())
            return
          case 'log':
            logger.child(m.bindings)[m.level](m.obj ?? {}, m.msg)
            return
          case 'ready':
            ready = true
            resolve(m.port)
            return
          case 'failed':
            reject(
              m.kind === 'bind'
                ? new BindError('XML requests', current.options.host, current.options.port, new Error(m.message))
                : m.kind === 'config'
                  ? new ConfigError(m.message)
                  : new Error(`XML thread: ${m.message}`),
            )
            return
          case 'closed':
            resolveClosed?.()
            return
        }
      })
      w.on('error', (err) => log.error({ err: err.message, stack: err.stack }, 'XML thread failed'))
      w.on('exit', (code) => {
        if (worker !== w) return
        worker = undefined
        dropSubscriptions()
        Atomics.store(shared, Slot.connections, 0)
        resolveClosed?.()
        if (!ready) {
          reject(new Error(`XML thread stopped before it listened (exit ${code})`))
          return
        }
        if (closing) return
        restarts += 1
        log.error({ code, restarts }, 'XML thread stopped: its connections are gone (their calls go on); a new one starts in 1 s')
        scheduleRestart(1000)
      })
    })

  /** after a thread failed: the same port and settings, retried with a growing pause (at most 30 s) */
  const scheduleRestart = (delayMs: number): void => {
    restartTimer = setTimeout(() => {
      restartTimer = undefined
      if (closing) return
      spawnThread().then(
        () => log.warn({ port: current.options.port, restarts }, 'XML thread restarted'),
        (err: unknown) => {
          void worker?.terminate()
          worker = undefined
          log.error({ err: (err as Error).message }, 'XML thread could not start again: retrying')
          scheduleRestart(Math.min(delayMs * 2, 30_000))
        },
      )
    }, delayMs)
    restartTimer.unref()
  }

  const port = await spawnThread().catch(async (err: unknown) => {
    closing = Promise.resolve()
    unsubscribeEvents()
    await worker?.terminate()
    throw err
  })
  // a restart binds the port the first thread got (port 0: the one it was given)
  current.options = { ...current.options, port }
  log.debug({ port }, 'XML thread ready')

  return {
    port,
    get connections() {
      return Atomics.load(shared, Slot.connections)
    },
    get thread() {
      return worker
    },
    get restarts() {
      return restarts
    },
    reconfigure: (limits, next, nice) => {
      // the one step that can fail, on this thread, before anything changes
      if (limits.tls) readTlsFiles(limits.tls)
      current.options = { ...current.options, ...limits }
      if (next) {
        current.admission = next
        Atomics.store(shared, Slot.maxCalls, next.maxCalls)
      }
      if (nice !== undefined) current.nice = nice
      send({ t: 'reconfigure', limits, ...(next ? { admission: next } : {}), ...(nice !== undefined ? { nice } : {}) })
    },
    stopAccepting: () => {
      Atomics.store(shared, Slot.closing, 1)
      send({ t: 'stop-accepting' })
    },
    close: () => {
      closing ??= (async () => {
        Atomics.store(shared, Slot.closing, 1)
        clearTimeout(restartTimer)
        const w = worker
        if (w) {
          flush()
          await new Promise<void>((resolve) => {
            resolveClosed = resolve
            send({ t: 'close' })
            setTimeout(resolve, 3000).unref()
          })
          await w.terminate()
        }
        dropSubscriptions()
        unsubscribeEvents()
      })()
      return closing
    },
  }
}
