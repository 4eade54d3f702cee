/**
 * sipXrest's third-party call controller URL: POST
 * /callcontroller/{callingParty}/{calledParty}?agent=&subject=&isForwardingAllowed=&timeout=&resultCacheTime=
 * places a call from callingParty to calledParty (REFER, through the
 * translation rules); GET on the same URL answers the progress of the most
 * recent setup for that (agent, calling, called), kept resultCacheTime
 * seconds after it ended, in sipXrest's <status-lines> document.
 */
import type { CallHandle, CallSnapshot } from '../call'
import { Fields, queryObject } from './fields'
import { requestedIdentity } from './identity'
import { HttpProblem } from './problem'
import type { RequestContext, Route } from './route'
import { processingStatus, sipStatusLine, statusLinesDocument, type StatusLine } from './sipxrest-xml'
import { startProblem } from './verbs'

const XML = 'text/xml; charset=utf-8'
/** sipXrest's defaults, seconds */
const DEFAULT_TIMEOUT = 180
const DEFAULT_CACHE = 180
/** most setups remembered; past PRUNE_AT, each new one first drops those whose cache time is over */
const MAX_ENTRIES = 2000
const PRUNE_AT = 256

interface Setup {
  call: CallHandle
  cacheMs: number
}

function expired(s: Setup, now: number): boolean {
  const endedAt = s.call.ended ? (s.call.snapshot().endedAt ?? now) : undefined
  return endedAt !== undefined && now - endedAt > s.cacheMs
}

function remember(setups: Map<string, Setup>, key: string, s: Setup): void {
  const now = Date.now()
  setups.delete(key)
  if (setups.size >= PRUNE_AT) for (const [k, v] of setups) if (expired(v, now)) setups.delete(k)
  setups.set(key, s)
  while (setups.size > MAX_ENTRIES) setups.delete(setups.keys().next().value as string)
}

/** each SIP status the call saw, as sipXrest lists them */
export function statusLines(snap: CallSnapshot): StatusLine[] {
  const initiatorCallId = snap.legs.initiator.sipCallId ?? ''
  const referred = snap.mode === 'refer'
  const out: StatusLine[] = []
  for (const r of snap.results) {
    if (!r.leg) continue
    if (r.leg === 'Initiator') out.push({ at: r.at, callId: initiatorCallId, method: 'INVITE', statusLine: sipStatusLine(r.code, r.text) })
    // unanchored: the destination's progress came in NOTIFYs of the REFER (the initiator's dialog)
    else if (referred) out.push({ at: r.at, callId: initiatorCallId, method: 'NOTIFY', statusLine: sipStatusLine(r.code, r.text) })
    else out.push({ at: r.at, callId: snap.legs.destination.sipCallId ?? '', method: 'INVITE', statusLine: sipStatusLine(r.code, r.text) })
  }
  return out
}

function parties(ctx: RequestContext): { calling: string; called: string } {
  return { calling: ctx.params.calling!, called: ctx.params.called! }
}

function keyOf(agent: string | undefined, calling: string, called: string): string {
  return `${agent ?? ''}\u0000${calling}\u0000${called}`
}

function place(setups: Map<string, Setup>, ctx: RequestContext): void {
  const { calling, called } = parties(ctx)
  const f = new Fields(queryObject(ctx.url), 'query')
  const agentName = f.string('agent', { max: 256 })
  const subject = f.string('subject', { max: 256 })
  const forwarding = f.boolean('isForwardingAllowed') ?? false
  const timeout = f.integer('timeout', 1, 86_400) ?? DEFAULT_TIMEOUT
  const cache = f.integer('resultCacheTime', 0, 86_400) ?? DEFAULT_CACHE
  const identity = requestedIdentity(agentName, 'agent', ctx.settings)
  if (!ctx.takeCallSlot()) throw new HttpProblem('too-many-requests', 'too many calls from your address (HttpRateLimit)', {}, { 'Retry-After': '60' })
  const outcome = ctx.calls.start({
    initiator: calling,
    destination: called,
    anchor: false,
    origin: { frontEnd: 'sipxrest', remoteAddress: ctx.remote, ...(ctx.user ? { user: ctx.user } : {}) },
    initiatorRingTimeoutMs: timeout * 1000,
    forwardingAllowed: forwarding,
    ...(subject !== undefined ? { subject } : {}),
    ...(identity !== undefined ? { identity } : {}),
  })
  if (!outcome.ok) throw startProblem(outcome)
  remember(setups, keyOf(agentName, calling, called), { call: outcome.call, cacheMs: cache * 1000 })
  ctx.log.info({ callId: outcome.call.id, remote: ctx.remote }, 'sipXrest request started a call')
  ctx.send({ status: 200, body: processingStatus(false, 200, 'Success'), type: XML, headers: { 'X-Call-Id': outcome.call.id, Location: `/v1/calls/${outcome.call.id}` } })
}

function status(setups: Map<string, Setup>, ctx: RequestContext): void {
  const { calling, called } = parties(ctx)
  const agentName = new Fields(queryObject(ctx.url), 'query').string('agent', { max: 256 })
  const key = keyOf(agentName, calling, called)
  const setup = setups.get(key)
  if (!setup || expired(setup, Date.now())) {
    setups.delete(key)
    ctx.send({ status: 200, body: statusLinesDocument([]), type: XML })
    return
  }
  ctx.send({ status: 200, body: statusLinesDocument(statusLines(setup.call.snapshot())), type: XML, headers: { 'X-Call-Id': setup.call.id } })
}

const PATH = /^\/callcontroller\/(?<calling>[^/]{1,256})\/(?<called>[^/]{1,256})$/

/** the routes, with their own table of the most recent setup per (agent, calling, called) */
export function sipxrestRoutes(): Route[] {
  const setups = new Map<string, Setup>()
  return [
    { methods: ['POST'], path: PATH, auth: 'user', errors: 'sipxrest', handle: (ctx) => place(setups, ctx) },
    { methods: ['GET', 'HEAD'], path: PATH, auth: 'user', errors: 'sipxrest', handle: (ctx) => status(setups, ctx) },
  ]
}
