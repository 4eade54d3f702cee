/** Call events out: signed webhooks and Auerswald-style action URLs. */
export { createWebhookSink, type EventSink, type WebhookOptions, type DeliveryTuning } from './webhook'
export { createActionUrlSink, checkActionUrl, auerswaldEvent, actionUrlValues, expandActionUrl, ACTION_URL_PLACEHOLDERS, type ActionUrlOptions } from './action-url'
export { SIGNATURE_HEADER, signatureValue, verifySignature, type SignatureCheck } from './signature'
export { webhookPayload, eventData, DEFAULT_WEBHOOK_EVENTS, ALL_EVENT_TYPES, type WebhookPayload, type LegPayload } from './payload'
export { Receiver, backoffDelay, type DeliveryStats, type DeliveryOptions, type Job } from './delivery'
export { parseTarget, type Target } from './target'
