/**
 * Reading call-api parameters by name: each reader returns the value or
 * throws ParamError (answered -32602 with its message). call-api spells
 * some names two ways (callidA / callid_a); both are accepted.
 */
import type { LegRole } from '../call'

export class ParamError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ParamError'
  }
}

export type Params = Record<string, unknown>

/** Longest string accepted in a parameter. */
export const MAX_PARAM_LENGTH = 1024

function pick(p: Params, names: readonly string[]): { name: string; value: unknown } | undefined {
  for (const name of names) if (p[name] !== undefined) return { name, value: p[name] }
  return undefined
}

function spell(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(' or ')
}

export function optionalString(p: Params, ...names: string[]): string | undefined {
  const found = pick(p, names)
  if (!found) return undefined
  if (typeof found.value !== 'string') throw new ParamError(`"${found.name}" must be a string, not ${describe(found.value)}`)
  if (found.value === '') throw new ParamError(`"${found.name}" must not be empty`)
  if (found.value.length > MAX_PARAM_LENGTH) throw new ParamError(`"${found.name}" is longer than ${MAX_PARAM_LENGTH} characters`)
  return found.value
}

export function requiredString(p: Params, ...names: string[]): string {
  const v = optionalString(p, ...names)
  if (v === undefined) throw new ParamError(`${spell(names)} is required`)
  return v
}

/** true/false, or the strings "true"/"false" (call-api's Go server took strings only). */
export function optionalBoolean(p: Params, name: string): boolean | undefined {
  const v = p[name]
  if (v === undefined) return undefined
  if (typeof v === 'boolean') return v
  if (v === 'true' || v === 'false') return v === 'true'
  throw new ParamError(`"${name}" must be true or false, not ${describe(v)}`)
}

const LEGS: Record<string, LegRole> = {
  caller: 'initiator',
  callee: 'destination',
  initiator: 'initiator',
  destination: 'destination',
}

export function optionalLeg(p: Params, ...names: string[]): LegRole | undefined {
  const v = optionalString(p, ...names)
  if (v === undefined) return undefined
  const leg = LEGS[v.toLowerCase()]
  if (!leg) throw new ParamError(`${spell(names)} must be "caller" or "callee", not "${v.slice(0, 40)}"`)
  return leg
}

export function requiredLeg(p: Params, ...names: string[]): LegRole {
  const leg = optionalLeg(p, ...names)
  if (leg === undefined) throw new ParamError(`${spell(names)} is required ("caller" or "callee")`)
  return leg
}

/** call-api's name of a leg. */
export function legName(leg: LegRole): 'caller' | 'callee' {
  return leg === 'initiator' ? 'caller' : 'callee'
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return `a ${typeof v}`
}
