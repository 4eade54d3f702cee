/**
 * The call-api commands that steer a live call: CallEnd, CallHold,
 * CallUnhold (CallUnHold), CallBlindTransfer, CallAttendedTransfer. Each
 * finds the call (our id, its setup id or either leg's SIP Call-ID), answers
 * Started, narrates with call-api's events, and ends with Ended - after an
 * Error carrying the call layer's refusal when the verb could not apply.
 */
import { randomUUID } from 'node:crypto'
import type { CallEvent, CallHandle, LegRole, VerbOutcome } from '../call'
import { RpcErrorCode } from './codec'
import type { CommandOutput, Context, Outcome } from './command'
import { legName, optionalLeg, requiredLeg, requiredString, type Params } from './params'
import { statusText } from './start'

/** a live call, or the JSON-RPC error that says why there is none */
export function findLive(ctx: Context, key: string): CallHandle | Outcome {
  const call = ctx.calls.find(key)
  if (call) return call
  const kept = ctx.calls.get(key) ?? ctx.calls.findBySetupId(key)
  if (kept && kept.endedAt !== null) {
    return { kind: 'error', error: { code: RpcErrorCode.UNKNOWN_CALL, message: `call ${key} has ended`, data: { reason: 'call-ended' } } }
  }
  return { kind: 'error', error: { code: RpcErrorCode.UNKNOWN_CALL, message: `no call ${key}`, data: { reason: 'unknown-call' } } }
}

function isOutcome(x: CallHandle | Outcome): x is Outcome {
  return 'kind' in x
}

/** the verb's promise decides how the command ends */
function settle(out: CommandOutput, verb: Promise<VerbOutcome>, onOk: () => void): void {
  verb.then(
    (o) => {
      if (out.over) return
      if (o.ok) {
        onOk()
        out.end()
      } else {
        out.fail(o.message, { code: o.code, ...(o.status !== undefined ? { status: o.status } : {}) })
      }
    },
    (err: unknown) => {
      if (!out.over) out.fail(`internal error: ${err instanceof Error ? err.message : String(err)}`, { code: 'internal' })
    },
  )
}

function started(ctx: Context, run: (out: CommandOutput) => () => void): Outcome {
  return { kind: 'started', cmdId: ctx.cmdId ?? randomUUID(), run }
}

export function callEnd(p: Params, ctx: Context): Outcome {
  const call = findLive(ctx, requiredString(p, 'callid'))
  if (isOutcome(call)) return call
  return started(ctx, (out) => {
    settle(out, call.end(), () => undefined)
    return () => undefined
  })
}

function holdOrUnhold(hold: boolean, p: Params, ctx: Context): Outcome {
  const key = requiredString(p, 'callid')
  const leg = optionalLeg(p, 'leg')
  const call = findLive(ctx, key)
  if (isOutcome(call)) return call
  const legs: LegRole[] = leg ? [leg] : ['initiator', 'destination']
  const word = hold ? 'Hold' : 'Unhold'
  return started(ctx, (out) => {
    out.event(hold ? 'CallHolding' : 'CallUnholding')
    for (const l of legs) out.event(`Call${word}Start`, { leg: legName(l) })
    settle(out, hold ? call.hold(leg) : call.unhold(leg), () => {
      for (const l of legs) out.event(`Call${word}Successful`, { leg: legName(l) })
    })
    return () => undefined
  })
}

export const callHold = (p: Params, ctx: Context): Outcome => holdOrUnhold(true, p, ctx)
export const callUnhold = (p: Params, ctx: Context): Outcome => holdOrUnhold(false, p, ctx)

export function callBlindTransfer(p: Params, ctx: Context): Outcome {
  const key = requiredString(p, 'callid')
  const leg = requiredLeg(p, 'leg')
  const destination = requiredString(p, 'destination')
  const call = findLive(ctx, key)
  if (isOutcome(call)) return call
  return started(ctx, (out) => {
    let begun = false
    const data = (more: Record<string, unknown> = {}): Record<string, unknown> => ({ callid: call.id, destination, ...more })
    const begin = (): void => {
      if (!begun) out.event('TransferStart', data())
      begun = true
    }
    const listener = (e: CallEvent): void => {
      if (out.over) return
      if (e.type === 'transferring') begin()
      else if (e.type === 'ringing' && begun) out.event('TransferPending', data({ extra: statusText(e.status) }))
    }
    call.on('event', listener)
    out.event('Transferring', { destination })
    settle(out, call.transfer(leg, destination), () => {
      begin()
      out.event('TransferSuccessful', data())
    })
    return () => call.off('event', listener)
  })
}

export function callAttendedTransfer(p: Params, ctx: Context): Outcome {
  const keyA = requiredString(p, 'callidA', 'callid_a')
  const legA = requiredLeg(p, 'legA', 'leg_a')
  const keyB = requiredString(p, 'callidB', 'callid_b')
  const legB = requiredLeg(p, 'legB', 'leg_b')
  const a = findLive(ctx, keyA)
  if (isOutcome(a)) return a
  const b = findLive(ctx, keyB)
  if (isOutcome(b)) return b
  return started(ctx, (out) => {
    const data = { callid: a.id, callid_b: b.id }
    out.event('Transferring')
    out.event('TransferStart', data)
    settle(out, a.join(legA, b, legB), () => out.event('TransferSuccessful', data))
    return () => undefined
  })
}
