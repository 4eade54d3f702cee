/**
 * The call layer's door for front-ends: translate, validate, create the
 * Call, run its flow, keep it in the registry.
 */
import type { Logger } from 'pino'
import type { CallRequest, CallService, CallSnapshot, StartOutcome } from './api'
import { Call } from './call'
import { CallRegistry } from './registry'
import { runCall, hangUp, failCurrentLeg } from './flow'
import type { FlowContext, FlowSettings } from './context'
import type { SipStack } from '../sip/api'
import { checkAddress } from './address'
import { invalidUriText, noTranslationText } from './texts'

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

  constructor(options: CallManagerOptions) {
    this.options = options
    this.log = options.logger.child({ module: 'call' })
    this.registry = new CallRegistry(options.resultCacheTimeMs)
  }

  /** New translation rules, timers and limits (SIGHUP); calls in progress keep theirs. */
  reconfigure(update: Partial<Omit<CallManagerOptions, 'sip' | 'logger'>>): void {
    this.options = { ...this.options, ...update }
    if (update.resultCacheTimeMs !== undefined) this.registry.setRetention(update.resultCacheTimeMs)
  }

  start(request: CallRequest): StartOutcome {
    const { initiator, destination } = request
    if (this.closing) return { ok: false, reason: 'overloaded', code: 503, text: 'Server shutting down' }
    if (this.registry.size >= this.options.maxCalls) {
      this.log.warn({ max: this.options.maxCalls, origin: request.origin }, 'call refused: too many calls in progress')
      return { ok: false, reason: 'overloaded', code: 503, text: 'Too many calls in progress' }
    }
    const ti = this.options.translate(initiator)
    const td = ti === undefined ? undefined : this.options.translate(destination)
    if (ti === undefined || td === undefined) {
      this.log.info({ initiator, destination, origin: request.origin }, 'no translation rule')
      return {
        ok: false,
        reason: 'no-translation',
        code: 400,
        text: noTranslationText(initiator, destination),
        initiator,
        destination,
      }
    }
    const pi = checkAddress(ti, this.options)
    const pd = checkAddress(td, this.options)
    if (typeof pi === 'string' || typeof pd === 'string') {
      const why = typeof pi === 'string' ? `initiator: ${pi}` : `destination: ${pd as string}`
      return {
        ok: false,
        reason: 'invalid-uri',
        code: 400,
        text: invalidUriText(ti, initiator, td, destination, why),
        initiator,
        destination,
        translatedInitiator: ti,
        translatedDestination: td,
      }
    }
    const call = new Call(request, ti, td, this.log)
    this.registry.add(call)
    call.log.info(
      { initiator: ti, destination: td, anchor: request.anchor, origin: request.origin },
      'call created',
    )
    const ctx: FlowContext = { ...this.options }
    runCall(call, ctx)
    return { ok: true, call }
  }

  get(id: string): CallSnapshot | undefined {
    return this.registry.get(id)
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
      if (!call.reportedFinal) failCurrentLeg(call, 503)
      ending.push(hangUp(call, 'server shutting down'))
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
    for (const call of this.registry.liveCalls()) call.end('shutdown timeout')
    this.registry.close()
  }
}
