/**
 * The OpenAPI 3.1 description of the REST API, served at /v1/openapi.json.
 * A test checks every route's real answers against it.
 */
import { CDR_PROBLEMS } from '../store'
import { version } from '../version'
import { PROBLEMS, PROBLEM_TYPE_PREFIX } from './problem'

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` })
const nullable = (type: string): { type: string[] } => ({ type: [type, 'null'] })

const problem = (description: string): object => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } })
const callAnswer = (description: string): object => ({ description, content: { 'application/json': { schema: ref('Call') } } })

const ERRORS = {
  '400': problem('The request or its body is not valid (`invalid-body`, `bad-request`, `no-translation`, `invalid-uri`)'),
  '401': problem('Authentication required (Digest; Basic when HttpAuthBasic is on)'),
  '403': problem('A request from another site (`forbidden`), or naming an identity when HttpAllowIdentity is off'),
  '421': problem('Host does not name this server'),
  '429': problem('Too many calls from this address, or too many failed logins'),
}

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'the call id, its setupId, or the SIP Call-ID of either leg',
  schema: { type: 'string', maxLength: 128 },
}

const verbPath = (summary: string, body: string | undefined, extra: Record<string, object> = {}): object => ({
  post: {
    summary,
    tags: ['calls'],
    parameters: [idParam],
    ...(body ? { requestBody: { required: body !== 'LegBody', content: { 'application/json': { schema: ref(body) } } } } : {}),
    responses: {
      '200': callAnswer('The verb applied; the call as it is now'),
      ...ERRORS,
      '404': problem('No such call'),
      '409': problem('The verb does not apply in the call\'s state (`call-ended`, `not-in-call`, `leg-not-answered`, `bad-state`)'),
      '413': problem('Body too large'),
      '415': problem('Body not application/json'),
      '502': problem('The phone refused (`sip-failed`; `sipStatus` has its SIP code)'),
      ...extra,
    },
  },
})

const leg = { type: 'string', enum: ['initiator', 'destination'] }

const legSnapshot = {
  type: 'object',
  required: ['role', 'uri', 'status', 'sipCallId', 'held', 'code', 'answeredAt', 'endedAt'],
  properties: {
    role: leg,
    uri: { type: 'string' },
    status: { type: 'string', enum: ['idle', 'calling', 'ringing', 'answered', 'ended'] },
    sipCallId: nullable('string'),
    held: { type: 'boolean' },
    code: nullable('integer'),
    answeredAt: nullable('number'),
    endedAt: nullable('number'),
  },
}

const times = {
  type: 'object',
  required: ['createdAt', 'initiatorAnsweredAt', 'destinationAnsweredAt', 'bridgedAt', 'endedAt'],
  properties: {
    createdAt: { type: 'number', description: 'ms since the epoch' },
    initiatorAnsweredAt: nullable('number'),
    destinationAnsweredAt: nullable('number'),
    bridgedAt: nullable('number'),
    endedAt: nullable('number'),
  },
}

const result = {
  type: 'object',
  required: ['code', 'text', 'final', 'at'],
  properties: {
    code: { type: 'integer' },
    leg: { type: 'string', enum: ['Initiator', 'Destination'] },
    text: { type: 'string' },
    final: { type: 'boolean' },
    translatedInitiator: { type: 'string' },
    translatedDestination: { type: 'string' },
    at: { type: 'number' },
  },
}

const call = {
  type: 'object',
  required: ['id', 'setupId', 'state', 'anchor', 'mode', 'origin', 'initiator', 'destination', 'translatedInitiator', 'translatedDestination', 'createdAt', 'endedAt', 'results', 'legs', 'times', 'holds', 'transfers', 'cause', 'endedBy', 'code', 'links'],
  properties: {
    id: { type: 'string' },
    setupId: nullable('string'),
    state: { type: 'string' },
    anchor: { type: 'boolean' },
    mode: { type: 'string', enum: ['anchored', 'refer', 'refer-fallback'] },
    origin: {
      type: 'object',
      required: ['frontEnd', 'remoteAddress'],
      properties: { frontEnd: { type: 'string' }, remoteAddress: { type: 'string' }, user: { type: 'string' } },
    },
    initiator: { type: 'string' },
    destination: { type: 'string' },
    translatedInitiator: { type: 'string' },
    translatedDestination: { type: 'string' },
    createdAt: { type: 'number' },
    endedAt: nullable('number'),
    results: { type: 'array', items: result },
    legs: { type: 'object', required: ['initiator', 'destination'], properties: { initiator: legSnapshot, destination: legSnapshot } },
    times,
    holds: { type: 'integer' },
    transfers: { type: 'integer' },
    cause: { type: ['string', 'null'], enum: ['completed', 'busy', 'no-answer', 'rejected', 'failed', 'cancelled', 'joined', null] },
    endedBy: { type: ['string', 'null'], enum: ['initiator', 'destination', 'server', 'api', 'timeout', null] },
    code: nullable('integer'),
    events: {
      type: 'array',
      description: 'typed events so far, oldest first (while the call layer still holds the call)',
      items: { type: 'object', required: ['type', 'callId', 'seq', 'at'], properties: { type: { type: 'string' }, callId: { type: 'string' }, seq: { type: 'integer' }, at: { type: 'number' } } },
    },
    links: { type: 'object', required: ['self'], properties: { self: { type: 'string' } } },
  },
}

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'clicktocall REST API',
      version,
      description: 'Place and steer third-party calls. Errors are RFC 9457 problem details; `type` is one of ' +
        Object.keys(PROBLEMS).map((k) => `\`${PROBLEM_TYPE_PREFIX}${k}\``).join(', ') + '.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { digest: { type: 'http', scheme: 'digest' }, basic: { type: 'http', scheme: 'basic' } },
      schemas: {
        Call: call,
        CallList: { type: 'object', required: ['calls'], properties: { calls: { type: 'array', items: call } } },
        CdrRecord: { type: 'object', required: ['callId', 'createdAt', 'endedAt', 'outcome'], properties: { callId: { type: 'string' }, createdAt: { type: 'string' }, endedAt: { type: 'string' }, outcome: { type: 'string' } } },
        CdrPage: { type: 'object', required: ['records', 'nextCursor'], properties: { records: { type: 'array', items: ref('CdrRecord') }, nextCursor: { type: ['string', 'null'] } } },
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: { type: 'string', enum: [...new Set([...Object.keys(PROBLEMS).map((k) => `${PROBLEM_TYPE_PREFIX}${k}`), ...Object.values(CDR_PROBLEMS)])] },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            instance: { type: 'string' },
            errors: {
              type: 'array',
              description: 'the fields that are wrong: a JSON pointer into the body, or a query parameter',
              items: { type: 'object', properties: { pointer: { type: 'string' }, parameter: { type: 'string' }, detail: { type: 'string' } } },
            },
            line: { type: 'integer', description: 'invalid-body: where the JSON text goes wrong' },
            column: { type: 'integer' },
            position: { type: 'integer', description: 'offset in the body' },
            limit: { type: 'integer', description: 'too-large: HttpMaxBodySize' },
            sipStatus: { type: 'integer', description: 'sip-failed: the SIP status the phone answered' },
          },
        },
        CallRequest: {
          type: 'object',
          required: ['initiator', 'destination'],
          additionalProperties: false,
          properties: {
            initiator: { type: 'string', maxLength: 512, description: 'called first; a SIP URI or anything a translation rule accepts' },
            destination: { type: 'string', maxLength: 512 },
            anchor: { type: 'boolean', default: false, description: 'true: the server bridges the two legs (B2BUA); false: REFER' },
            subject: { type: 'string', maxLength: 256, description: 'Subject header of the INVITE to the initiator' },
            ringTimeout: { type: 'integer', minimum: 1, maximum: 3600, description: 'seconds the initiator may ring (default InitiatorRingTimeout)' },
            setupId: { type: 'string', pattern: '^[A-Za-z0-9._:@-]{1,128}$', description: 'idempotency id: a retry with the same id returns the same call' },
            forwardingAllowed: { type: 'boolean', description: 'false: a 3xx to the initiator\'s INVITE fails the call' },
            identity: { type: 'string', description: 'SIP URI the server calls as (From to the initiator, Referred-By); needs HttpAllowIdentity' },
            callerId: { type: 'string', description: 'another name for identity' },
          },
        },
        LegBody: { type: 'object', additionalProperties: false, properties: { leg } },
        TransferRequest: { type: 'object', required: ['leg', 'target'], additionalProperties: false, properties: { leg, target: { type: 'string', maxLength: 512 } } },
        JoinRequest: {
          type: 'object',
          required: ['leg', 'otherCall', 'otherLeg'],
          additionalProperties: false,
          properties: { leg, otherCall: { type: 'string', maxLength: 128 }, otherLeg: leg },
        },
      },
    },
    security: [{ digest: [] }, { basic: [] }],
    paths: {
      '/v1/openapi.json': {
        get: { summary: 'This document', tags: ['meta'], security: [], responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object', required: ['openapi', 'paths'] } } } } } },
      },
      '/v1/calls': {
        post: {
          summary: 'Place a call',
          tags: ['calls'],
          requestBody: { required: true, content: { 'application/json': { schema: ref('CallRequest') } } },
          responses: {
            '201': { ...callAnswer('The call was started'), headers: { Location: { schema: { type: 'string' } } } },
            '200': { ...callAnswer('A call with this setupId exists: that call (idempotent retry)'), headers: { Location: { schema: { type: 'string' } } } },
            ...ERRORS,
            '413': problem('Body too large (HttpMaxBodySize)'),
            '415': problem('Body not application/json'),
            '503': problem('At MaxCalls'),
          },
        },
        get: {
          summary: 'List live calls',
          tags: ['calls'],
          parameters: ['state', 'initiator', 'destination', 'setupId'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
          responses: { '200': { description: 'Live calls (with setupId: also one that ended within ResultCacheTime)', content: { 'application/json': { schema: ref('CallList') } } }, ...ERRORS },
        },
        delete: {
          summary: 'End the call with this setupId (CANCEL while it rings, BYE once up)',
          tags: ['calls'],
          parameters: [{ name: 'setupId', in: 'query', required: true, schema: { type: 'string' } }],
          responses: { '200': callAnswer('The call, ended'), ...ERRORS, '404': problem('No call with this setupId'), '409': problem('The call has already ended') },
        },
      },
      '/v1/calls/{id}': {
        get: {
          summary: 'A call with its legs, state, events and times; after ResultCacheTime, its call detail record',
          tags: ['calls'],
          parameters: [idParam],
          responses: {
            '200': {
              description: 'The call (while it lives and ResultCacheTime after), or `{record}` from the call detail records',
              content: { 'application/json': { schema: { oneOf: [ref('Call'), { type: 'object', required: ['record'], properties: { record: ref('CdrRecord') }, additionalProperties: false }] } } },
            },
            ...ERRORS,
            '404': problem('No such call, live, kept or recorded'),
          },
        },
        delete: { summary: 'End a call (CANCEL before answer, BYE after)', tags: ['calls'], parameters: [idParam], responses: { '200': callAnswer('The call, ended'), ...ERRORS, '404': problem('No such call'), '409': problem('The call has already ended') } },
      },
      '/v1/cdr': {
        get: {
          summary: 'Call detail records, newest first; filters from, to, initiator, destination, outcome; limit and cursor',
          tags: ['cdr'],
          parameters: ['from', 'to', 'initiator', 'destination', 'outcome', 'limit', 'cursor'].map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
          responses: {
            '200': { description: 'A page of records (JSON, or CSV with `Accept: text/csv` and the next cursor in X-Next-Cursor)', content: { 'application/json': { schema: ref('CdrPage') }, 'text/csv': { schema: { type: 'string' } } } },
            '400': problem('A filter is not valid'),
            '401': problem('Authentication required'),
            '503': problem('Call detail records are off (CdrDatabase blank) or unavailable'),
          },
        },
      },
      '/v1/calls/{id}/hold': verbPath('Hold a leg, or both (re-INVITE with a=sendonly)', 'LegBody'),
      '/v1/calls/{id}/unhold': verbPath('Resume a leg, or both', 'LegBody'),
      '/v1/calls/{id}/transfer': verbPath('Blind transfer: the party on `leg` ends up talking to `target`; the other party is released', 'TransferRequest'),
      '/v1/calls/{id}/join': verbPath('Attended transfer: `leg` of this call talks to `otherLeg` of `otherCall`', 'JoinRequest'),
    },
  }
}
