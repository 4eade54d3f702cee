/**
 * What the server sends out of its calls: webhooks, action URLs and call
 * detail records, each a subscriber of calls.subscribe(). None of them can
 * delay a call: they queue and work on their own timers.
 */
import type { Logger } from 'pino'
import type { Config } from '../config'
import type { CallService } from '../call'
import { ConfigError } from '../errors'
import { ALL_EVENT_TYPES, DEFAULT_WEBHOOK_EVENTS, checkActionUrl, createActionUrlSink, createWebhookSink, type DeliveryTuning, type EventSink } from '../events'
import { SqliteCdrStore, recordCalls, type CdrStore, type CdrRecorder } from '../store'

export interface EventOutputs {
  /** the CDR store (for GET /v1/cdr and GET /v1/calls/{id}), undefined when CdrDatabase is blank */
  readonly cdr: CdrStore | undefined
  stats(): Record<string, unknown>
  /** deliver what is queued (bounded by timeoutMs), write pending records, close the database */
  close(timeoutMs: number): Promise<void>
}

/** test knobs: faster backoff, shorter CDR flushes */
export interface EventOutputOverrides {
  tuning?: Partial<DeliveryTuning>
  cdrFlushIntervalMs?: number
}

export function tuningFrom(config: Config, overrides: Partial<DeliveryTuning> = {}): DeliveryTuning {
  return {
    concurrency: config.webhookConcurrency,
    queueSize: config.webhookQueueSize,
    maxAttempts: config.webhookMaxAttempts,
    timeoutMs: config.webhookTimeout * 1000,
    backoffBaseMs: 1000,
    backoffMaxMs: 60_000,
    ...overrides,
  }
}

/** settings checks that need the events module (placeholders, event names): a ConfigError */
export function checkEventSettings(config: Config): void {
  for (const t of config.webhookEvents) {
    if (!ALL_EVENT_TYPES.includes(t)) throw new ConfigError(`WebhookEvents: "${t}" is not an event type (${ALL_EVENT_TYPES.join(', ')})`, config.file)
  }
  for (const u of config.actionUrls) {
    try {
      checkActionUrl(u)
    } catch (err) {
      throw new ConfigError(`ActionUrl: ${(err as Error).message}`, config.file)
    }
  }
}

export function startEventOutputs(
  config: Config,
  calls: Pick<CallService, 'subscribe' | 'get'>,
  logger: Logger,
  overrides: EventOutputOverrides = {},
): EventOutputs {
  checkEventSettings(config)
  const tuning = tuningFrom(config, overrides.tuning)
  const sinks: EventSink[] = []
  if (config.webhookUrls.length > 0) {
    sinks.push(
      createWebhookSink(calls, {
        urls: config.webhookUrls,
        secret: config.webhookSecret,
        events: config.webhookEvents.length > 0 ? config.webhookEvents : DEFAULT_WEBHOOK_EVENTS,
        tuning,
        logger,
      }),
    )
  }
  if (config.actionUrls.length > 0) sinks.push(createActionUrlSink(calls, { templates: config.actionUrls, tuning, logger }))
  let cdr: SqliteCdrStore | undefined
  let recorder: CdrRecorder | undefined
  if (config.cdrDatabase) {
    cdr = new SqliteCdrStore({
      path: config.cdrDatabase,
      retentionDays: config.cdrRetentionDays,
      logger,
      ...(overrides.cdrFlushIntervalMs ? { flushIntervalMs: overrides.cdrFlushIntervalMs } : {}),
    })
    recorder = recordCalls(calls, cdr, logger)
  }
  return {
    cdr,
    stats: () => ({
      notifications: sinks.flatMap((s) => s.stats()),
      ...(cdr ? { cdr: cdr.stats() } : {}),
      ...(recorder ? { recorder: recorder.stats() } : {}),
    }),
    async close(timeoutMs: number): Promise<void> {
      recorder?.stop()
      await Promise.all([cdr?.close(Math.max(timeoutMs, 1000)), ...sinks.map((s) => s.close(timeoutMs))])
    },
  }
}
