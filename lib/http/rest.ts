/**
 * The JSON REST API under /v1: place (with an idempotent setupId), list,
 * read and end calls, and the call layer's verbs (hold, unhold, transfer,
 * join). Bodies are JSON objects; errors are problem+json.
 */
import { cdrCall, cdrList } from '../store'
import type { CallHandle, CallFilter, CallRequest } from '../call'
import { readJsonObject } from './body'
import { callJson } from './call-json'
import { Fields } from './fields'
import { requestedIdentity } from './identity'
import { openApiDocument } from './openapi'
import { HttpProblem } from './problem'
import type { RequestContext, Route } from './route'
import { startProblem, verbProblem } from './verbs'

const JSON_TYPE = 'application/json'

function json(ctx: RequestContext, status: number, value: unknown, headers: Record<string, string> = {}): void {
  ctx.send({ status, body: JSON.stringify(value), type: JSON_TYPE, headers })
}

const body = (ctx: RequestContext): Promise<Record<string, unknown>> => readJsonObject(ctx.req, ctx.settings.maxBodySize)

/** a live call by id (or setup id, or SIP Call-ID); 409 when it has ended, 404 when unknown */
function liveCall(ctx: RequestContext, key: string): CallHandle {
  const handle = ctx.calls.find(key)
  if (handle && !handle.ended) return handle
  if (handle || ctx.calls.get(key) || ctx.calls.findBySetupId(key)) throw new HttpProblem('call-ended', `call ${key} has ended`)
  throw new HttpProblem('not-found', `no call ${key}`)
}

async function placeCall(ctx: RequestContext): Promise<void> {
  const f = new Fields(await body(ctx), 'body').only(['initiator', 'destination', 'anchor', 'subject', 'ringTimeout', 'setupId', 'identity', 'callerId', 'forwardingAllowed'])
  const initiator = f.string('initiator', { required: true, max: 512 })!
  const destination = f.string('destination', { required: true, max: 512 })!
  const anchor = f.boolean('anchor') ?? false
  const subject = f.string('subject', { max: 256 })
  const ringTimeout = f.integer('ringTimeout', 1, 3600)
  const setupId = f.setupId()
  const forwardingAllowed = f.boolean('forwardingAllowed')
  const identity = requestedIdentity(f.sipUri('identity') ?? f.sipUri('callerId'), 'identity', ctx.settings)
  // a retry of a setup id already known: the same call, no rate slot taken
  if (setupId !== undefined) {
    const known = ctx.calls.findBySetupId(setupId)
    if (known) {
      json(ctx, 200, callJson(known, ctx.calls.find(known.id)), { Location: `/v1/calls/${encodeURIComponent(known.id)}` })
      return
    }
  }
  if (!ctx.takeCallSlot()) throw new HttpProblem('too-many-requests', 'too many calls from your address (HttpRateLimit)', {}, { 'Retry-After': '60' })
  const request: CallRequest = {
    initiator,
    destination,
    anchor,
    origin: { frontEnd: 'rest', remoteAddress: ctx.remote, ...(ctx.user ? { user: ctx.user } : {}) },
    ...(setupId !== undefined ? { setupId } : {}),
    ...(subject !== undefined ? { subject } : {}),
    ...(ringTimeout !== undefined ? { initiatorRingTimeoutMs: ringTimeout * 1000 } : {}),
    ...(forwardingAllowed !== undefined ? { forwardingAllowed } : {}),
    ...(identity !== undefined ? { identity } : {}),
  }
  const outcome = ctx.calls.start(request)
  if (!outcome.ok) throw startProblem(outcome)
  const call = outcome.call
  ctx.log.info({ callId: call.id, setupId, remote: ctx.remote, existing: outcome.existing === true }, 'REST request started a call')
  json(ctx, outcome.existing ? 200 : 201, callJson(call.snapshot(), call), { Location: `/v1/calls/${encodeURIComponent(call.id)}` })
}

function listCalls(ctx: RequestContext): void {
  const q = ctx.url.searchParams
  const filter: CallFilter = {}
  for (const k of ['state', 'initiator', 'destination', 'setupId'] as const) {
    const v = q.get(k)
    if (v !== null && v !== '') filter[k] = v
  }
  const calls = ctx.calls.list(filter).map((s) => callJson(s))
  // a setup id also finds a call that ended within ResultCacheTime
  if (filter.setupId !== undefined && calls.length === 0) {
    const ended = ctx.calls.findBySetupId(filter.setupId)
    if (ended) calls.push(callJson(ended))
  }
  json(ctx, 200, { calls })
}

