/**
 * Command URLs in the style of Auerswald's phones, for tools that only do
 * GET: /api/v1/exec/command?action=call|terminate|hold|resume|transfer,
 * `action=?` lists the actions, `&help` describes one. Authorized by a token
 * (HttpCommandToken) in `Authorization: Bearer <token>` or `AuthToken=`,
 * compared in constant time; refused while no token is configured. Answers
 * are JSON; errors problem+json.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { CallHandle, LegRole, VerbOutcome } from '../call'
import { callJson } from './call-json'
import { Fields, queryObject } from './fields'
import { HttpProblem } from './problem'
import type { RequestContext, Route } from './route'
import { startProblem, verbProblem } from './verbs'

interface Action {
  params: string
  help: string
  run(ctx: RequestContext, f: Fields): Promise<void> | void
}

function tokenOk(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b) && given.length === expected.length
}

function json(ctx: RequestContext, status: number, value: unknown): void {
  ctx.send({ status, body: JSON.stringify(value), type: 'application/json' })
}

function live(ctx: RequestContext, f: Fields): CallHandle {
  const id = f.string('callId', { required: true, max: 256 })!
  const handle = ctx.calls.find(id)
  if (handle && !handle.ended) return handle
  if (handle || ctx.calls.get(id)) throw new HttpProblem('call-ended', `call ${id} has ended`)
  throw new HttpProblem('not-found', `no call ${id}`)
}

async function applied(ctx: RequestContext, action: string, handle: CallHandle, r: VerbOutcome): Promise<void> {
  if (!r.ok) throw verbProblem(r)
  ctx.log.info({ callId: handle.id, action, remote: ctx.remote }, 'command URL applied')
  json(ctx, 200, { result: 'ok', action, callId: handle.id, call: callJson(handle.snapshot(), handle) })
}

const ACTIONS: Record<string, Action> = {
  call: {
    params: 'number, initiator[, anchor=true][, setupId]',
    help: 'rings `initiator` first, then connects it to `number` (both through the translation rules)',
    run(ctx, f) {
      const destination = f.string('number', { required: true, max: 512 })!
      const initiator = f.string('initiator', { required: true, max: 512 })!
      const anchor = f.boolean('anchor') ?? false
      const setupId = f.setupId()
      if (setupId !== undefined) {
        const known = ctx.calls.findBySetupId(setupId)
        if (known) return json(ctx, 200, { result: 'ok', action: 'call', callId: known.id, existing: true, call: callJson(known, ctx.calls.find(known.id)) })
      }
      if (!ctx.takeCallSlot()) throw new HttpProblem('too-many-requests', 'too many calls from your address (HttpRateLimit)', {}, { 'Retry-After': '60' })
      const outcome = ctx.calls.start({
        initiator,
        destination,
        anchor,
        origin: { frontEnd: 'command', remoteAddress: ctx.remote },
        ...(setupId !== undefined ? { setupId } : {}),
      })
      if (!outcome.ok) throw startProblem(outcome)
      ctx.log.info({ callId: outcome.call.id, remote: ctx.remote }, 'command URL started a call')
      json(ctx, outcome.existing ? 200 : 201, { result: 'ok', action: 'call', callId: outcome.call.id, call: callJson(outcome.call.snapshot(), outcome.call) })
    },
  },
  terminate: {
    params: 'callId',
    help: 'ends the call: CANCEL while it rings, BYE once up (callId: our id, a setupId or a SIP Call-ID)',
    async run(ctx, f) {
      const h = live(ctx, f)
      await applied(ctx, 'terminate', h, await h.end())
    },
  },
  hold: {
    params: 'callId[, leg=initiator|destination]',
    help: 'holds a leg (default both)',
    async run(ctx, f) {
      const h = live(ctx, f)
      await applied(ctx, 'hold', h, await h.hold(f.leg('leg')))
    },
  },
  resume: {
    params: 'callId[, leg=initiator|destination]',
    help: 'resumes a held leg (default both)',
    async run(ctx, f) {
      const h = live(ctx, f)
      await applied(ctx, 'resume', h, await h.unhold(f.leg('leg')))
    },
  },
  transfer: {
    params: 'callId, number[, leg=destination|initiator]',
    help: 'blind transfer: the party on `leg` (default destination, the initiator\'s remote party) is connected to `number`; the other party is released',
    async run(ctx, f) {
      const h = live(ctx, f)
      const target = f.string('number', { required: true, max: 512 })!
      const leg: LegRole = f.leg('leg') ?? 'destination'
      await applied(ctx, 'transfer', h, await h.transfer(leg, target))
    },
  },
}

async function command(ctx: RequestContext): Promise<void> {
  const token = ctx.settings.commandToken
  if (token === '') throw new HttpProblem('no-token', 'the command URL is off: set HttpCommandToken')
  const header = ctx.req.headers.authorization ?? ''
  const bearer = /^\s*Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
  const given = bearer ?? ctx.url.searchParams.get('AuthToken') ?? ''
  if (!given || !tokenOk(given, token)) {
    ctx.log.warn({ remote: ctx.remote, given: given ? 'wrong' : 'none' }, 'command URL: bad token')
    throw new HttpProblem('unauthorized', given ? 'wrong token' : 'a token is required: Authorization: Bearer <token> or AuthToken=<token>', {}, { 'WWW-Authenticate': 'Bearer realm="command"' })
  }
  const action = ctx.url.searchParams.get('action') ?? ''
  if (action === '?') {
    json(ctx, 200, { actions: Object.keys(ACTIONS) })
    return
  }
  const a = ACTIONS[action]
  if (!a || !Object.prototype.hasOwnProperty.call(ACTIONS, action)) {
    throw new HttpProblem('bad-request', `action: ${action ? `unknown action ${action.slice(0, 40)}` : 'is required'}; action=? lists them`, { errors: [{ parameter: 'action', detail: 'unknown' }] })
  }
  if (ctx.url.searchParams.has('help')) {
    json(ctx, 200, { action, params: a.params, help: a.help })
    return
  }
  if (ctx.req.method === 'HEAD') throw new HttpProblem('method-not-allowed', 'HEAD does not run commands', {}, { Allow: 'GET' })
  await a.run(ctx, new Fields(queryObject(ctx.url, ['action', 'AuthToken']), 'query'))
}

export const commandRoutes: Route[] = [{ methods: ['GET', 'HEAD'], path: /^\/api\/v1\/exec\/command$/, auth: 'token', errors: 'problem', handle: command }]
