/**
 * The call layer's door for front-ends: translate, validate, create the
 * Call, run its flow, keep it in the registry; find calls, list them, and
 * hand every call's events to subscribers (dashboards, webhooks, records).
 */
import type { Logger } from 'pino'
import type { CallEvent, CallFilter, CallHandle, CallRequest, CallService, CallSnapshot, StartOutcome, VerbOutcome } from './api'
import { Call, type CallControl } from './call'
import { CallRegistry } from './registry'
import { runCall } from './setup'
import { createCallControl } from './verbs'
import type { FlowContext, FlowSettings } from './context'
import type { SipStack } from '../sip'
import { checkAddress } from './address'
import { capacityRefusal, translateCall } from './admission'

export interface CallManagerOptions extends FlowSettings {
  sip: SipStack
  /** the translation rules: the output for an address, or undefined when no rule matches */
  translate: (address: string) => string | undefined
  /** ResultCacheTime: how long ended calls stay readable, ms */
  resultCacheTimeMs: number
  /** most calls in progress at once; more get a 503 refusal */
  maxCalls: number
  /** AllowUriHeaders: accept `?headers` and `maddr` in translated addresses */
  allowUriHeaders?: boolean
  logger: Logger
}

export class CallManager implements CallService {
  readonly registry: CallRegistry
  private options: CallManagerOptions
  private readonly log: Logger
  private closing = false
  private readonly subscribers = new Set<(event: CallEvent) => void>()
  private readonly control: CallControl

  constructor(options: CallManagerOptions) {
    this.options = options
    this.log = options.logger.child({ module: 'call' })
    this.registry = new CallRegistry(options.resultCacheTimeMs)
    this.control = createCallControl({
      context: () => this.context(),
      resolve: (key) => this.registry.find(key),
      translate: (target) => this.translateTarget(target),
    })
  }

  /** New translation rules, timers and limits (SIGHUP); calls in progress keep theirs. */
  reconfigure(update: Partial<Omit<CallManagerOptions, 'sip' | 'logger'>>): void {
    this.options = { ...this.options, ...update }
    if (update.resultCacheTimeMs !== undefined) this.registry.setRetention(update.resultCacheTimeMs)
  }

  private context(): FlowContext {
    return { ...this.options }
  }

  start(request: CallRequest): StartOutcome {
    const { initiator, destination } = request
    if (request.setupId !== undefined) {
      const known = this.registry.bySetupId(request.setupId)
      if (known?.call) {
        this.log.info({ setupId: request.setupId, callId: known.call.id }, 'setup id retried: the same call')
        return { ok: true, call: known.call, existing: true }
      }
    }
    const full = capacityRefusal(this.closing, this.registry.size, this.options.maxCalls)
    if (full) {
      if (!this.closing) this.log.warn({ max: this.options.maxCalls, origin: request.origin }, 'call refused: too many calls in progress')
      return full
    }
    const admitted = translateCall(initiator, destination, this.options, request.translated)
    if (!admitted.ok) {
      if (admitted.reason === 'no-translation') this.log.info({ initiator, destination, origin: request.origin }, 'no translation rule')
      return admitted
    }
    const ti = admitted.initiator
    const td = admitted.destination
    const call = new Call(request, ti, td, this.options.sip.host, this.log, this.control)
    this.registry.add(call)
    call.on('event', (event: CallEvent) => this.publish(event))
    call.logAt('info')?.info(
      { initiator: ti, destination: td, anchor: request.anchor, origin: request.origin, setupId: request.setupId },
      'call created',
    )
    call.emitEvent({
      type: 'created',
      initiator,
      destination,
      translatedInitiator: ti,
      translatedDestination: td,
      anchor: request.anchor,
      origin: { ...request.origin },
    })
    runCall(call, this.context())
    return { ok: true, call }
  }

  /** A transfer target through the same rules and URI check as a new call's addresses. */
  private translateTarget(target: string): { ok: true; uri: string } | { ok: false; code: 'no-translation'; message: string } {
    const uri = this.options.translate(target)
    if (uri === undefined) return { ok: false, code: 'no-translation', message: `No translation rule for ${target}` }
    const parsed = checkAddress(uri, this.options)
    if (typeof parsed === 'string') return { ok: false, code: 'no-translation', message: `Invalid URI format ${uri}(${target}): ${parsed}` }
    return { ok: true, uri }
  }

  private publish(event: CallEvent): void {
    for (const listener of this.subscribers) {
      try {
        listener(event)
      } catch (err) {
        this.log.error({ err, callId: event.callId, type: event.type }, 'a call event subscriber threw')
      }
    }
  }

  get(id: string): CallSnapshot | undefined {
    return this.registry.get(id)
  }

  find(key: string): CallHandle | undefined {
    return this.registry.find(key)
  }

  findBySetupId(setupId: string): CallSnapshot | undefined {
    return this.registry.bySetupId(setupId)?.snapshot
  }

  /**
   * The call a verb is for, or why there is none: an unknown key, or a call
   * that has ended (kept for ResultCacheTime) and so cannot be steered.
   */
  resolve(key: string): { ok: true; call: CallHandle } | Exclude<VerbOutcome, { ok: true }> {
    const live = this.registry.find(key)
    if (live) return { ok: true, call: live }
    const kept = this.registry.get(key) ?? this.registry.bySetupId(key)?.snapshot
    if (kept) {
      if (kept.mode === 'refer' && kept.state === 'ended' && kept.times.bridgedAt !== null)
        return { ok: false, code: 'not-in-call', message: `call ${kept.id} was transferred by REFER: the server is no longer in it` }
      return { ok: false, code: 'call-ended', message: `call ${kept.id} has ended` }
    }
    return { ok: false, code: 'unknown-call', message: `no call ${key}` }
  }

  list(filter?: CallFilter): CallSnapshot[] {
    return this.registry.list(filter)
  }

  subscribe(listener: (event: CallEvent) => void): () => void {
    this.subscribers.add(listener)
    return () => {
      this.subscribers.delete(listener)
    }
  }

  get liveCount(): number {
    return this.registry.size
  }

  /**
   * Shutdown: refuse new calls, give every call in progress a final result
   * (503) and end its legs (CANCEL/BYE), within `timeoutMs`.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true
    const ending: Promise<void>[] = []
    for (const call of this.registry.liveCalls()) {
      if (!call.reportedFinal) call.failCurrentLeg(503)
      ending.push(call.hangUp('server shutting down', 'server', call.bridgedAt === null ? 'cancelled' : undefined))
    }
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled(ending),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
        timer.unref()
      }),
    ])
    if (timer) clearTimeout(timer)
    for (const call of [...this.registry.liveCalls()]) call.markEnded('shutdown timeout')
    this.registry.close()
  }
}