async function endBySetupId(ctx: RequestContext): Promise<void> {
  const setupId = new Fields({ setupId: ctx.url.searchParams.get('setupId') ?? undefined }, 'query').setupId()
  if (setupId === undefined) throw new HttpProblem('bad-request', 'setupId: is required (DELETE /v1/calls?setupId=...)', { errors: [{ parameter: 'setupId', detail: 'is required' }] })
  const snap = ctx.calls.findBySetupId(setupId)
  if (!snap) throw new HttpProblem('not-found', `no call with setupId ${setupId}`)
  await endCall(ctx, snap.id)
}

async function endCall(ctx: RequestContext, key: string): Promise<void> {
  const handle = liveCall(ctx, key)
  const r = await handle.end()
  if (!r.ok) throw verbProblem(r)
  ctx.log.info({ callId: handle.id, remote: ctx.remote }, 'REST request ended a call')
  json(ctx, 200, callJson(handle.snapshot(), handle))
}

type Verb = 'hold' | 'unhold' | 'transfer' | 'join'

async function verb(ctx: RequestContext, name: Verb): Promise<void> {
  const handle = liveCall(ctx, ctx.params.id!)
  const b = await body(ctx)
  let r
  if (name === 'hold' || name === 'unhold') {
    const leg = new Fields(b, 'body').only(['leg']).leg('leg')
    r = await handle[name](leg)
  } else if (name === 'transfer') {
    const f = new Fields(b, 'body').only(['leg', 'target'])
    r = await handle.transfer(f.leg('leg', true)!, f.string('target', { required: true, max: 512 })!)
  } else {
    const f = new Fields(b, 'body').only(['leg', 'otherCall', 'otherLeg'])
    const leg = f.leg('leg', true)!
    const other = f.string('otherCall', { required: true, max: 128 })!
    const otherLeg = f.leg('otherLeg', true)!
    const otherHandle = liveCall(ctx, other)
    r = await handle.join(leg, otherHandle, otherLeg)
  }
  if (!r.ok) throw verbProblem(r)
  ctx.log.info({ callId: handle.id, verb: name, remote: ctx.remote }, 'REST verb applied')
  json(ctx, 200, callJson(handle.snapshot(), handle))
}

function getCall(ctx: RequestContext): void {
  const key = ctx.params.id!
  const handle = ctx.calls.find(key)
  const snap = handle?.snapshot() ?? ctx.calls.get(key) ?? ctx.calls.findBySetupId(key)
  if (snap) {
    json(ctx, 200, callJson(snap, handle))
    return
  }
  // past ResultCacheTime: the call detail record, when there is one
  const record = ctx.cdr ? cdrCall(ctx.cdr, key) : undefined
  if (record?.status === 200) {
    ctx.send(record)
    return
  }
  throw new HttpProblem('not-found', `no call ${key}`)
}

/** GET /v1/cdr: call detail records, JSON or CSV (Accept: text/csv), cursor-paged */
function listRecords(ctx: RequestContext): void {
  ctx.send(cdrList(ctx.cdr, ctx.url.searchParams, ctx.req.headers.accept))
}

const ID = '(?<id>[^/]{1,128})'

export const restRoutes: Route[] = [
  { methods: ['GET', 'HEAD'], path: /^\/v1\/openapi\.json$/, auth: 'none', errors: 'problem', handle: (ctx) => json(ctx, 200, openApiDocument()) },
  { methods: ['POST'], path: /^\/v1\/calls$/, auth: 'user', errors: 'problem', handle: placeCall },
  { methods: ['GET', 'HEAD'], path: /^\/v1\/calls$/, auth: 'user', errors: 'problem', handle: listCalls },
  { methods: ['DELETE'], path: /^\/v1\/calls$/, auth: 'user', errors: 'problem', handle: endBySetupId },
  { methods: ['GET', 'HEAD'], path: new RegExp(`^/v1/calls/${ID}$`), auth: 'user', errors: 'problem', handle: getCall },
  { methods: ['GET', 'HEAD'], path: /^\/v1\/cdr$/, auth: 'user', errors: 'problem', handle: listRecords },
  { methods: ['DELETE'], path: new RegExp(`^/v1/calls/${ID}$`), auth: 'user', errors: 'problem', handle: (ctx) => endCall(ctx, ctx.params.id!) },
  ...(['hold', 'unhold', 'transfer', 'join'] as const).map(
    (name): Route => ({ methods: ['POST'], path: new RegExp(`^/v1/calls/${ID}/${name}$`), auth: 'user', errors: 'problem', handle: (ctx) => verb(ctx, name) }),
  ),
]
