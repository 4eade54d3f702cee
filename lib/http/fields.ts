/**
 * Reading the fields of a request (a JSON body or a query string) with
 * errors that say which field is wrong: a 400 problem with the field's
 * JSON pointer (`/ringTimeout`) or query parameter name.
 */
import type { LegRole } from '../call'
import { HttpProblem } from './problem'

/** sip:/sips: URI without spaces, controls or angle brackets */
const SIP_URI = /^sips?:[^\s<>"\u0000-\u001f\u007f]+$/i
const SETUP_ID = /^[A-Za-z0-9._:@-]{1,128}$/

export class Fields {
  constructor(
    private readonly values: Record<string, unknown>,
    /** 'body': errors name JSON pointers; 'query': parameter names */
    private readonly where: 'body' | 'query',
  ) {}

  private bad(name: string, message: string): HttpProblem {
    const at = this.where === 'body' ? { pointer: `/${name}` } : { parameter: name }
    return new HttpProblem(this.where === 'body' ? 'invalid-body' : 'bad-request', `${name}: ${message}`, { errors: [{ ...at, detail: message }] })
  }

  /** refuses fields not in `known` (a typo should not be silently ignored) */
  only(known: string[]): this {
    for (const k of Object.keys(this.values)) if (!known.includes(k)) throw this.bad(k, `unknown field; known: ${known.join(', ')}`)
    return this
  }

  string(name: string, o: { required?: boolean; max?: number; pattern?: RegExp; patternText?: string } = {}): string | undefined {
    const v = this.values[name]
    if (v === undefined || v === null || v === '') {
      if (o.required) throw this.bad(name, 'is required')
      return undefined
    }
    if (typeof v !== 'string') throw this.bad(name, 'must be a string')
    if (v.length > (o.max ?? 1024)) throw this.bad(name, `is longer than ${o.max ?? 1024} characters`)
    if (/[\u0000-\u001f\u007f]/.test(v)) throw this.bad(name, 'must not contain control characters')
    if (o.pattern && !o.pattern.test(v)) throw this.bad(name, o.patternText ?? 'has the wrong format')
    return v
  }

  boolean(name: string): boolean | undefined {
    const v = this.values[name]
    if (v === undefined || v === null || v === '') return undefined
    if (typeof v === 'boolean') return v
    if (this.where === 'query' && typeof v === 'string') {
      if (/^(true|1|yes)$/i.test(v)) return true
      if (/^(false|0|no)$/i.test(v)) return false
    }
    throw this.bad(name, 'must be true or false')
  }

  /** a whole number in [min, max] */
  integer(name: string, min: number, max: number): number | undefined {
    const v = this.values[name]
    if (v === undefined || v === null || v === '') return undefined
    const n = typeof v === 'number' ? v : this.where === 'query' && typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN
    if (!Number.isInteger(n) || n < min || n > max) throw this.bad(name, `must be a whole number from ${min} to ${max}`)
    return n
  }

  leg(name: string, required = false): LegRole | undefined {
    const v = this.string(name, { required, max: 16 })
    if (v === undefined) return undefined
    if (v !== 'initiator' && v !== 'destination') throw this.bad(name, 'must be "initiator" or "destination"')
    return v
  }

  setupId(name = 'setupId'): string | undefined {
    return this.string(name, { max: 128, pattern: SETUP_ID, patternText: '1 to 128 of A-Z a-z 0-9 . _ : @ -' })
  }

  sipUri(name: string): string | undefined {
    return this.string(name, { max: 256, pattern: SIP_URI, patternText: 'must be a SIP URI (sip:user@host)' })
  }
}

/** the query string as a plain object (first value of each name) */
export function queryObject(url: URL, skip: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of url.searchParams) if (!(k in out) && !skip.includes(k)) out[k] = v
  return out
}
