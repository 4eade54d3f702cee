/**
 * CallStart: start a call and narrate it as call-api does -
 * CallerAnswered, Transferring, TransferStart (data.callid: the id later
 * commands take), TransferPending (data.extra: the callee's status),
 * CalleeAnswered; on failure Error (data: the reason); last Ended.
 * An unanchored (REFER) call ends the command at CalleeAnswered: the
 * server is then out of the call. An anchored call's command goes on until
 * the call ends, so the client hears the hang-up.
 */
import type { CallEvent, CallHandle } from '../call'
import { RpcErrorCode } from './codec'
import type { CommandOutput, Context, Outcome } from './command'
import { optionalBoolean, optionalString, requiredString, type Params } from './params'
import { endedBy } from './view'

const REASONS: Record<number, string> = { 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress' }

/** a provisional status as call-api's clients show it: "180 Ringing" */
export function statusText(status: number): string {
  const reason = REASONS[status]
  return reason ? `${status} ${reason}` : String(status)
}

export function callStart(p: Params, ctx: Context): Outcome {
  const caller = requiredString(p, 'caller')
  const callee = requiredString(p, 'callee')
  const anchor = optionalBoolean(p, 'anchor') ?? true
  const setupId = optionalString(p, 'setup_id')
  const outcome = ctx.calls.start({
    initiator: caller,
    destination: callee,
    anchor,
    origin: { frontEnd: 'json', remoteAddress: ctx.remoteAddress },
    ...(setupId !== undefined ? { setupId } : {}),
  })
  if (!outcome.ok) {
    return { kind: 'error', error: { code: RpcErrorCode.CALL_REFUSED, message: outcome.text, data: { reason: outcome.reason, status: outcome.code } } }
  }
  const call = outcome.call
  ctx.log.info({ callId: call.id, anchor, existing: outcome.existing === true }, 'JSON-RPC CallStart started a call')
  return {
    kind: 'started',
    cmdId: ctx.cmdId ?? call.id,
    extra: { callid: call.id },
    run: (out) => follow(call, caller, callee, out),
  }
}

function follow(call: CallHandle, caller: string, callee: string, out: CommandOutput): () => void {
  let callerAnswered = false
  let calleeAnswered = false
  let referred = false
  const data = (more: Record<string, unknown> = {}): Record<string, unknown> => ({ callid: call.id, caller, callee, ...more })
  const onEvent = (e: CallEvent): void => {
    if (out.over) return
    switch (e.type) {
      case 'answered':
        if (e.leg === 'initiator' && !callerAnswered) {
          callerAnswered = true
          out.event('CallerAnswered', { caller, callee })
          out.event('Transferring', { caller, destination: callee })
          out.event('TransferStart', data())
        }
        return
      // CalleeAnswered when both talk (the bridge is complete or the REFER succeeded), not at the
      // callee's 200: a client's next command (CallHold...) must find the call up
      case 'bridged':
        calleeAnswered = calleeAnswered || announceCallee()
        return
      case 'referring':
        referred = true
        return
      case 'fallback':
        referred = false
        return
      case 'ringing':
        if (e.leg === 'destination' && !calleeAnswered) out.event('TransferPending', data({ extra: statusText(e.status) }))
        return
      case 'ended':
        if (!calleeAnswered) {
          const who = callerAnswered ? 'callee' : 'caller'
          const why = e.cause === 'cancelled' ? `cancelled before the ${who} answered: ${e.reason}` : `${who} leg failed: ${e.code} ${e.reason}`
          out.fail(why, { cause: e.cause, code: e.code })
        } else {
          out.end({ callid: call.id, cause: e.cause, ended_by: endedBy(e.endedBy), code: e.code, reason: e.reason })
        }
        return
      default:
        return
    }
  }
  const announceCallee = (): boolean => {
    out.event('CalleeAnswered', data())
    // unanchored: the server has left the call, the command is over
    if (referred) out.end()
    return true
  }
  const seen = call.events.length > 0 ? call.events[call.events.length - 1]!.seq : 0
  for (const e of call.events) onEvent(e)
  const listener = (e: CallEvent): void => {
    if (e.seq > seen) onEvent(e)
  }
  if (!out.over) call.on('event', listener)
  return () => call.off('event', listener)
}
