/**
 * Action URLs, as Auerswald phones send them: a GET per call event to a
 * template such as
 *   http://crm.example/events?event={event}&callId={callId}&number={number}
 * with the seed document's event names and every value URL-encoded.
 * Events with no Auerswald counterpart (ringing, answered...) are not sent.
 * See docs/events.md for the mapping.
 */
import type { Logger } from 'pino'
import type { CallEvent, CallService, CallSnapshot } from '../call'
import { version } from '../version'
import { Receiver } from './delivery'
import { parseTarget } from './target'
import type { DeliveryTuning, EventSink } from './webhook'

export const ACTION_URL_PLACEHOLDERS = [
  'event',
  'callId',
  'callId2',
  'setupId',
  'number',
  'name',
  'initiator',
  'destination',
  'translatedInitiator',
  'translatedDestination',
  'leg',
  'cause',
  'endedBy',
  'code',
  'type',
  'seq',
  'time',
  'timestamp',
] as const

export type Placeholder = (typeof ACTION_URL_PLACEHOLDERS)[number]

const PLACEHOLDER = /\{([A-Za-z0-9]+)\}/g

/** checks a template (at configuration time): known placeholders, an http(s) URL once filled */
export function checkActionUrl(template: string): string {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!(ACTION_URL_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      throw new Error(`unknown placeholder {${m[1]}} (known: ${ACTION_URL_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`)
    }
  }
  parseTarget(template.replace(PLACEHOLDER, 'x'))
  return template
}

/** the Auerswald event name of a call event, or undefined when there is none */
export function auerswaldEvent(e: CallEvent): string | undefined {
  switch (e.type) {
    case 'created':
      return 'outgoing'
    case 'bridged':
    case 'resumed':
      return 'connected'
    case 'held':
      return 'holding'
    case 'transferring':
      return 'transfer_initiated'
    case 'transferred':
      return e.ok ? 'transferred' : 'transfer_failed'
    case 'joined':
      return e.ok ? 'transfer_done' : 'transfer_failed'
    case 'ended':
      return 'disconnected'
    default:
      return undefined
  }
}

/** `"Bob" <sip:...>` -> Bob; otherwise blank */
function displayName(address: string): string {
  const m = /^\s*"((?:[^"\\]|\\.)*)"\s*</.exec(address) ?? /^\s*([^"<]+?)\s*</.exec(address)
  return m ? m[1]!.replace(/\\(.)/g, '$1') : ''
}

export function actionUrlValues(e: CallEvent, name: string, s: CallSnapshot | undefined): Record<Placeholder, string> {
  const destination = e.type === 'created' ? e.destination : (s?.destination ?? '')
  let number = destination
  let callId2 = ''
  if (e.type === 'transferring' || e.type === 'transferred') number = e.target
  if (e.type === 'joined') callId2 = e.otherCallId
  const leg = 'leg' in e ? e.leg : ''
  return {
    event: name,
    callId: e.callId,
    callId2,
    setupId: e.setupId ?? '',
    number,
    name: displayName(destination),
    initiator: e.type === 'created' ? e.initiator : (s?.initiator ?? ''),
    destination,
    translatedInitiator: e.type === 'created' ? e.translatedInitiator : (s?.translatedInitiator ?? ''),
    translatedDestination: e.type === 'created' ? e.translatedDestination : (s?.translatedDestination ?? ''),
    leg,
    cause: e.type === 'ended' ? e.cause : '',
    endedBy: e.type === 'ended' ? e.endedBy : '',
    code: e.type === 'ended' ? String(e.code) : e.type === 'transferred' || e.type === 'joined' ? String(e.status) : '',
    type: e.type,
    seq: String(e.seq),
    time: new Date(e.at).toISOString(),
    timestamp: String(Math.floor(e.at / 1000)),
  }
}

export function expandActionUrl(template: string, values: Record<Placeholder, string>): string {
  return template.replace(PLACEHOLDER, (_, k: string) => encodeURIComponent(values[k as Placeholder] ?? ''))
}

export interface ActionUrlOptions {
  templates: readonly string[]
  tuning: DeliveryTuning
  logger: Logger
}

export function createActionUrlSink(calls: Pick<CallService, 'subscribe' | 'get'>, options: ActionUrlOptions): EventSink {
  const log = options.logger.child({ module: 'action-url' })
  const receivers = options.templates.map((template) => {
    checkActionUrl(template)
    const display = parseTarget(template.replace(PLACEHOLDER, 'x')).display
    return { template, receiver: new Receiver({ kind: 'action-url', target: display, logger: log, ...options.tuning }) }
  })
  const onEvent = (event: CallEvent): void => {
    const name = auerswaldEvent(event)
    if (!name) return
    try {
      const values = actionUrlValues(event, name, calls.get(event.callId))
      for (const { template, receiver } of receivers) {
        const target = parseTarget(expandActionUrl(template, values))
        receiver.enqueue({
          key: event.callId,
          id: `${event.callId}-${event.seq}`,
          type: name,
          attempts: 0,
          request: () => ({ url: target.url.href, init: { method: 'GET', headers: { ...target.headers, 'User-Agent': `clicktocall/${version}` } } }),
        })
      }
    } catch (err) {
      log.error({ err, callId: event.callId, type: event.type }, 'action URL not queued')
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
