/**
 * Webhooks: each call event (of the chosen types) becomes one signed JSON
 * POST to every WebhookUrl. Each URL has its own queue and connections, so
 * a slow or dead receiver delays only itself. See docs/events.md.
 */
import type { Logger } from 'pino'
import type { CallEvent, CallService } from '../call'
import { version } from '../version'
import { Receiver, type DeliveryStats } from './delivery'
import { webhookPayload } from './payload'
import { SIGNATURE_HEADER, signatureValue } from './signature'
import { parseTarget } from './target'

export interface DeliveryTuning {
  concurrency: number
  queueSize: number
  maxAttempts: number
  timeoutMs: number
  backoffBaseMs: number
  backoffMaxMs: number
}

export interface EventSink {
  stats(): DeliveryStats[]
  /** unsubscribe, then give queued notifications until timeoutMs to go out */
  close(timeoutMs: number): Promise<void>
}

export interface WebhookOptions {
  urls: readonly string[]
  /** blank: requests are not signed (a warning at start) */
  secret: string
  /** event types sent */
  events: readonly string[]
  tuning: DeliveryTuning
  logger: Logger
}

export function createWebhookSink(calls: Pick<CallService, 'subscribe' | 'get'>, options: WebhookOptions): EventSink {
  const log = options.logger.child({ module: 'webhook' })
  const wanted = new Set(options.events)
  const receivers = options.urls.map((u) => {
    const target = parseTarget(u)
    return { target, receiver: new Receiver({ kind: 'webhook', target: target.display, logger: log, ...options.tuning }) }
  })
  if (!options.secret) log.warn({ receivers: receivers.map((r) => r.target.display) }, 'WebhookSecret is blank: webhooks are sent unsigned')
  let errors = 0
  const onEvent = (event: CallEvent): void => {
    if (!wanted.has(event.type)) return
    try {
      const body = JSON.stringify(webhookPayload(event, calls.get(event.callId)))
      const id = `${event.callId}-${event.seq}`
      for (const { target, receiver } of receivers) {
        receiver.enqueue({
          key: event.callId,
          id,
          type: event.type,
          attempts: 0,
          request: () => {
            const headers: Record<string, string> = {
              ...target.headers,
              'Content-Type': 'application/json',
              'User-Agent': `clicktocall/${version}`,
              'X-Clicktocall-Event': event.type,
              'X-Clicktocall-Delivery': id,
            }
            if (options.secret) headers[SIGNATURE_HEADER] = signatureValue(options.secret, body, Math.floor(Date.now() / 1000))
            return { url: target.url.href, init: { method: 'POST', headers, body } }
          },
        })
      }
    } catch (err) {
      errors++
      log.error({ err, callId: event.callId, type: event.type, errors }, 'webhook not queued')
    }
  }
  const unsubscribe = calls.subscribe(onEvent)
  return {
    stats: () => receivers.map((r) => r.receiver.stats()),
    async close(timeoutMs: number): Promise<void> {
      unsubscribe()
      await Promise.all(receivers.map((r) => r.receiver.close(timeoutMs)))
    },
  }
}
