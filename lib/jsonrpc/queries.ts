/**
 * What call-api lacks: CallStatus (one call), CallList (live calls) and
 * Subscribe (every event of every call, or of one call, on this
 * connection, until Unsubscribe or the connection closes).
 */
import { randomUUID } from 'node:crypto'
import type { CallEvent, CallFilter } from '../call'
import { RpcErrorCode } from './codec'
import type { Context, Outcome } from './command'
import { optionalString, requiredString, type Params } from './params'
import { callView, eventView } from './view'
import { findLive } from './verbs'

function cmdId(ctx: Context): string {
  return ctx.cmdId ?? randomUUID()
}

export function callStatus(p: Params, ctx: Context): Outcome {
  const key = requiredString(p, 'callid')
  const snapshot = ctx.calls.find(key)?.snapshot() ?? ctx.calls.get(key) ?? ctx.calls.findBySetupId(key)
  if (!snapshot) return { kind: 'error', error: { code: RpcErrorCode.UNKNOWN_CALL, message: `no call ${key}`, data: { reason: 'unknown-call' } } }
  return { kind: 'result', result: { event: 'Status', cmd_id: cmdId(ctx), data: callView(snapshot) } }
}

export function callList(p: Params, ctx: Context): Outcome {
  const filter: CallFilter = {}
  const state = optionalString(p, 'state')
  const caller = optionalString(p, 'caller')
  const callee = optionalString(p, 'callee')
  if (state !== undefined) filter.state = state
  if (caller !== undefined) filter.initiator = caller
  if (callee !== undefined) filter.destination = callee
  const calls = ctx.calls.list(filter).map(callView)
  return { kind: 'result', result: { event: 'List', cmd_id: cmdId(ctx), data: { calls } } }
}

export function subscribe(p: Params, ctx: Context): Outcome {
  const key = optionalString(p, 'callid')
  const one = key === undefined ? undefined : findLive(ctx, key)
  if (one && 'kind' in one) return one
  return {
    kind: 'started',
    cmdId: cmdId(ctx),
    ...(one ? { extra: { callid: one.id } } : {}),
    run: (out) => {
      const listener = (e: CallEvent): void => {
        if (out.over) return
        const v = eventView(e)
        if (v) out.event(v.event, v.data)
        if (one && e.type === 'ended') out.end()
      }
      if (one) {
        one.on('event', listener)
        return () => one.off('event', listener)
      }
      return ctx.calls.subscribe(listener)
    },
  }
}

export function unsubscribe(p: Params, ctx: Context): Outcome {
  const id = requiredString(p, 'cmd_id')
  if (!ctx.cancel(id)) {
    return { kind: 'error', error: { code: RpcErrorCode.INVALID_PARAMS, message: `no command ${id} in progress on this connection` } }
  }
  return { kind: 'result', result: { event: 'Unsubscribed', cmd_id: id } }
}
